/**
 * RAFS v6 bootstrap reader: an EROFS image (4 KiB blocks) whose regular files are chunk-based
 * and point into blobs through the device table. Every offset, count and table is range-checked;
 * each structural problem goes to a `Problems` collector, which throws BAD_BOOTSTRAP when parsing
 * and lists every problem when verifying.
 */
import { StrataError } from "../errors.js";
import { EROFS_BLOCK_BITS, EROFS_BLOCK_SIZE, FileType, RafsFlags, V6, CHUNK_SIZE_MAX, CHUNK_SIZE_MIN, MAX_CHUNKS_PER_BLOB, XattrIndex } from "./layout.js";
import type { BlobInfo, ChunkInfo, RafsImage, RafsInode } from "./types.js";
import {
  algorithmsFromFlags,
  Bytes,
  compareBytes,
  compressorName,
  decodeBlobId,
  decodeChunkInfo,
  decodeName,
  digesterName,
  isPowerOfTwo,
  Problems,
  SlotOwners,
} from "./bootstrap-check.js";
import { kindOf, type InodeKind } from "../fs/inode.js";

const BLOCK = EROFS_BLOCK_SIZE;
const SB = V6.SUPERBLOCK_OFFSET;
const EXT = V6.EXT_SUPERBLOCK_OFFSET;
const { XATTR_IBODY_HEADER_SIZE, XATTR_ENTRY_SIZE } = V6;
/** Deeper trees than PATH_MAX allows are hostile; stop before the JS stack does. */
const MAX_DEPTH = 2048;
/** Chunk-table key: blob index and the 24-bit compression-table index. */
const chunkKey = (blobIndex: number, index: number) => blobIndex * 0x100_0000 + index;

const FILE_TYPE_OF_KIND: Record<InodeKind, number> = {
  file: FileType.REG,
  dir: FileType.DIR,
  chardev: FileType.CHRDEV,
  blockdev: FileType.BLKDEV,
  fifo: FileType.FIFO,
  socket: FileType.SOCK,
  symlink: FileType.SYMLINK,
};

const XATTR_PREFIX_BY_INDEX = new Map<number, string>(Object.entries(XattrIndex).map(([prefix, index]) => [index, prefix]));

/** Parses a RAFS v6 bootstrap; throws BAD_BOOTSTRAP naming the first problem. */
export function parseBootstrapV6(bytes: Uint8Array): RafsImage {
  return readBootstrapV6(bytes, new Problems(false))!;
}

/**
 * Parses as much as can be trusted, reporting every problem to `problems`. Returns undefined
 * when the superblocks themselves are unusable.
 */
export function readBootstrapV6(bytes: Uint8Array, problems: Problems): RafsImage | undefined {
  const b = new Bytes(bytes);
  const p = problems;
  const sb = readSuperblock(b, p);
  if (!sb) return undefined;
  const ext = readExtendedSuperblock(b, p, sb.devTableEnd);
  if (!ext) return undefined;

  const blobs = readBlobTable(b, p, ext.blobTable, ext.chunkSize);
  readDeviceTable(b, p, sb.extraDevices, blobs);
  const chunks = readChunkTable(b, p, ext.chunkTable, blobs.length);

  const owners = new SlotOwners(b.length, V6.INODE_SLOT_SIZE);
  owners.claim(0, sb.devTableEnd, -1, "the superblocks and device table");
  if (ext.blobTable) owners.claim(ext.blobTable.offset, ext.blobTable.offset + ext.blobTable.size, -2, "the blob table");
  if (ext.chunkTable) owners.claim(ext.chunkTable.offset, ext.chunkTable.offset + ext.chunkTable.size, -3, "the chunk table");
  const walker = new TreeWalker(b, p, owners, { ...sb, chunkSize: ext.chunkSize, blobCount: blobs.length, chunks });
  const root = walker.readRoot(sb.rootNid);
  if (!root) return undefined;

  // The prefetch table lists nids; the image names them by path.
  const prefetch: string[] = [];
  const pt = ext.prefetchTable;
  for (let off = pt?.offset ?? 0; pt && off < pt.offset + pt.size; off += 4) {
    const path = walker.paths.get(b.u32(off));
    if (p.check(path !== undefined, `prefetch table names nid ${b.u32(off)}, which no directory entry reaches`, { offset: off })) prefetch.push(path!);
  }

  return {
    version: 6,
    root,
    blobs,
    chunkSize: ext.chunkSize,
    digester: ext.digester ?? "blake3",
    compressor: ext.compressor ?? "none",
    flags: ext.flags,
    prefetch,
  };
}

