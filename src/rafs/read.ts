/**
 * Reads file content out of a RAFS image: each chunk is fetched from its blob, decompressed with
 * the blob's codec and checked against its digest before any byte of it is returned.
 */
import { type ErrorCode, isStrataError, StrataError } from "../errors.js";
import type { ChunkCodec, Hasher } from "../kernels/kernel.js";
import { ChunkFlags, type CompressorName, type DigesterName } from "./layout.js";
import { walk } from "../fs/inode.js";
import type { NydusBlob } from "./blob-reader.js";
import type { BlobInfo, ChunkInfo, RafsImage, RafsInode } from "./types.js";

/** Codec failures that mean the stored bytes are not a valid encoding of the chunk. */
const CORRUPTION = new Set<ErrorCode>(["CORRUPT_DATA", "TRUNCATED", "CHECKSUM_MISMATCH", "TRAILING_DATA", "UNSUPPORTED"]);

/** The decompressing half of a ChunkCodec: all a reader needs. */
export type ChunkDecoder = Pick<ChunkCodec, "decompress">;

/** The hashers and chunk decoders the reader needs, supplied by the caller (wasm kernels). */
export interface RafsKernels {
  hasher(digester: DigesterName): Hasher;
  codec(compressor: CompressorName): ChunkDecoder;
}

/** The opened blobs of an image, by blob id (or a function that opens them on demand). */
export type BlobSet = ReadonlyMap<string, NydusBlob> | ((blob: BlobInfo) => NydusBlob | Promise<NydusBlob>);

/** The inode at `path` ("/a/b"), without following symlinks; NOT_FOUND if absent. */
export function lookup(image: RafsImage, path: string): RafsInode {
  let node = image.root;
  for (const name of path.split("/")) {
    if (name === "") continue;
    const next = node.entries?.get(name);
    if (!next) throw new StrataError("NOT_FOUND", `no ${path} in the RAFS image`, { path });
    node = next;
  }
  return node;
}

/** Files larger than this are only readable as streams (one typed array cannot hold them everywhere). */
export const MAX_IN_MEMORY_FILE = 1 << 30;
/** Holes (v5 sparse files) are streamed as zero blocks of at most this size. */
const HOLE_PIECE = 1 << 20;

/** The whole content of the regular file at `path`, every chunk verified. */
export async function readFile(image: RafsImage, path: string, blobs: BlobSet, kernels: RafsKernels): Promise<Uint8Array> {
  const inode = regularFile(image, path);
  if (inode.size > MAX_IN_MEMORY_FILE) {
    throw new StrataError("OUTPUT_LIMIT", `${path} has ${inode.size} bytes, more than readFile holds (${MAX_IN_MEMORY_FILE}); use readFileStream`, {
      path,
      size: inode.size,
    });
  }
  const out = new Uint8Array(inode.size);
  const chunks = inode.chunks ?? [];
  for (let i = 0; i < chunks.length; i++) {
    const chunk = chunks[i]!;
    // Chunks may be missing (v5 holes): those ranges stay zero.
    out.set(await readChunk(image, chunk, blobs, kernels, { path, chunk: i }), chunk.fileOffset);
  }
  return out;
}

/** The content of the regular file at `path` as a stream of verified chunks (and zeroed holes). */
export function readFileStream(image: RafsImage, path: string, blobs: BlobSet, kernels: RafsKernels): ReadableStream<Uint8Array> {
  const inode = regularFile(image, path);
  const chunks = inode.chunks ?? [];
  let next = 0;
  let position = 0;
  return new ReadableStream({
    async pull(controller) {
      const chunk = chunks[next];
      const holeEnd = chunk ? chunk.fileOffset : inode.size;
      if (position < holeEnd) {
        const size = Math.min(holeEnd - position, HOLE_PIECE);
        controller.enqueue(new Uint8Array(size));
        position += size;
        return;
      }
      if (!chunk) {
        controller.close();
        return;
      }
      const data = await readChunk(image, chunk, blobs, kernels, { path, chunk: next });
      controller.enqueue(data);
      position = chunk.fileOffset + data.length;
      next++;
    },
  });
}

function regularFile(image: RafsImage, path: string): RafsInode {
  const inode = lookup(image, path);
  if (!inode.chunks) throw new StrataError("INVALID_ARGUMENT", `${path} is not a regular file`, { path });
  let end = 0;
  for (const [i, c] of inode.chunks.entries()) {
    if (c.fileOffset < end || c.fileOffset + c.uncompressedSize > inode.size) {
      throw new StrataError("BAD_BOOTSTRAP", `${path}: chunk ${i} at file offset ${c.fileOffset} overlaps or runs past the file`, { path, chunk: i });
    }
    end = c.fileOffset + c.uncompressedSize;
  }
  return inode;
}

/**
 * One chunk, decompressed and verified: DIGEST_MISMATCH names the file, chunk, blob and offset.
 * The result is a fresh array the caller owns.
 */
