/** Helpers the command files share. */
import { StrataError } from "../../errors.js";
import type { CliContext } from "../main.js";

/** The file ports, or UNSUPPORTED on runtimes without local files. */
export function needFiles(ctx: CliContext) {
  const { files, output } = ctx.ports;
  if (!files || !output) throw new StrataError("UNSUPPORTED", "this runtime has no local files for image layouts");
  return { files, output };
}

export function mib(bytes: number): string {
  return `${(bytes / 1048576).toFixed(2)} MiB`;
}