/** The EROFS superblock at 1024 with the values RAFS v6 requires; undefined if unusable. */
function readSuperblock(b: Bytes, p: Problems) {
  if (!p.check(b.length >= V6.DEVICE_TABLE_OFFSET, `bootstrap of ${b.length} bytes is too short for a RAFS v6 superblock`, { offset: 0 })) return undefined;
  if (!p.check(b.u32(SB) === V6.MAGIC, `bad EROFS magic 0x${b.u32(SB).toString(16)}`, { offset: SB })) return undefined;
  // Checked before any problem is reported, so parse and verify agree on what is unsupported.
  if (b.u8(SB + 12) === 9) throw new StrataError("UNSUPPORTED", "RAFS v6 with 512-byte blocks (tarfs images) is not supported", { offset: SB + 12 });
  if (b.u32(EXT) & RafsFlags.TARTFS_MODE) throw new StrataError("UNSUPPORTED", "RAFS v6 in tarfs mode is not supported", { offset: EXT });
  p.check(b.length % BLOCK === 0, `bootstrap size ${b.length} is not a multiple of ${BLOCK}`, { offset: b.length });
  p.check(b.u32(SB + 4) === 0, "superblock checksum must be 0 in RAFS v6", { offset: SB + 4 });
  p.check((b.u32(SB + 8) & V6.FEATURE_COMPAT_RAFS_V6) !== 0, "feature_compat lacks the RAFS v6 bit", { offset: SB + 8 });
  if (!p.check(b.u8(SB + 12) === EROFS_BLOCK_BITS, `block size bits ${b.u8(SB + 12)} are neither 12 nor 9`, { offset: SB + 12 })) return undefined;
  p.check(b.u8(SB + 13) === 0, "extended superblock slots must be 0", { offset: SB + 13 });
  p.check(b.u64(SB + 16) > 0, "superblock inode count is 0", { offset: SB + 16 });
  const metaBase = b.u32(SB + 40) * BLOCK;
  if (!p.check(metaBase < b.length, `meta block address ${b.u32(SB + 40)} is past the end`, { offset: SB + 40 })) return undefined;
  p.check(b.u32(SB + 44) === 0, "shared xattr area is not supported by RAFS v6", { offset: SB + 44 });
  const incompat = b.u32(SB + 80);
  const expected = V6.FEATURE_INCOMPAT_CHUNKED_FILE | V6.FEATURE_INCOMPAT_DEVICE_TABLE;
  p.check(incompat === expected, `feature_incompat 0x${incompat.toString(16)} is not CHUNKED_FILE|DEVICE_TABLE`, { offset: SB + 80 });
  p.check(b.u16(SB + 84) === 0, "superblock union field must be 0", { offset: SB + 84 });
  const slotOff = b.u16(SB + 88);
  if (!p.check(slotOff === V6.DEVT_SLOTOFF, `device table slot offset ${slotOff} is not ${V6.DEVT_SLOTOFF}`, { offset: SB + 88 })) return undefined;
  const extraDevices = b.u16(SB + 86);
  const devTableEnd = V6.DEVICE_TABLE_OFFSET + extraDevices * V6.DEVICE_SLOT_SIZE;
  if (!p.check(devTableEnd <= b.length, `device table of ${extraDevices} slots runs past the end`, { offset: V6.DEVICE_TABLE_OFFSET })) return undefined;
  return {
    rootNid: b.u16(SB + 14),
    buildTime: b.u64(SB + 24),
    buildTimeNsec: b.u32(SB + 32),
    metaBase,
    extraDevices,
    devTableEnd,
  };
}