export async function readChunk(
  image: RafsImage,
  chunk: ChunkInfo,
  blobs: BlobSet,
  kernels: RafsKernels,
  where: { path: string; chunk: number },
): Promise<Uint8Array> {
  const info = image.blobs[chunk.blobIndex];
  if (!info) throw new StrataError("BAD_BOOTSTRAP", `${where.path}: chunk ${where.chunk} names blob ${chunk.blobIndex}, not in the blob table`, { ...where });
  const details = { ...where, blobId: info.blobId, offset: chunk.compressedOffset };
  refuseUnsupported(info, chunk, where);
  const blob = typeof blobs === "function" ? await blobs(info) : blobs.get(info.blobId);
  if (!blob) throw new StrataError("NOT_FOUND", `blob ${info.blobId} (needed by ${where.path}) was not supplied`, details);
  return decodeChunk(info, chunk, await blob.readChunk(chunk), kernels, where);
}

/**
 * A chunk's stored bytes, decompressed with its blob's codec and checked against its digest
 * (for readers that fetch stored bytes their own way, such as src/lazy). The result is a fresh
 * array the caller owns.
 */
export function decodeChunk(info: BlobInfo, chunk: ChunkInfo, stored: Uint8Array, kernels: RafsKernels, where: { path: string; chunk: number }): Uint8Array {
  const details = { ...where, blobId: info.blobId, offset: chunk.compressedOffset };
  refuseUnsupported(info, chunk, where);
  let data: Uint8Array;
  if (chunk.flags & ChunkFlags.COMPRESSED) {
    // v5 blob entries inherit the image compressor; v6 entries name their own.
    const compressor = info.compressor;
    if (compressor === "gzip") throw new StrataError("UNSUPPORTED", `${where.path}: gzip chunks (blob ${info.blobId}) are not supported`, details);
    const codec = kernels.codec(compressor);
    try {
      data = codec.decompress(stored, chunk.uncompressedSize).slice();
    } catch (e) {
      // Bytes that do not decode are content that does not match the chunk's digest (a flipped
      // frame-header bit can even look like an unsupported feature).
      if (isStrataError(e) && !CORRUPTION.has(e.code)) throw e;
      throw new StrataError(
        "DIGEST_MISMATCH",
        `${where.path}: chunk ${where.chunk} of blob ${info.blobId} at offset ${chunk.compressedOffset} does not decompress: ${(e as Error).message}`,
        { ...details, decodeError: isStrataError(e) ? e.code : String(e) },
        { cause: e },
      );
    }
  } else {
    if (stored.length !== chunk.uncompressedSize) {
      throw new StrataError("BAD_BOOTSTRAP", `${where.path}: uncompressed chunk ${where.chunk} has ${stored.length} stored bytes for ${chunk.uncompressedSize}`, details);
    }
    data = stored.slice();
  }

  // v5 blob entries inherit the image digester; v6 entries name their own.
  const digest = kernels.hasher(info.digester).digest(data);
  if (!sameBytes(digest, chunk.digest)) {
    throw new StrataError(
      "DIGEST_MISMATCH",
      `${where.path}: chunk ${where.chunk} of blob ${info.blobId} at offset ${chunk.compressedOffset} does not match its ${info.digester} digest`,
      details,
    );
  }
  return data;
}

/** UNSUPPORTED for encrypted and batched chunks, before any of their bytes are fetched. */
function refuseUnsupported(info: BlobInfo, chunk: ChunkInfo, where: { path: string; chunk: number }): void {
  if (chunk.flags & (ChunkFlags.ENCRYPTED | ChunkFlags.BATCH) || info.cipherAlgorithm) {
    throw new StrataError("UNSUPPORTED", `${where.path}: chunk ${where.chunk} is encrypted or batched`, { ...where, blobId: info.blobId, offset: chunk.compressedOffset });
  }
}

/** A chunk that failed verification, and the first file that holds it. */
export interface ChunkProblem {
  path: string;
  chunk: number;
  blobId: string;
  offset: number;
  code: ErrorCode;
  message: string;
}

/**
 * Reads and verifies every distinct chunk of the image once (shared chunks are checked for the
 * first file holding them) and lists every failure instead of stopping at the first.
 */
export async function verifyChunks(image: RafsImage, blobs: BlobSet, kernels: RafsKernels): Promise<ChunkProblem[]> {
  const problems: ChunkProblem[] = [];
  const checked = new Set<string>();
  for (const [path, node] of walk(image.root)) {
    const chunks = (node as RafsInode).chunks ?? [];
    for (const [i, chunk] of chunks.entries()) {
      const key = `${chunk.blobIndex}/${chunk.index}/${chunk.compressedOffset}`;
      if (checked.has(key)) continue;
      checked.add(key);
      try {
        await readChunk(image, chunk, blobs, kernels, { path, chunk: i });
      } catch (e) {
        if (!isStrataError(e)) throw e;
        const blobId = image.blobs[chunk.blobIndex]?.blobId ?? "";
        problems.push({ path, chunk: i, blobId, offset: chunk.compressedOffset, code: e.code, message: e.message });
      }
    }
  }
  return problems;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
