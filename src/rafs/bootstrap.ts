/**
 * Entry points for RAFS bootstraps of either version: `parseBootstrap` throws BAD_BOOTSTRAP on
 * the first problem, `verifyBootstrap` walks everything it can and lists every problem.
 */
import { type BootstrapProblem, Problems } from "./bootstrap-check.js";
import { readBootstrapV5 } from "./bootstrap-v5.js";
import { readBootstrapV6 } from "./bootstrap-v6.js";
import { V5, V6 } from "./layout.js";
import type { RafsImage } from "./types.js";

export type { BootstrapProblem } from "./bootstrap-check.js";
export { checkV5Digests, type DigestMismatch } from "./bootstrap-v5.js";

/** Which RAFS version the bytes claim to be, by magic; undefined for neither. */
export function bootstrapVersion(bytes: Uint8Array): 5 | 6 | undefined {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length >= V6.SUPERBLOCK_OFFSET + 4 && view.getUint32(V6.SUPERBLOCK_OFFSET, true) === V6.MAGIC) return 6;
  if (bytes.length >= 4 && view.getUint32(0, true) === V5.MAGIC) return 5;
  return undefined;
}

/** Parses a RAFS v5 or v6 bootstrap: BAD_BOOTSTRAP naming the first problem, UNSUPPORTED for tarfs images. */
export function parseBootstrap(bytes: Uint8Array): RafsImage {
  return read(bytes, new Problems(false))!;
}

/**
 * Every structural problem of a bootstrap, and the image when its superblocks are usable.
 * Throws only UNSUPPORTED (tarfs images), never for a malformed bootstrap.
 */
export function verifyBootstrap(bytes: Uint8Array): { image?: RafsImage; problems: BootstrapProblem[] } {
  const problems = new Problems(true);
  const image = read(bytes, problems);
  return { image, problems: problems.list };
}

function read(bytes: Uint8Array, problems: Problems): RafsImage | undefined {
  const version = bootstrapVersion(bytes);
  if (version === 6) return readBootstrapV6(bytes, problems);
  if (version === 5) return readBootstrapV5(bytes, problems);
  problems.add("not a RAFS bootstrap: neither the RAFS v5 nor the RAFS v6 (EROFS) magic", { offset: 0 });
  return undefined;
}