/** The RAFS extended superblock at 1152: flags, chunk size and where the tables are. */
function readExtendedSuperblock(b: Bytes, p: Problems, devTableEnd: number) {
  const flags = b.u32(EXT);
  const { compressor, digester } = algorithmsFromFlags(flags);
  p.check(compressor !== undefined, `flags 0x${flags.toString(16)} name no single compressor`, { offset: EXT });
  p.check(digester !== undefined, `flags 0x${flags.toString(16)} name no single digester`, { offset: EXT });
  const chunkSize = b.u32(EXT + 20);
  const validChunkSize = isPowerOfTwo(chunkSize) && chunkSize >= CHUNK_SIZE_MIN && chunkSize <= CHUNK_SIZE_MAX;
  if (!p.check(validChunkSize, `invalid chunk size ${chunkSize}`, { offset: EXT + 20 })) return undefined;
  const tables = new TableRanges(b, p, devTableEnd);
  return {
    flags,
    compressor,
    digester,
    chunkSize,
    blobTable: tables.add("blob table", b.u64(EXT + 8), b.u32(EXT + 16), V6.BLOB_TABLE_ENTRY_SIZE, true, EXT + 8),
    chunkTable: tables.add("chunk table", b.u64(EXT + 24), b.u64(EXT + 32), V6.CHUNK_INFO_SIZE, true, EXT + 24),
    // Legacy images may carry a size with a zero offset for an empty prefetch list.
    prefetchTable: b.u64(EXT + 40) === 0 ? undefined : tables.add("prefetch table", b.u64(EXT + 40), b.u32(EXT + 48), 4, false, EXT + 40),
  };
}

interface Range {
  name: string;
  offset: number;
  size: number;
}

/** The blob, chunk and prefetch tables: each inside the file, past the device table, disjoint. */
class TableRanges {
  private readonly ranges: Range[] = [];
  constructor(
    private readonly b: Bytes,
    private readonly p: Problems,
    private readonly devTableEnd: number,
  ) {}

  add(name: string, offset: number, size: number, unit: number, aligned: boolean, field: number): Range | undefined {
    if (size === 0) return undefined;
    const ok =
      this.p.check(size % unit === 0, `${name} size ${size} is not a multiple of ${unit}`, { offset: field }) &&
      this.p.check(!aligned || offset % BLOCK === 0, `${name} offset ${offset} is not 4 KiB aligned`, { offset: field }) &&
      this.p.check(offset >= this.devTableEnd && this.b.has(offset, size), `${name} [${offset}, +${size}) lies outside the metadata`, {
        offset: field,
      });
    if (!ok) return undefined;
    const range = { name, offset, size };
    for (const other of this.ranges) {
      if (offset < other.offset + other.size && other.offset < offset + size) {
        return this.p.add(`${name} overlaps the ${other.name}`, { offset }) || undefined;
      }
    }
    this.ranges.push(range);
    return range;
  }
}

function readBlobTable(b: Bytes, p: Problems, table: Range | undefined, chunkSize: number): BlobInfo[] {
  const blobs: BlobInfo[] = [];
  if (!table) return blobs;
  for (let i = 0; i * V6.BLOB_TABLE_ENTRY_SIZE < table.size; i++) {
    const off = table.offset + i * V6.BLOB_TABLE_ENTRY_SIZE;
    const where = { offset: off };
    const blobId = decodeBlobId(b.slice(off, 64));
    p.check(blobId !== undefined, `blob table entry ${i} has no 64-character hex blob id`, where);
    p.check(b.u32(off + 64) === i, `blob table entry ${i} says it is blob ${b.u32(off + 64)}`, where);
    const blobChunkSize = b.u32(off + 68);
    p.check(blobChunkSize === chunkSize, `blob ${i} chunk size ${blobChunkSize} differs from the image's ${chunkSize}`, where);
    const chunkCount = b.u32(off + 72);
    p.check(chunkCount <= MAX_CHUNKS_PER_BLOB, `blob ${i} claims ${chunkCount} chunks`, where);
    const compressor = compressorName(b.u32(off + 76));
    const digester = digesterName(b.u32(off + 80));
    const ciCompressor = compressorName(b.u32(off + 108));
    p.check(compressor !== undefined, `blob ${i} has unknown compressor ${b.u32(off + 76)}`, where);
    p.check(digester !== undefined, `blob ${i} has unknown digester ${b.u32(off + 80)}`, where);
    p.check(ciCompressor !== undefined, `blob ${i} has unknown compression-table compressor ${b.u32(off + 108)}`, where);
    blobs.push({
      blobId: blobId ?? "",
      blobIndex: i,
      chunkSize: blobChunkSize,
      chunkCount,
      compressor: compressor ?? "none",
      digester: digester ?? "blake3",
      features: b.u32(off + 84),
      compressedSize: b.u64(off + 88),
      uncompressedSize: b.u64(off + 96),
      meta: {
        compressor: ciCompressor ?? "none",
        tocSize: b.u32(off + 104),
        offset: b.u64(off + 112),
        compressedSize: b.u64(off + 120),
        uncompressedSize: b.u64(off + 128),
        tocDigest: b.data.slice(off + 136, off + 168),
        metaDigest: b.data.slice(off + 168, off + 200),
        metaSize: b.u64(off + 200),
      },
      cipherAlgorithm: b.u32(off + 216),
    });
  }
  return blobs;
}

