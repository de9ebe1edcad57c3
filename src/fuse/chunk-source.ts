/**
 * Where a mounted image's chunks come from today: the RAFS reader over the image's stored blobs
 * (readChunk decompresses and checks each digest). Concurrent reads of one chunk share a fetch,
 * and recently decoded chunks are kept, since the kernel reads a 1 MiB chunk in smaller pieces.
 */
import type { NydusImage } from "../nydus/image.js";
import { blobSet } from "../nydus/image.js";
import { readChunk, type RafsKernels } from "../rafs/read.js";
import type { RafsImage } from "../rafs/types.js";
import type { ChunkSource } from "./rafs-fs.js";

/** Decoded bytes kept for re-reads, by default. */
export const DECODED_CACHE_BYTES = 64 << 20;

export function nydusChunkSource(image: NydusImage, rafs: RafsImage, kernels: RafsKernels, cacheBytes = DECODED_CACHE_BYTES): ChunkSource {
  const blobs = blobSet(image, kernels);
  // A Map iterates in insertion order: re-inserting on use makes the first key the least recent.
  const decoded = new Map<string, Uint8Array>();
  const inFlight = new Map<string, Promise<Uint8Array>>();
  let held = 0;
  return (chunk, where) => {
    const key = `${chunk.blobIndex}:${chunk.compressedOffset}:${chunk.compressedSize}`;
    const hit = decoded.get(key);
    if (hit) {
      decoded.delete(key);
      decoded.set(key, hit);
      return Promise.resolve(hit);
    }
    let pending = inFlight.get(key);
    if (!pending) {
      pending = readChunk(rafs, chunk, blobs, kernels, where)
        .then((data) => {
          decoded.set(key, data);
          held += data.length;
          for (const [old, bytes] of decoded) {
            if (held <= cacheBytes) break;
            decoded.delete(old);
            held -= bytes.length;
          }
          return data;
        })
        .finally(() => inFlight.delete(key));
      inFlight.set(key, pending);
    }
    return pending;
  };
}
