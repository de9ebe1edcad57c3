/**
 * Writes a Nydus data blob as nydusify's `--blob-inline-meta --features blob-toc` does: chunk data,
 * then blob.meta (the compression table and its 4 KiB header), then blob.digest (one digest per
 * chunk), each section followed by a 512-byte tar header, and last the ToC with its own tar
 * header. Bytes stream out through the sink as they are produced; only the per-chunk table
 * (48 bytes a chunk) is held. The blob id is the sha256 of everything written: computed here when
 * an `idSha256` stream is given, else by whoever stores (and so already hashes) the bytes.
 * docs/FORMAT.md shows the layout byte by byte.
 */
import { StrataError } from "../errors.js";
import type { Hasher } from "../kernels/kernel.js";
import type { StreamingSha256 } from "../kernels/sha256.js";
import {
  BLOB_META_HEADER_SIZE,
  BLOB_META_MAGIC,
  BlobFeatures,
  BlobSection,
  ChunkFlags,
  CHUNK_INFO_V1_SIZE,
  CHUNK_SIZE_MAX,
  CHUNK_SIZE_MIN,
  EROFS_BLOCK_SIZE,
  MAX_CHUNKS_PER_BLOB,
  TAR_HEADER_SIZE,
  TOC_ENTRY_SIZE,
  TocFlags,
  type CompressorName,
  type DigesterName,
} from "./layout.js";
import type { BlobInfo, ChunkInfo } from "./types.js";

/** The features of every blob strata writes (as nydusify's blobs: 0x70000021). */
export const BLOB_FEATURES = BlobFeatures.ALIGNED | BlobFeatures.INLINED_CHUNK_DIGEST | BlobFeatures.HAS_TAR_HEADER | BlobFeatures.HAS_TOC | BlobFeatures.CAP_TAR_TOC;

export interface BlobWriterOptions {
  blobIndex: number;
  chunkSize: number;
  compressor: CompressorName;
  digester: DigesterName;
  /** SHA-256 for the ToC's small sections; its own stream covers the chunk data unless `dataSha256` is given. */
  sha256: Hasher;
  /** The stream for the image.blob digest (all chunk data): createStreamingSha256 uses the runtime's native SHA-256. */
  dataSha256?: StreamingSha256;
  /** When given, finish() returns the blob id: this stream sees every byte written. */
  idSha256?: StreamingSha256;
  /** Receives the blob's bytes in order; a view may be reused once the returned promise settles. */
  sink: (bytes: Uint8Array) => void | Promise<void>;
}

export interface NewChunk {
  digest: Uint8Array;
  uncompressedSize: number;
  /** The stored bytes: compressed when `compressed`, else the raw chunk. */
  data: Uint8Array;
  compressed: boolean;
}

const MAX_SIZE_FIELD = 1 << 24; // v1 table entries hold size − 1 in 24 bits
const MAX_COMPRESSED_OFFSET = 2 ** 40;
const MAX_UNCOMPRESSED_OFFSET = 2 ** 44;

export class BlobWriter {
  private readonly table = new GrowableBytes();
  private readonly digests = new GrowableBytes();
  private chunks = 0;
  private written = 0;
  private compressedOffset = 0;
  private uncompressedOffset = 0;
  private finished = false;
  private readonly dataStream: StreamingSha256;

  constructor(private readonly options: BlobWriterOptions) {
    const { chunkSize, blobIndex } = options;
    if (!Number.isInteger(Math.log2(chunkSize)) || chunkSize < CHUNK_SIZE_MIN || chunkSize > CHUNK_SIZE_MAX) {
      throw new StrataError("INVALID_ARGUMENT", `blob writer: chunk size ${chunkSize} is not a power of two from 4 KiB to 16 MiB`);
    }
    if (!Number.isInteger(blobIndex) || blobIndex < 0 || blobIndex >= 0xff) throw new StrataError("INVALID_ARGUMENT", `blob writer: blob index ${blobIndex} is not 0..254`);
    this.dataStream = options.dataSha256 ?? hasherStream(options.sha256);
  }

  get chunkCount(): number {
    return this.chunks;
  }

  /** Bytes handed to the sink so far. */
  get size(): number {
    return this.written;
  }