/** Device slot i+1 describes blob i: same id, a non-zero block count. */
function readDeviceTable(b: Bytes, p: Problems, count: number, blobs: BlobInfo[]): void {
  p.check(count === blobs.length, `superblock lists ${count} extra devices but the blob table has ${blobs.length} blobs`, { offset: SB + 86 });
  const seen = new Set<string>();
  for (let i = 0; i < count; i++) {
    const off = V6.DEVICE_TABLE_OFFSET + i * V6.DEVICE_SLOT_SIZE;
    const id = decodeBlobId(b.slice(off, 64));
    if (!p.check(id !== undefined, `device slot ${i} has no 64-character hex blob id`, { offset: off })) continue;
    p.check(!seen.has(id!), `device slot ${i} repeats blob ${id}`, { offset: off });
    seen.add(id!);
    p.check(b.u32(off + 64) !== 0, `device slot ${i} has 0 blocks`, { offset: off + 64 });
    const blob = blobs[i];
    if (blob) p.check(blob.blobId === id, `device slot ${i} names blob ${id} but blob table entry ${i} is ${blob.blobId}`, { offset: off });
  }
}

/** The 80-byte chunk records, sorted by digest; keyed by (blob index, compression-table index). */
function readChunkTable(b: Bytes, p: Problems, table: Range | undefined, blobCount: number): Map<number, ChunkInfo> {
  const chunks = new Map<number, ChunkInfo>();
  if (!table) return chunks;
  let previous: Uint8Array | undefined;
  for (let off = table.offset; off < table.offset + table.size; off += V6.CHUNK_INFO_SIZE) {
    const chunk = decodeChunkInfo(b, off);
    const where = { offset: off };
    if (previous) p.check(compareBytes(previous, chunk.digest) <= 0, "chunk table is not sorted by digest", where);
    previous = chunk.digest;
    if (!p.check(chunk.blobIndex < blobCount, `chunk record names blob ${chunk.blobIndex} of ${blobCount}`, where)) continue;
    if (!p.check(chunk.index < 0x100_0000, `chunk record index ${chunk.index} exceeds 24 bits`, where)) continue;
    p.check(chunk.uncompressedOffset % BLOCK === 0, `chunk uncompressed offset ${chunk.uncompressedOffset} is not 4 KiB aligned`, where);
    p.check(chunk.uncompressedSize > 0 && chunk.uncompressedSize <= CHUNK_SIZE_MAX, `chunk uncompressed size ${chunk.uncompressedSize}`, where);
    const key = chunkKey(chunk.blobIndex, chunk.index);
    if (!p.check(!chunks.has(key), `chunk table repeats blob ${chunk.blobIndex} chunk ${chunk.index}`, where)) continue;
    chunks.set(key, chunk);
  }
  return chunks;
}

interface TreeSettings {
  metaBase: number;
  chunkSize: number;
  blobCount: number;
  chunks: Map<number, ChunkInfo>;
  buildTime: number;
  buildTimeNsec: number;
}

