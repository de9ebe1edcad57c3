/**
 * Opens a Nydus data blob. Blobs built with `--features blob-toc` end with a ToC (a 512-byte tar
 * header named "rafs.blob.toc" as the last bytes, preceded by 128-byte entries) that locates the
 * compression table (blob.meta + its 4 KiB header), the chunk digests (blob.digest) and perhaps
 * the bootstrap (image.boot). Older blobs have no ToC: their chunks are found through the
 * bootstrap's chunk records alone.
 */
import { isStrataError, StrataError } from "../errors.js";
import type { RandomAccessSource } from "../tar/bytes.js";
import type { ChunkCodec, Hasher } from "../kernels/kernel.js";
import { BLOB_META_HEADER_SIZE, BLOB_META_MAGIC, BlobFeatures, BlobSection, CHUNK_INFO_V1_SIZE, CHUNK_INFO_V2_SIZE, type CompressorName, TAR_HEADER_SIZE, TOC_ENTRY_SIZE, TocFlags } from "./layout.js";
import type { BlobInfo, ChunkInfo } from "./types.js";

/** Bytes of a blob read at any offset (a FilesPort handle, an HTTP range reader...). */
export type BlobBytes = RandomAccessSource;

/** One ToC entry: a named section of the blob. */
export interface TocEntry {
  name: string;
  compressor: "none" | "zstd" | "lz4_block";
  /** SHA-256 of the uncompressed section. */
  digest: Uint8Array;
  compressedOffset: number;
  compressedSize: number;
  uncompressedSize: number;
}

/** One entry of the blob's compression table (chunk_info v1 or v2). */
export interface BlobChunk {
  compressedOffset: number;
  compressedSize: number;
  uncompressedOffset: number;
  uncompressedSize: number;
  compressed: boolean;
}

/** What `openBlob` needs besides the bytes; all optional. */
export interface BlobOpenOptions {
  /** The bootstrap's entry for this blob: its id names errors, its sizes are cross-checked. */
  info?: BlobInfo;
  /** Decompresses ToC sections stored zstd or lz4_block. */
  codec?: (compressor: CompressorName) => Pick<ChunkCodec, "decompress">;
  /** When given, section digests from the ToC are verified as sections are read. */
  sha256?: Hasher;
}

export interface NydusBlob {
  readonly id: string;
  readonly size: number;
  /** The ToC entries, or undefined for a blob without ToC. */
  readonly toc?: readonly TocEntry[];
  /** The compression table, when the blob carries one. */
  readonly table?: readonly BlobChunk[];
  /** blob.digest: digestSize bytes per chunk in table order, when present. */
  readonly digests?: Uint8Array;
  /** A section named in the ToC, decompressed (and digest-checked when a hasher was given). */
  section(name: string): Promise<Uint8Array | undefined>;
  /** The stored (possibly compressed) bytes of a chunk, checked against the compression table. */
  readChunk(chunk: ChunkInfo): Promise<Uint8Array>;
}

/** A blob held in memory, as BlobBytes. */
export function bytesSource(bytes: Uint8Array): BlobBytes {
  return {
    size: bytes.length,
    read: async (offset, length) => bytes.subarray(offset, offset + length),
  };
}

