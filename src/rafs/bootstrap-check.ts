/**
 * Shared by the v5 and v6 bootstrap parsers: bounds-checked little-endian reads, and the
 * collector that turns each structural problem into BAD_BOOTSTRAP (parse) or a list entry
 * (verify), so one walk serves both.
 */
import { StrataError } from "../errors.js";
import { Compressor, type CompressorName, Digester, type DigesterName, RafsFlags } from "./layout.js";
import type { ChunkInfo } from "./types.js";

/** One structural problem of a bootstrap: where it is and what is wrong. */
export interface BootstrapProblem {
  message: string;
  /** File path inside the image, when the problem belongs to an inode. */
  path?: string;
  /** Byte offset in the bootstrap. */
  offset?: number;
}

/**
 * Receives problems. In throwing mode the first one becomes a BAD_BOOTSTRAP error; in collecting
 * mode every one is kept and the parser goes on with what is still trustworthy.
 */
export class Problems {
  readonly list: BootstrapProblem[] = [];
  /** Stops collecting after this many (a hostile image could otherwise report millions). */
  private readonly limit: number;

  constructor(readonly collect: boolean, limit = 1000) {
    this.limit = limit;
  }

  /** Records a problem (or throws it). Always returns false so callers can `return p.add(...)`. */
  add(message: string, where: { path?: string; offset?: number } = {}): false {
    const problem: BootstrapProblem = { message, ...where };
    if (!this.collect) {
      const place = [where.path, where.offset !== undefined ? `offset ${where.offset}` : undefined].filter(Boolean).join(", ");
      throw new StrataError("BAD_BOOTSTRAP", place ? `${message} (${place})` : message, { ...where });
    }
    if (this.list.length < this.limit) this.list.push(problem);
    return false;
  }

  /** `add` unless `ok`; returns `ok`. */
  check(ok: boolean, message: string, where?: { path?: string; offset?: number }): boolean {
    return ok || this.add(message, where);
  }

  get full(): boolean {
    return this.list.length >= this.limit;
  }
}

/**
 * Who uses each slot of the bootstrap: the superblocks, a table, an inode record (with its
 * xattrs, inline data, chunk addresses or records) or a directory block. Overlaps are corruption,
 * and refusing them keeps a walk linear in the bootstrap size however hostile the image.
 */
export class SlotOwners {
  private readonly owner: Int32Array;
  private readonly names = new Map<number, string>();

  constructor(
    size: number,
    private readonly slot: number,
  ) {
    this.owner = new Int32Array(Math.ceil(size / slot));
  }

  /** Claims [start, end) for `id` (non-zero); the name of the first other owner met, if any. */
  claim(start: number, end: number, id: number, name: string): string | undefined {
    this.names.set(id, name);
    const last = Math.min(Math.ceil(end / this.slot), this.owner.length);
    // Slots are marked as they are scanned, so every slot is scanned at most once overall.
    for (let i = Math.floor(start / this.slot); i < last; i++) {
      const other = this.owner[i]!;
      if (other !== 0 && other !== id) return this.names.get(other);
      this.owner[i] = id;
    }
    return undefined;
  }
}

/** Little-endian reads from the bootstrap; callers check ranges with `has` first. */
export class Bytes {
  readonly view: DataView;

  constructor(readonly data: Uint8Array) {
    this.view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  }

  get length(): number {
    return this.data.length;
  }

  /** True when [offset, offset + size) lies inside the bootstrap. */
  has(offset: number, size: number): boolean {
    return Number.isSafeInteger(offset) && Number.isSafeInteger(size) && offset >= 0 && size >= 0 && offset + size <= this.data.length;
  }

  u8(offset: number): number {
    return this.view.getUint8(offset);
  }
  u16(offset: number): number {
    return this.view.getUint16(offset, true);
  }
  u32(offset: number): number {
    return this.view.getUint32(offset, true);
  }
  /** u64 as a number; values above 2^53 come back as Infinity so range checks reject them. */
  u64(offset: number): number {
    const hi = this.view.getUint32(offset + 4, true);
    const lo = this.view.getUint32(offset, true);
    return hi >= 0x20_0000 ? Infinity : hi * 0x1_0000_0000 + lo;
  }

  /** i64 as a number (times before 1970 are negative), clamped to the safe integer range. */
  i64(offset: number): number {
    const v = this.view.getBigInt64(offset, true);
    return Number(v > BigInt(Number.MAX_SAFE_INTEGER) ? BigInt(Number.MAX_SAFE_INTEGER) : v < BigInt(Number.MIN_SAFE_INTEGER) ? BigInt(Number.MIN_SAFE_INTEGER) : v);
  }

  slice(offset: number, size: number): Uint8Array {
    return this.data.subarray(offset, offset + size);
  }
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** A file name or symlink target: UTF-8 when valid, else one char per byte (latin1). */
export function decodeName(bytes: Uint8Array): string {
  try {
    return utf8.decode(bytes);
  } catch {
    let s = "";
    for (const b of bytes) s += String.fromCharCode(b);
    return s;
  }
}

/** A 64-character lowercase hex blob id, or undefined. */
export function decodeBlobId(bytes: Uint8Array): string | undefined {
  let end = bytes.indexOf(0);
  if (end < 0) end = bytes.length;
  const id = String.fromCharCode(...bytes.subarray(0, end));
  return /^[0-9a-f]{64}$/.test(id) ? id : undefined;
}

export function isPowerOfTwo(n: number): boolean {
  return Number.isSafeInteger(n) && n > 0 && (n & (n - 1)) === 0;
}

export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

/** Decodes the 80-byte chunk record shared by RAFS v5 inodes and the v6 chunk table. */
export function decodeChunkInfo(b: Bytes, offset: number): ChunkInfo {
  return {
    digest: b.data.slice(offset, offset + 32),
    blobIndex: b.u32(offset + 32),
    flags: b.u32(offset + 36),
    compressedSize: b.u32(offset + 40),
    uncompressedSize: b.u32(offset + 44),
    compressedOffset: b.u64(offset + 48),
    uncompressedOffset: b.u64(offset + 56),
    fileOffset: b.u64(offset + 64),
    index: b.u32(offset + 72),
    crc32: b.u32(offset + 76),
  };
}

/** Compressor and digester named by superblock flags; undefined unless exactly one bit of each. */
export function algorithmsFromFlags(flags: number): { compressor?: CompressorName; digester?: DigesterName } {
  const compressors: [number, CompressorName][] = [
    [RafsFlags.COMPRESSION_NONE, "none"],
    [RafsFlags.COMPRESSION_LZ4, "lz4_block"],
    [RafsFlags.COMPRESSION_GZIP, "gzip"],
    [RafsFlags.COMPRESSION_ZSTD, "zstd"],
  ];
  const digesters: [number, DigesterName][] = [
    [RafsFlags.HASH_BLAKE3, "blake3"],
    [RafsFlags.HASH_SHA256, "sha256"],
  ];
  const c = compressors.filter(([bit]) => flags & bit);
  const d = digesters.filter(([bit]) => flags & bit);
  return { compressor: c.length === 1 ? c[0]![1] : undefined, digester: d.length === 1 ? d[0]![1] : undefined };
}

export function compressorName(id: number): CompressorName | undefined {
  return (Object.keys(Compressor) as CompressorName[]).find((k) => Compressor[k] === id);
}

export function digesterName(id: number): DigesterName | undefined {
  return (Object.keys(Digester) as DigesterName[]).find((k) => Digester[k] === id);
}