interface Dirent {
  name: string;
  raw: Uint8Array;
  nid: number;
  fileType: number;
  offset: number;
}

/** The raw fields of an on-disk inode (compact or extended). */
interface DiskInode {
  nid: number;
  offset: number;
  layout: number;
  /** Inode plus inline xattrs: where inline data and chunk addresses start. */
  bodyEnd: number;
  mode: number;
  size: number;
  u: number;
}

/** Walks the directory tree from the root nid; one RafsInode per nid (hardlinks share it). */
class TreeWalker {
  readonly paths = new Map<number, string>();
  private readonly inodes = new Map<number, RafsInode>();

  constructor(
    private readonly b: Bytes,
    private readonly p: Problems,
    private readonly owners: SlotOwners,
    private readonly s: TreeSettings,
  ) {}

  readRoot(nid: number): RafsInode | undefined {
    const root = this.readInode(nid, "/", nid, 0);
    if (root && !root.entries) return this.p.add("root inode is not a directory", { path: "/" }) || undefined;
    return root;
  }

  private readInode(nid: number, path: string, parentNid: number, depth: number): RafsInode | undefined {
    const { b, p } = this;
    const offset = this.s.metaBase + nid * V6.INODE_SLOT_SIZE;
    if (!p.check(b.has(offset, V6.INODE_COMPACT_SIZE), `nid ${nid} is outside the bootstrap`, { path, offset })) return undefined;
    const format = b.u16(offset);
    const extended = (format & 1) === 1;
    const layout = (format >> 1) & 7;
    const isize = extended ? V6.INODE_EXTENDED_SIZE : V6.INODE_COMPACT_SIZE;
    if (!p.check((format & ~0xf) === 0, `inode format 0x${format.toString(16)} has unknown bits`, { path, offset })) return undefined;
    if (!p.check(b.has(offset, isize), `inode of nid ${nid} runs past the end`, { path, offset })) return undefined;

    const mode = b.u16(offset + 4);
    const kind = kindOf(mode);
    if (!p.check(kind !== undefined, `inode mode 0o${mode.toString(8)} has no file type`, { path, offset })) return undefined;
    const u = b.u32(offset + 16);
    const inode: RafsInode = extended
      ? {
          mode,
          size: b.u64(offset + 8),
          ino: b.u32(offset + 20),
          uid: b.u32(offset + 24),
          gid: b.u32(offset + 28),
          // EROFS stores i_mtime as a 64-bit two's complement time_t (the kernel reads it signed).
          mtime: b.i64(offset + 32),
          mtimeNsec: b.u32(offset + 40),
          rdev: 0,
          xattrs: new Map(),
          nid,
        }
      : {
          mode,
          size: b.u32(offset + 8),
          ino: b.u32(offset + 20),
          uid: b.u16(offset + 24),
          gid: b.u16(offset + 26),
          // Compact inodes carry no time: EROFS gives them the image build time.
          mtime: this.s.buildTime,
          mtimeNsec: this.s.buildTimeNsec,
          rdev: 0,
          xattrs: new Map(),
          nid,
        };
    if (extended) p.check(b.u32(offset + 44) > 0, "inode link count is 0", { path, offset });
    else p.check(b.u16(offset + 6) > 0, "inode link count is 0", { path, offset });
    if (!p.check(Number.isSafeInteger(inode.size), "inode size exceeds 2^53", { path, offset })) return undefined;

    const icount = b.u16(offset + 2);
    const xsize = icount === 0 ? 0 : XATTR_IBODY_HEADER_SIZE + (icount - 1) * XATTR_ENTRY_SIZE;
    if (!p.check(b.has(offset + isize, xsize), `inline xattrs (${xsize} bytes) run past the end`, { path, offset })) return undefined;
    if (xsize > 0) this.readXattrs(inode, offset + isize, xsize, path);

    const disk: DiskInode = { nid, offset, layout, bodyEnd: offset + isize + xsize, mode, size: inode.size, u };
    const end = this.extentEnd(disk, kind!);
    if (!p.check(end <= b.length, `inode metadata [${offset}, ${end}) runs past the end`, { path, offset })) return undefined;
    const overlap = this.owners.claim(offset, end, nid + 1, `nid ${nid} (${path})`);
    if (!p.check(overlap === undefined, `inode metadata overlaps ${overlap}`, { path, offset })) return undefined;
    this.inodes.set(nid, inode);
    if (!this.paths.has(nid)) this.paths.set(nid, path);

    switch (kind!) {
      case "dir":
        if (!p.check(depth < MAX_DEPTH, `directory tree deeper than ${MAX_DEPTH}`, { path, offset })) return undefined;
        inode.size = 0;
        inode.entries = new Map();
        this.readDirectory(inode, disk, nid, parentNid, path, depth);
        break;
      case "symlink":
        inode.target = this.readSymlink(disk, path);
        break;
      case "file":
        inode.chunks = this.readChunks(disk, path);
        break;
      case "chardev":
      case "blockdev":
        inode.rdev = u;
        inode.size = 0;
        break;
      default:
        inode.size = 0;
    }
    return inode;
  }