export async function openBlob(bytes: BlobBytes, options: BlobOpenOptions = {}): Promise<NydusBlob> {
  const id = options.info?.blobId ?? "(blob)";
  const fail = (message: string, details: Record<string, unknown> = {}): never => {
    throw new StrataError("BAD_BLOB", `blob ${id}: ${message}`, { blobId: id, ...details });
  };
  const read = async (offset: number, length: number): Promise<Uint8Array> => {
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > bytes.size) {
      fail(`range [${offset}, +${length}) is outside the blob of ${bytes.size} bytes`, { offset, length });
    }
    const data = await bytes.read(offset, length);
    if (data.length !== length) fail(`short read at ${offset}: ${data.length} of ${length} bytes`, { offset });
    return data;
  };

  /** Decompresses blob metadata; bytes that do not decode make the blob malformed. */
  const decompress = (compressor: CompressorName, data: Uint8Array, size: number, what: string): Uint8Array => {
    if (!options.codec) fail(`${what} is ${compressor}-compressed and no codec was given`);
    const codec = options.codec!(compressor);
    try {
      return codec.decompress(data, size).slice();
    } catch (e) {
      if (isStrataError(e) && !["CORRUPT_DATA", "TRUNCATED", "CHECKSUM_MISMATCH", "TRAILING_DATA"].includes(e.code)) throw e;
      return fail(`${what} does not decompress: ${(e as Error).message}`);
    }
  };

  const toc = await readToc(bytes.size, read, fail);
  if (toc) await checkTocDigest(bytes.size, toc.length, read, options, id);
  const sections = new Map(toc?.map((e) => [e.name, e]));

  const section = async (name: string): Promise<Uint8Array | undefined> => {
    const entry = sections.get(name);
    if (!entry) return undefined;
    const stored = await read(entry.compressedOffset, entry.compressedSize);
    let data = stored;
    if (entry.compressor !== "none") {
      data = decompress(entry.compressor, stored, entry.uncompressedSize, `section ${name}`);
    } else if (stored.length !== entry.uncompressedSize) {
      fail(`section ${name} stored size ${stored.length} differs from its size ${entry.uncompressedSize}`);
    }
    if (options.sha256 && !equal(options.sha256.digest(data), entry.digest)) {
      throw new StrataError("DIGEST_MISMATCH", `blob ${id}: section ${name} does not match its ToC digest`, { blobId: id, section: name, offset: entry.compressedOffset });
    }
    return data;
  };

  const table = await readCompressionTable(section, read, bytes.size, options.info, decompress, fail);
  const digestBytes = await section(BlobSection.DIGEST);
  if (digestBytes && table && digestBytes.length !== table.length * 32) {
    fail(`blob.digest holds ${digestBytes.length} bytes for ${table.length} chunks`);
  }
  // Chunk data starts at 0 and is as long as the ToC's image.blob section says.
  const dataEnd = sections.get(BlobSection.DATA)?.compressedSize ?? bytes.size;

  return {
    id,
    size: bytes.size,
    toc,
    table,
    digests: digestBytes,
    section,
    async readChunk(chunk: ChunkInfo): Promise<Uint8Array> {
      const where = { chunk: chunk.index, offset: chunk.compressedOffset };
      if (table) {
        const entry = table[chunk.index];
        if (!entry) fail(`chunk index ${chunk.index} is beyond the compression table of ${table.length}`, where);
        if (entry!.compressedOffset !== chunk.compressedOffset || entry!.compressedSize !== chunk.compressedSize || entry!.uncompressedSize !== chunk.uncompressedSize) {
          fail(`chunk ${chunk.index} disagrees with the compression table`, where);
        }
      }
      if (digestBytes) {
        const stored = digestBytes.subarray(chunk.index * 32, chunk.index * 32 + 32);
        if (stored.length !== 32 || !equal(stored, chunk.digest)) fail(`chunk ${chunk.index} digest differs from the blob's blob.digest`, where);
      }
      if (chunk.compressedOffset + chunk.compressedSize > dataEnd) fail(`chunk ${chunk.index} runs past the chunk data (${dataEnd} bytes)`, where);
      return read(chunk.compressedOffset, chunk.compressedSize);
    },
  };
}

type Read = (offset: number, length: number) => Promise<Uint8Array>;

/** The bootstrap records the ToC's size and the SHA-256 of the ToC with its tar header. */
async function checkTocDigest(size: number, entries: number, read: Read, options: BlobOpenOptions, id: string): Promise<void> {
  const meta = options.info?.meta;
  if (!meta || meta.tocSize === 0) return;
  const tocSize = entries * TOC_ENTRY_SIZE + TAR_HEADER_SIZE;
  if (meta.tocSize !== tocSize) {
    throw new StrataError("BAD_BLOB", `blob ${id}: ToC is ${tocSize} bytes, the bootstrap says ${meta.tocSize}`, { blobId: id, offset: size - tocSize });
  }
  if (!options.sha256 || !meta.tocDigest || meta.tocDigest.every((b) => b === 0)) return;
  if (!equal(options.sha256.digest(await read(size - tocSize, tocSize)), meta.tocDigest)) {
    throw new StrataError("DIGEST_MISMATCH", `blob ${id}: ToC does not match the digest in the bootstrap`, { blobId: id, offset: size - tocSize });
  }
}
type Fail = (message: string, details?: Record<string, unknown>) => never;

