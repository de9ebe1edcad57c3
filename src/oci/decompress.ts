/**
 * Layer decompression: the compression is read from the blob's first bytes (media types can lie),
 * and the decompressor comes from the kernels the OCI sources use (SHA-256, gzip, zstd).
 * kernelsFor(ports) binds strata's wasm kernels; a runtime may hand in others of the same shape.
 */
import type { ByteTransform, Hasher } from "../kernels/kernel.js";
import { toTransformStream } from "../kernels/stream.js";
import type { Compression } from "./types.js";

/** The part of a Hasher the sources use: init() restarts it, so one instance serves many files. */
export type StreamingSha256 = Pick<Hasher, "init" | "update" | "final">;

export interface OciKernels {
  sha256(): Promise<StreamingSha256>;
  inflate(options: { format: "gzip"; maxOutput?: number }): Promise<ByteTransform>;
  zstd(options: { maxOutput?: number }): Promise<ByteTransform>;
}

/** A stream decompressing `compression` (identity for "none"). */
export async function decompressor(kernels: OciKernels, compression: Compression, maxOutput?: number): Promise<TransformStream<Uint8Array, Uint8Array>> {
  switch (compression) {
    case "none":
      return new TransformStream();
    case "gzip":
      return toTransformStream(await kernels.inflate({ format: "gzip", maxOutput }));
    case "zstd":
      return toTransformStream(await kernels.zstd({ maxOutput }));
  }
}

/** The compression the first bytes announce: gzip 1f 8b, zstd frame 28 b5 2f fd, else none. */
export function sniffCompression(head: Uint8Array): Compression {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return "gzip";
  if (head.length >= 4 && head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd) return "zstd";
  return "none";
}

/** The compression a layer media type names (undefined for types that are not layers we know). */
export function mediaTypeCompression(mediaType: string): Compression | undefined {
  if (/\.tar$|rootfs\.diff\.tar$/.test(mediaType)) return "none";
  if (/tar\+gzip$|tar\.gzip$/.test(mediaType)) return "gzip";
  if (/tar\+zstd$|tar\.zstd$/.test(mediaType)) return "zstd";
  return undefined;
}