  /** End of the inode's metadata: inline data or chunk addresses included. */
  private extentEnd(disk: DiskInode, kind: InodeKind): number {
    if (kind === "file" && disk.layout === V6.LAYOUT_CHUNK_BASED) {
      return this.chunkAddrStart(disk) + Math.ceil(disk.size / this.s.chunkSize) * V6.CHUNK_ADDR_SIZE;
    }
    if ((kind === "dir" || kind === "symlink") && disk.layout === V6.LAYOUT_FLAT_INLINE && disk.size > 0) {
      return disk.bodyEnd + disk.size - (Math.ceil(disk.size / BLOCK) - 1) * BLOCK;
    }
    return disk.bodyEnd;
  }

  /** Chunk addresses follow the inode and xattrs, 8-byte aligned. */
  private chunkAddrStart(disk: DiskInode): number {
    return Math.ceil(disk.bodyEnd / V6.CHUNK_ADDR_SIZE) * V6.CHUNK_ADDR_SIZE;
  }

  private readXattrs(inode: RafsInode, start: number, size: number, path: string): void {
    const { b, p } = this;
    const where = { path, offset: start };
    if (!p.check(b.u8(start + 4) === 0, "shared xattrs are not supported by RAFS v6", where)) return;
    const end = start + size;
    let off = start + XATTR_IBODY_HEADER_SIZE;
    while (off < end) {
      if (!p.check(off + XATTR_ENTRY_SIZE <= end, "truncated xattr entry", { path, offset: off })) return;
      const nameLen = b.u8(off);
      const index = b.u8(off + 1);
      const valueSize = b.u16(off + 2);
      const entrySize = XATTR_ENTRY_SIZE + nameLen + valueSize;
      if (!p.check(off + entrySize <= end, "xattr entry runs past the inline xattr area", { path, offset: off })) return;
      const prefix = index === 0 ? "" : XATTR_PREFIX_BY_INDEX.get(index);
      if (p.check(prefix !== undefined, `unknown xattr name index ${index}`, { path, offset: off })) {
        const name = prefix + decodeName(b.slice(off + XATTR_ENTRY_SIZE, nameLen));
        p.check(name.length > 0 && !inode.xattrs.has(name), `empty or repeated xattr name "${name}"`, { path, offset: off });
        inode.xattrs.set(name, b.data.slice(off + XATTR_ENTRY_SIZE + nameLen, off + entrySize));
      }
      off += (entrySize + XATTR_ENTRY_SIZE - 1) & ~(XATTR_ENTRY_SIZE - 1);
    }
  }