const ascii = new TextDecoder("latin1");

/** Reads the ToC if the last 512 bytes are its tar header; undefined for blobs without one. */
async function readToc(size: number, read: Read, fail: Fail): Promise<TocEntry[] | undefined> {
  if (size < TAR_HEADER_SIZE) return undefined;
  const header = await read(size - TAR_HEADER_SIZE, TAR_HEADER_SIZE);
  const tar = parseTarHeader(header);
  if (!tar || tar.name !== BlobSection.TOC) return undefined;
  const tocSize = tar.size;
  if (tocSize % TOC_ENTRY_SIZE !== 0 || tocSize + TAR_HEADER_SIZE > size) fail(`ToC size ${tocSize} is invalid`, { offset: size - TAR_HEADER_SIZE });
  const start = size - TAR_HEADER_SIZE - tocSize;
  const raw = await read(start, tocSize);
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const entries: TocEntry[] = [];
  for (let off = 0; off < tocSize; off += TOC_ENTRY_SIZE) {
    const flags = view.getUint32(off, true);
    const compressor = flags === TocFlags.NONE ? "none" : flags === TocFlags.ZSTD ? "zstd" : flags === TocFlags.LZ4_BLOCK ? "lz4_block" : undefined;
    if (!compressor) fail(`ToC entry ${off / TOC_ENTRY_SIZE} has unknown flags 0x${flags.toString(16)}`, { offset: start + off });
    const nameBytes = raw.subarray(off + 8, off + 24);
    const nul = nameBytes.indexOf(0);
    const entry: TocEntry = {
      name: ascii.decode(nul < 0 ? nameBytes : nameBytes.subarray(0, nul)),
      compressor: compressor!,
      digest: raw.slice(off + 24, off + 56),
      compressedOffset: u64(view, off + 56),
      compressedSize: u64(view, off + 64),
      uncompressedSize: u64(view, off + 72),
    };
    // Real blobs record image.blob's offset as equal to its size (the data starts at 0): only the
    // other sections are located by their offset.
    const end = entry.name === BlobSection.DATA ? entry.compressedSize : entry.compressedOffset + entry.compressedSize;
    if (end > size) fail(`ToC section ${entry.name} lies outside the blob`, { offset: start + off });
    entries.push(entry);
  }
  return entries;
}

/** Name and size of a ustar/GNU header with a valid checksum, else undefined. */
function parseTarHeader(h: Uint8Array): { name: string; size: number } | undefined {
  const stored = octal(h.subarray(148, 156));
  let sum = 0;
  for (let i = 0; i < TAR_HEADER_SIZE; i++) sum += i >= 148 && i < 156 ? 0x20 : h[i]!;
  if (stored === undefined || stored !== sum) return undefined;
  const type = h[156];
  if (type !== 0x30 && type !== 0) return undefined;
  const nul = h.subarray(0, 100).indexOf(0);
  const size = octal(h.subarray(124, 136));
  if (size === undefined) return undefined;
  return { name: ascii.decode(h.subarray(0, nul < 0 ? 100 : nul)), size };
}

function octal(field: Uint8Array): number | undefined {
  let n = 0;
  let digits = 0;
  for (const c of field) {
    if (c === 0 || c === 0x20) {
      if (digits > 0) break;
      continue;
    }
    if (c < 0x30 || c > 0x37) return undefined;
    n = n * 8 + (c - 0x30);
    digits++;
  }
  return digits > 0 ? n : undefined;
}

/**
 * The compression table: from the ToC's blob.meta and blob.meta.header sections, or for blobs
 * without ToC from the bootstrap's ci_offset (table followed by its header).
 */