  async addChunk(chunk: NewChunk): Promise<ChunkInfo> {
    if (this.finished) throw new StrataError("KERNEL_STATE", "blob writer: addChunk after finish");
    const { uncompressedSize, data, digest } = chunk;
    if (digest.length !== 32) throw new StrataError("INVALID_ARGUMENT", `blob writer: chunk digest of ${digest.length} bytes, expected 32`);
    if (!Number.isInteger(uncompressedSize) || uncompressedSize < 1 || uncompressedSize > this.options.chunkSize || data.length < 1 || data.length > MAX_SIZE_FIELD) {
      throw new StrataError("INVALID_ARGUMENT", `blob writer: chunk of ${uncompressedSize} bytes (${data.length} stored) does not fit chunk size ${this.options.chunkSize}`);
    }
    if (chunk.compressed ? data.length >= uncompressedSize : data.length !== uncompressedSize) {
      // A v1 table entry is "compressed" exactly when its two sizes differ.
      throw new StrataError("INVALID_ARGUMENT", `blob writer: a ${chunk.compressed ? "compressed" : "raw"} chunk of ${uncompressedSize} bytes cannot be stored as ${data.length}`);
    }
    if (this.chunks >= MAX_CHUNKS_PER_BLOB || this.compressedOffset + data.length > MAX_COMPRESSED_OFFSET || this.uncompressedOffset >= MAX_UNCOMPRESSED_OFFSET) {
      throw new StrataError("UNSUPPORTED", `blob ${this.options.blobIndex} is full: the compression table cannot address more chunks`);
    }
    const info: ChunkInfo = {
      digest: digest.slice(),
      blobIndex: this.options.blobIndex,
      flags: chunk.compressed ? ChunkFlags.COMPRESSED : 0,
      compressedOffset: this.compressedOffset,
      compressedSize: data.length,
      uncompressedOffset: this.uncompressedOffset,
      uncompressedSize,
      fileOffset: 0,
      index: this.chunks,
      crc32: 0,
    };
    this.table.push(tableEntryV1(info));
    this.digests.push(info.digest);
    this.chunks++;
    this.dataStream.update(data);
    await this.emit(data);
    this.compressedOffset += data.length;
    // RAFS v6 addresses chunks by 4 KiB block in the uncompressed blob.
    this.uncompressedOffset += alignBlock(uncompressedSize);
    return info;
  }

  private async emit(bytes: Uint8Array): Promise<void> {
    this.options.idSha256?.update(bytes);
    this.written += bytes.length;
    await this.options.sink(bytes);
  }

  /**
   * Writes the metadata sections and the ToC; returns the blob-table fields. blobId is the sha256
   * of the blob with an idSha256 stream, else empty for the caller to fill in.
   */
  async finish(): Promise<BlobInfo> {
    if (this.finished) throw new StrataError("KERNEL_STATE", "blob writer: finish called twice");
    // Nydus writes no blob without chunks, and nydusd rejects a blob device of 0 blocks.
    if (this.chunks === 0) throw new StrataError("INVALID_ARGUMENT", `blob ${this.options.blobIndex} has no chunks`);
    this.finished = true;
    const { sha256 } = this.options;
    const sink = (bytes: Uint8Array) => this.emit(bytes);
    const toc: Uint8Array[] = [];
    let at = this.compressedOffset;

    // image.blob: nydusify's ToC records the data section's offset as equal to its size, and its
    // digest covers the data together with the tar header that follows it.
    const dataHeader = tarHeader(BlobSection.DATA, this.compressedOffset);
    await sink(dataHeader);
    this.dataStream.update(dataHeader);
    const dataDigest = await this.dataStream.digest();
    at += TAR_HEADER_SIZE;

    const table = this.table.bytes();
    const metaHeader = metaHeaderBytes(this.chunks, at, table.length);
    const metaOffset = at;
    await sink(table);
    await sink(metaHeader);
    await sink(tarHeader(BlobSection.META, table.length + metaHeader.length));
    at += table.length + metaHeader.length + TAR_HEADER_SIZE;

    const digests = this.digests.bytes();
    const digestOffset = at;
    await sink(digests);
    await sink(tarHeader(BlobSection.DIGEST, digests.length));
    at += digests.length + TAR_HEADER_SIZE;

    toc.push(tocEntry(BlobSection.DATA, dataDigest, this.compressedOffset, this.compressedOffset, this.uncompressedOffset));
    toc.push(tocEntry(BlobSection.META, sha256.digest(table), metaOffset, table.length, table.length));
    toc.push(tocEntry(BlobSection.META_HEADER, sha256.digest(metaHeader), metaOffset + table.length, metaHeader.length, metaHeader.length));
    toc.push(tocEntry(BlobSection.DIGEST, sha256.digest(digests), digestOffset, digests.length, digests.length));
    const tocBytes = concat([...toc, tarHeader(BlobSection.TOC, toc.length * TOC_ENTRY_SIZE)]);
    await sink(tocBytes);
    at += tocBytes.length;

    return {
      blobId: this.options.idSha256 ? hex(await this.options.idSha256.digest()) : "",
      blobIndex: this.options.blobIndex,
      chunkSize: this.options.chunkSize,
      chunkCount: this.chunks,
      compressor: this.options.compressor,
      digester: this.options.digester,
      features: BLOB_FEATURES,
      compressedSize: at,
      uncompressedSize: this.uncompressedOffset,
      meta: {
        compressor: "none",
        offset: metaOffset,
        compressedSize: table.length,
        uncompressedSize: table.length,
        tocSize: tocBytes.length,
        tocDigest: sha256.digest(tocBytes),
        metaDigest: new Uint8Array(32),
        metaSize: 0,
      },
    };
  }
}