  /** Where the data block `index` of a FLAT_PLAIN / FLAT_INLINE inode lives, and its length. */
  private dataBlock(disk: DiskInode, index: number, path: string): { offset: number; length: number } | undefined {
    const blocks = Math.ceil(disk.size / BLOCK);
    const length = index === blocks - 1 ? disk.size - index * BLOCK : BLOCK;
    let offset: number;
    if (disk.layout === V6.LAYOUT_FLAT_INLINE && index === blocks - 1) {
      offset = disk.bodyEnd;
      // EROFS keeps the inode, its xattrs and the inline tail inside one block.
      const sameBlock = Math.floor(disk.offset / BLOCK) === Math.floor((offset + length - 1) / BLOCK);
      if (!this.p.check(sameBlock, "inline data crosses a 4 KiB block boundary", { path, offset })) return undefined;
    } else if (disk.layout === V6.LAYOUT_FLAT_PLAIN || disk.layout === V6.LAYOUT_FLAT_INLINE) {
      offset = (disk.u + index) * BLOCK;
      const overlap = this.b.has(offset, length) ? this.owners.claim(offset, offset + BLOCK, -4 - disk.nid, `data block ${disk.u + index} of ${path}`) : undefined;
      if (!this.p.check(overlap === undefined, `data block ${disk.u + index} is also used by ${overlap}`, { path, offset })) return undefined;
    } else {
      return this.p.add(`data layout ${disk.layout} is not FLAT_PLAIN or FLAT_INLINE`, { path, offset: disk.offset }) || undefined;
    }
    if (!this.p.check(this.b.has(offset, length), `data block ${index} [${offset}, +${length}) lies outside the bootstrap`, { path, offset: disk.offset }))
      return undefined;
    return { offset, length };
  }

  private readSymlink(disk: DiskInode, path: string): string | undefined {
    const where = { path, offset: disk.offset };
    if (!this.p.check(disk.size > 0 && disk.size <= BLOCK, `symlink target size ${disk.size} is not in 1..4096`, where)) return undefined;
    const block = this.dataBlock(disk, 0, path);
    if (!block) return undefined;
    const bytes = this.b.slice(block.offset, block.length);
    this.p.check(!bytes.includes(0), "symlink target contains NUL", where);
    return decodeName(bytes);
  }

  private readDirectory(dir: RafsInode, disk: DiskInode, nid: number, parentNid: number, path: string, depth: number): void {
    const { p } = this;
    const where = { path, offset: disk.offset };
    if (!p.check(disk.size > 0, "directory has size 0 (no '.' and '..')", where)) return;
    const entries: Dirent[] = [];
    const blocks = Math.ceil(disk.size / BLOCK);
    for (let i = 0; i < blocks; i++) {
      const block = this.dataBlock(disk, i, path);
      if (!block || !this.readDirBlock(block.offset, block.length, path, entries)) return;
    }

    let sawDot = false;
    let sawDotDot = false;
    for (const e of entries) {
      if (e.name === ".") {
        sawDot = true;
        p.check(e.nid === nid, `'.' points to nid ${e.nid}, not to the directory itself (${nid})`, { path, offset: e.offset });
        continue;
      }
      if (e.name === "..") {
        sawDotDot = true;
        p.check(e.nid === parentNid, `'..' points to nid ${e.nid}, not to the parent (${parentNid})`, { path, offset: e.offset });
        continue;
      }
      const childPath = path === "/" ? `/${e.name}` : `${path}/${e.name}`;
      let child = this.inodes.get(e.nid);
      if (child) {
        // A second dirent for a known nid is a hardlink; directories cannot be hardlinked, and a
        // directory reached again would make the tree a graph (or a cycle).
        if (!p.check(!child.entries, `directory nid ${e.nid} is reached twice (cycle or hardlinked directory)`, { path: childPath, offset: e.offset }))
          continue;
      } else {
        child = this.readInode(e.nid, childPath, nid, depth + 1);
        if (!child) continue;
      }
      p.check(FILE_TYPE_OF_KIND[kindOf(child.mode)!] === e.fileType, `dirent file type ${e.fileType} does not match the inode mode 0o${child.mode.toString(8)}`, {
        path: childPath,
        offset: e.offset,
      });
      dir.entries!.set(e.name, child);
      if (p.full) return;
    }
    p.check(sawDot && sawDotDot, "directory lacks '.' or '..'", where);
  }

