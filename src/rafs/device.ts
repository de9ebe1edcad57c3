/**
 * The uncompressed "blob device" of a blob: every chunk decompressed, verified and laid at its
 * uncompressed offset, as EROFS addresses it through a bootstrap's device table (chunk index
 * blk_addr × 4096). erofs-utils (`fsck.erofs --device=`) and the kernel (`mount -o device=`)
 * read RAFS v6 images this way. Memory is one chunk: the device streams out.
 */
import { StrataError } from "../errors.js";
import type { Hasher } from "../kernels/kernel.js";
import type { NydusBlob } from "./blob-reader.js";
import { ChunkFlags, EROFS_BLOCK_SIZE } from "./layout.js";
import type { ChunkDecoder } from "./read.js";
import type { BlobInfo, ChunkInfo } from "./types.js";

/**
 * Streams the device image of `blob`: zero-filled gaps between chunks, each chunk's digest
 * checked before it is emitted, padded to the blob's uncompressed size. `chunks` are the blob's
 * chunk records (a bootstrap's, or `blobChunks` for all of them; any order, duplicates ok).
 * The zero-fill pieces are shared: copy a piece before changing it.
 */
export async function* blobDevice(blob: NydusBlob, info: BlobInfo, chunks: Iterable<ChunkInfo>, codec: ChunkDecoder, hasher: Hasher): AsyncGenerator<Uint8Array> {
  const byIndex = new Map<number, ChunkInfo>();
  for (const c of chunks) if (c.blobIndex === info.blobIndex) byIndex.set(c.index, c);
  const ordered = [...byIndex.values()].sort((a, b) => a.uncompressedOffset - b.uncompressedOffset);
  const fail = (c: ChunkInfo, what: string): never => {
    throw new StrataError("BAD_BLOB", `blob ${info.blobId}: chunk ${c.index} at uncompressed offset ${c.uncompressedOffset} ${what}`, { blobId: info.blobId, chunk: c.index, offset: c.uncompressedOffset });
  };
  let position = 0;
  for (const c of ordered) {
    if (c.uncompressedOffset % EROFS_BLOCK_SIZE !== 0) fail(c, "is not 4 KiB aligned");
    if (c.uncompressedOffset < position) fail(c, "overlaps the chunk before it");
    if (c.uncompressedOffset + c.uncompressedSize > info.uncompressedSize) fail(c, `ends past the blob's ${info.uncompressedSize} uncompressed bytes`);
    if (c.uncompressedOffset > position) yield* zeros(c.uncompressedOffset - position);
    const stored = await blob.readChunk(c);
    const data = c.flags & ChunkFlags.COMPRESSED ? codec.decompress(stored, c.uncompressedSize) : stored;
    if (data.length !== c.uncompressedSize) fail(c, `holds ${data.length} bytes, not ${c.uncompressedSize}`);
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
  if (info.uncompressedSize > position) yield* zeros(info.uncompressedSize - position);
}

/** Every chunk of a blob that carries a compression table and blob.digest (as strata and nydusify write them). */
export function blobChunks(blob: NydusBlob, info: BlobInfo): ChunkInfo[] {
  const { table, digests } = blob;
  if (!table || !digests || digests.length !== table.length * 32) {
    throw new StrataError("UNSUPPORTED", `blob ${info.blobId} has no compression table with chunk digests: its chunks come from a bootstrap`, { blobId: info.blobId });
  }
  return table.map((t, index) => ({
    digest: digests.subarray(index * 32, index * 32 + 32),
    blobIndex: info.blobIndex,
    flags: t.compressed ? ChunkFlags.COMPRESSED : 0,
    compressedOffset: t.compressedOffset,
    compressedSize: t.compressedSize,
    uncompressedOffset: t.uncompressedOffset,
    uncompressedSize: t.uncompressedSize,
    fileOffset: 0,
    index,
    crc32: 0,
  }));
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