/** A Hasher's own init/update/final stream as a StreamingSha256. */
function hasherStream(hasher: Hasher): StreamingSha256 {
  hasher.init();
  return {
    update: (data) => void hasher.update(data),
    digest: async () => hasher.final(),
  };
}

function alignBlock(n: number): number {
  return Math.ceil(n / EROFS_BLOCK_SIZE) * EROFS_BLOCK_SIZE;
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function hex(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += b.toString(16).padStart(2, "0");
  return s;
}

/** An append-only byte buffer that doubles as it fills (the per-chunk tables). */
class GrowableBytes {
  private buffer = new Uint8Array(1024);
  private length = 0;

  push(bytes: Uint8Array): void {
    if (this.length + bytes.length > this.buffer.length) {
      const bigger = new Uint8Array(Math.max(this.buffer.length * 2, this.length + bytes.length));
      bigger.set(this.buffer.subarray(0, this.length));
      this.buffer = bigger;
    }
    this.buffer.set(bytes, this.length);
    this.length += bytes.length;
  }

  bytes(): Uint8Array {
    return this.buffer.subarray(0, this.length);
  }
}

/**
 * Compression-table entry v1 (storage/src/meta/chunk_info_v1.rs): the uncompressed word holds the
 * 4 KiB-aligned offset in bits 12..43 and size − 1 split over bits 44..63 (low 20) and 8..11
 * (high 4); the compressed word holds the offset in bits 0..39 and size − 1 over bits 44..63 and
 * 40..43.
 */
function tableEntryV1(c: ChunkInfo): Uint8Array {
  const out = new Uint8Array(CHUNK_INFO_V1_SIZE);
  const view = new DataView(out.buffer);
  const u = BigInt(c.uncompressedSize - 1);
  const k = BigInt(c.compressedSize - 1);
  const uncompressed = BigInt(c.uncompressedOffset) | ((u & 0xfffffn) << 44n) | ((u >> 20n) << 8n);
  const compressed = BigInt(c.compressedOffset) | ((k & 0xfffffn) << 44n) | ((k >> 20n) << 40n);
  view.setBigUint64(0, uncompressed, true);
  view.setBigUint64(8, compressed, true);
  return out;
}

/** The 4 KiB header after the compression table: magic at both ends, where the table is. */
function metaHeaderBytes(entries: number, tableOffset: number, tableSize: number): Uint8Array {
  const out = new Uint8Array(BLOB_META_HEADER_SIZE);
  const view = new DataView(out.buffer);
  view.setUint32(0, BLOB_META_MAGIC, true);
  view.setUint32(4, BLOB_FEATURES, true);
  view.setUint32(8, 0, true); // table stored uncompressed
  view.setUint32(12, entries, true);
  view.setBigUint64(16, BigInt(tableOffset), true);
  view.setBigUint64(24, BigInt(tableSize), true);
  view.setBigUint64(32, BigInt(tableSize), true);
  view.setUint32(BLOB_META_HEADER_SIZE - 4, BLOB_META_MAGIC, true);
  return out;
}

const ascii = new TextEncoder();

/** A ToC entry (storage/src/meta/toc.rs): flags, name, sha256 of the content, where it is. */
function tocEntry(name: string, digest: Uint8Array, offset: number, compressedSize: number, uncompressedSize: number): Uint8Array {
  const out = new Uint8Array(TOC_ENTRY_SIZE);
  const view = new DataView(out.buffer);
  view.setUint32(0, TocFlags.NONE, true);
  out.set(ascii.encode(name), 8);
  out.set(digest, 24);
  view.setBigUint64(56, BigInt(offset), true);
  view.setBigUint64(64, BigInt(compressedSize), true);
  view.setBigUint64(72, BigInt(uncompressedSize), true);
  return out;
}

/**
 * The 512-byte tar header Nydus writes after each section (tar-rs `Header::new_gnu`): GNU magic,
 * the name and size, mtime 0, a 7-digit checksum, every other field zero (so the bytes depend
 * only on name and size). Sizes past 11 octal digits take GNU's base-256 form.
 */
export function tarHeader(name: string, size: number): Uint8Array {
  const h = new Uint8Array(TAR_HEADER_SIZE);
  h.set(ascii.encode(name), 0);
  if (size < 8 ** 11) {
    h.set(ascii.encode(size.toString(8).padStart(11, "0")), 124);
  } else {
    h[124] = 0x80;
    for (let i = 135, v = size; i > 124; i--, v = Math.floor(v / 256)) h[i] = v % 256;
  }
  h.set(ascii.encode("00000000000"), 136);
  h[156] = 0x30; // regular file
  h.set(ascii.encode("ustar  "), 257);
  let sum = 0;
  for (let i = 0; i < TAR_HEADER_SIZE; i++) sum += i >= 148 && i < 156 ? 0x20 : h[i]!;
  h.set(ascii.encode(sum.toString(8).padStart(7, "0")), 148);
  return h;
}
