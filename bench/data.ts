// Inputs shared by the benches: random buffers, equal pieces of them, and the real corpus layer.
import { webcrypto } from "node:crypto";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";

export const MiB = 1 << 20;

const CORPUS = process.env.STRATA_CORPUS ?? "/tmp/corpus";

export function randomBuffer(size: number): Uint8Array {
  const data = new Uint8Array(size);
  for (let at = 0; at < size; at += 65536) webcrypto.getRandomValues(data.subarray(at, at + 65536));
  return data;
}

/** Pieces of `size` bytes covering `data`. */
export function pieces(data: Uint8Array, size: number): Uint8Array[] {
  return Array.from({ length: data.length / size }, (_, i) => data.subarray(i * size, (i + 1) * size));
}

/** The first `bytes` of the corpus base image's layer tar, or undefined without the corpus. */
export function baseLayerTar(bytes: number): Uint8Array | undefined {
  const blobs = join(CORPUS, "images/base/blobs/sha256");
  if (!existsSync(blobs)) return undefined;
  const largest = readdirSync(blobs)
    .map((f) => join(blobs, f))
    .sort((a, b) => statSync(b).size - statSync(a).size)[0];
  if (!largest) return undefined;
  const tar = gunzipSync(readFileSync(largest));
  return tar.length >= bytes ? new Uint8Array(tar.buffer, tar.byteOffset, bytes) : undefined;
}