async function readCompressionTable(
  section: (name: string) => Promise<Uint8Array | undefined>,
  read: Read,
  size: number,
  info: BlobInfo | undefined,
  decompress: (compressor: CompressorName, data: Uint8Array, size: number, what: string) => Uint8Array,
  fail: Fail,
): Promise<BlobChunk[] | undefined> {
  let table = await section(BlobSection.META);
  let header = await section(BlobSection.META_HEADER);
  const meta = info?.meta;
  if (!table && meta && meta.compressedSize > 0 && meta.offset + meta.compressedSize + BLOB_META_HEADER_SIZE <= size) {
    header = await read(meta.offset + meta.compressedSize, BLOB_META_HEADER_SIZE);
    if (new DataView(header.buffer, header.byteOffset, 4).getUint32(0, true) !== BLOB_META_MAGIC) return undefined;
    table = await read(meta.offset, meta.compressedSize);
  }
  if (!table || !header) return undefined;
  if (header.length !== BLOB_META_HEADER_SIZE) fail(`compression-table header is ${header.length} bytes`);
  const h = new DataView(header.buffer, header.byteOffset, header.byteLength);
  if (h.getUint32(0, true) !== BLOB_META_MAGIC || h.getUint32(BLOB_META_HEADER_SIZE - 4, true) !== BLOB_META_MAGIC) {
    fail("compression-table header has a bad magic");
  }
  const features = h.getUint32(4, true);
  const ciCompressor = h.getUint32(8, true);
  const count = h.getUint32(12, true);
  const uncompressedSize = u64(h, 32);
  const entrySize = features & BlobFeatures.CHUNK_INFO_V2 ? CHUNK_INFO_V2_SIZE : CHUNK_INFO_V1_SIZE;
  if (ciCompressor !== 0 && table.length !== uncompressedSize) {
    // The table itself is compressed (ci_compressor); the ToC entry was stored raw.
    const name: CompressorName | undefined = ciCompressor === 1 ? "lz4_block" : ciCompressor === 3 ? "zstd" : undefined;
    if (!name) fail(`compression table compressor ${ciCompressor} is unknown`);
    table = decompress(name!, table, uncompressedSize, "compression table");
  }
  if (count * entrySize > table.length) fail(`compression table holds ${table.length} bytes for ${count} entries of ${entrySize}`);
  if (features & (BlobFeatures.ZRAN | BlobFeatures.BATCH | BlobFeatures.ENCRYPTED)) {
    throw new StrataError("UNSUPPORTED", `blob ${info?.blobId ?? ""}: zran, batch and encrypted blobs are not supported`, { features });
  }
  const v = new DataView(table.buffer, table.byteOffset, table.byteLength);
  const chunks: BlobChunk[] = [];
  for (let i = 0; i < count; i++) chunks.push(entrySize === CHUNK_INFO_V1_SIZE ? chunkV1(v, i * entrySize) : chunkV2(v, i * entrySize));
  return chunks;
}

/** chunk_info v1: uncompressed word (offset bits 12–43, size−1 split 20+4 bits), compressed word. */
function chunkV1(v: DataView, off: number): BlobChunk {
  const uLo = v.getUint32(off, true);
  const uHi = v.getUint32(off + 4, true);
  const cLo = v.getUint32(off + 8, true);
  const cHi = v.getUint32(off + 12, true);
  const uncompressedSize = ((((uLo >>> 8) & 0xf) << 20) | (uHi >>> 12)) + 1;
  const compressedSize = ((((cHi >>> 8) & 0xf) << 20) | (cHi >>> 12)) + 1;
  return {
    uncompressedOffset: ((uLo & 0xffff_f000) >>> 0) + (uHi & 0xfff) * 0x1_0000_0000,
    uncompressedSize,
    compressedOffset: cLo + (cHi & 0xff) * 0x1_0000_0000,
    compressedSize,
    compressed: compressedSize !== uncompressedSize,
  };
}

/** chunk_info v2: uncompressed offset/4096 (32 bits), size−1 (24), flags (8); compressed offset (40), size (24). */
function chunkV2(v: DataView, off: number): BlobChunk {
  const uLo = v.getUint32(off, true);
  const uHi = v.getUint32(off + 4, true);
  const cLo = v.getUint32(off + 8, true);
  const cHi = v.getUint32(off + 12, true);
  return {
    uncompressedOffset: uLo * 4096,
    uncompressedSize: (uHi & 0xff_ffff) + 1,
    compressedOffset: cLo + (cHi & 0xff) * 0x1_0000_0000,
    compressedSize: cHi >>> 8,
    compressed: (uHi >>> 24) & 1 ? true : false,
  };
}

function u64(v: DataView, off: number): number {
  const hi = v.getUint32(off + 4, true);
  return hi >= 0x20_0000 ? Infinity : hi * 0x1_0000_0000 + v.getUint32(off, true);
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
