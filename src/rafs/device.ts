/**
 * The uncompressed "blob device" of a blob: every chunk decompressed, verified and laid at its
 * uncompressed offset, as EROFS addresses it through a bootstrap's device table. erofs-utils
 * (`fsck.erofs --device=`) and the kernel (`mount -o device=`) read RAFS v6 images this way.
 */
import { StrataError } from "../errors.js";
import type { NydusBlob } from "./blob-reader.js";
import type { ChunkDecoder } from "./read.js";
import type { Hasher } from "../kernels/kernel.js";
import type { BlobInfo, ChunkInfo } from "./types.js";

/**
 * Streams the device image of `blob`: zero-filled gaps between chunks, each chunk's digest
 * checked before it is emitted. `chunks` are the blob's chunk records (any order, duplicates ok).
 */
export async function* blobDevice(blob: NydusBlob, info: BlobInfo, chunks: Iterable<ChunkInfo>, codec: ChunkDecoder, hasher: Hasher): AsyncGenerator<Uint8Array> {
  const byIndex = new Map<number, ChunkInfo>();
  for (const c of chunks) if (c.blobIndex === info.blobIndex) byIndex.set(c.index, c);
  const ordered = [...byIndex.values()].sort((a, b) => a.uncompressedOffset - b.uncompressedOffset);
  let position = 0;
  for (const c of ordered) {
    if (c.uncompressedOffset < position) throw new StrataError("BAD_BLOB", `blob ${info.blobId}: chunk ${c.index} overlaps the chunk before it`, { blobId: info.blobId, chunk: c.index });
    if (c.uncompressedOffset > position) yield* zeros(c.uncompressedOffset - position);
    const stored = await blob.readChunk(c);
    const data = c.compressedSize === c.uncompressedSize && (c.flags & 1) === 0 ? stored : codec.decompress(stored, c.uncompressedSize);
    if (!equal(hasher.digest(data), c.digest)) {
      throw new StrataError("DIGEST_MISMATCH", `blob ${info.blobId}: chunk ${c.index} at offset ${c.compressedOffset} does not match its digest`, {
        blobId: info.blobId,
        chunk: c.index,
        offset: c.compressedOffset,
      });
    }
    yield data.slice();
    position = c.uncompressedOffset + c.uncompressedSize;
  }
  const end = Math.max(position, Math.ceil(info.uncompressedSize / 4096) * 4096);
  if (end > position) yield* zeros(end - position);
}

function* zeros(n: number): Generator<Uint8Array> {
  const block = new Uint8Array(Math.min(n, 1 << 20));
  for (let left = n; left > 0; left -= block.length) yield left >= block.length ? block : block.subarray(0, left);
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
