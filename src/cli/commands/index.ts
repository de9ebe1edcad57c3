/**
 * The commands of the `strata` CLI, runtime-free: each runtime's entry point binds ports and
 * streams. One file per command; register it here.
 */
import type { Command } from "../main.js";
import { cacheCommand } from "./cache.js";
import { catCommand } from "./cat.js";
import { convertCommand } from "./convert.js";
import { copyCommand } from "./copy.js";
import { dedupCommand } from "./dedup.js";
import { diffCommand } from "./diff.js";
import { exportCommand } from "./export.js";
import { exportBlobDeviceCommand } from "./export-blob-device.js";
import { inspectCommand } from "./inspect.js";
import { mountCommand } from "./mount.js";
import { umountCommand } from "./umount.js";
import { unpackCommand } from "./unpack.js";
import { verifyCommand } from "./verify.js";

export const commands: Record<string, Command> = {
  cache: cacheCommand,
  cat: catCommand,
  convert: convertCommand,
  copy: copyCommand,
  dedup: dedupCommand,
  diff: diffCommand,
  export: exportCommand,
  "export-blob-device": exportBlobDeviceCommand,
  inspect: inspectCommand,
  mount: mountCommand,
  umount: umountCommand,
  unpack: unpackCommand,
  verify: verifyCommand,
};