  /** Reads one directory block: 12-byte dirents, then their names; appends to `out` in order. */
  private readDirBlock(offset: number, length: number, path: string, out: Dirent[]): boolean {
    const { b, p } = this;
    if (!p.check(length >= V6.DIRENT_SIZE, `directory block of ${length} bytes holds no dirent`, { path, offset })) return false;
    const first = b.u16(offset + 8);
    if (!p.check(first % V6.DIRENT_SIZE === 0 && first >= V6.DIRENT_SIZE && first < length, `first name offset ${first} is invalid`, { path, offset }))
      return false;
    const count = first / V6.DIRENT_SIZE;
    let previous = out[out.length - 1]?.raw;
    for (let j = 0; j < count; j++) {
      const d = offset + j * V6.DIRENT_SIZE;
      const nameOff = b.u16(d + 8);
      let end: number;
      if (j + 1 < count) {
        end = b.u16(d + V6.DIRENT_SIZE + 8);
      } else {
        // The last name runs to the first NUL or the end of the block's data.
        const nul = b.slice(offset + nameOff, Math.max(0, length - nameOff)).indexOf(0);
        end = nul < 0 ? length : nameOff + nul;
      }
      if (!p.check(nameOff >= first && nameOff < end && end <= length, `dirent ${j} name range [${nameOff}, ${end}) is invalid`, { path, offset: d }))
        return false;
      const raw = b.slice(offset + nameOff, end - nameOff);
      if (!p.check(!raw.includes(0x2f) && !raw.includes(0), "dirent name contains '/' or NUL", { path, offset: d })) return false;
      if (previous && !p.check(compareBytes(previous, raw) < 0, `dirent names are not strictly sorted at "${decodeName(raw)}"`, { path, offset: d }))
        return false;
      previous = raw;
      const nid = b.u64(d);
      if (!p.check(Number.isSafeInteger(nid), "dirent nid exceeds 2^53", { path, offset: d })) return false;
      out.push({ name: decodeName(raw), raw, nid, fileType: b.u8(d + 10), offset: d });
    }
    return true;
  }

  /** A regular file's chunk addresses, each resolved to its chunk-table record. */
  private readChunks(disk: DiskInode, path: string): ChunkInfo[] | undefined {
    const { b, p, s } = this;
    const where = { path, offset: disk.offset };
    if (disk.layout !== V6.LAYOUT_CHUNK_BASED) {
      p.check(disk.size === 0, `regular file of ${disk.size} bytes is not chunk-based (layout ${disk.layout})`, where);
      return [];
    }
    const format = disk.u;
    if (!p.check((format & ~0x3f) === 0 && (format & V6.CHUNK_FORMAT_INDEXES) !== 0, `chunk format 0x${format.toString(16)} is invalid`, where))
      return undefined;
    const count = Math.ceil(disk.size / s.chunkSize);
    const start = this.chunkAddrStart(disk);
    if (!p.check(b.has(start, count * V6.CHUNK_ADDR_SIZE), `${count} chunk addresses run past the end`, where)) return undefined;
    const chunks: ChunkInfo[] = [];
    for (let i = 0; i < count; i++) {
      const a = start + i * V6.CHUNK_ADDR_SIZE;
      const lo = b.u16(a);
      const hi = b.u16(a + 2);
      const blkAddr = b.u32(a + 4);
      const device = hi & 0xff;
      const index = ((hi >> 8) << 16) | lo;
      if (!p.check(device >= 1 && device <= s.blobCount, `chunk ${i} names device ${device} of ${s.blobCount} blobs`, { path, offset: a })) return undefined;
      const record = s.chunks.get(chunkKey(device - 1, index));
      if (!p.check(record !== undefined, `chunk ${i} (blob ${device - 1} chunk ${index}) is not in the chunk table`, { path, offset: a })) return undefined;
      p.check(record!.uncompressedOffset === blkAddr * BLOCK, `chunk ${i} block address ${blkAddr} disagrees with its record`, { path, offset: a });
      const expected = Math.min(s.chunkSize, disk.size - i * s.chunkSize);
      p.check(record!.uncompressedSize === expected, `chunk ${i} holds ${record!.uncompressedSize} bytes, the file needs ${expected}`, { path, offset: a });
      // Chunk records are shared by every file holding the same data: the offset is per file.
      chunks.push({ ...record!, fileOffset: i * s.chunkSize });
    }
    return chunks;
  }
}
