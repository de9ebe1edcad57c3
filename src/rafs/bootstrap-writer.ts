/**
 * Writes a RAFS v6 bootstrap: an EROFS image with 4 KiB blocks whose regular files are
 * chunk-based and point into the blobs through the device table (rafs/src/metadata/layout/v6.rs,
 * builder/src/core/v6.rs; EROFS on-disk format: Linux fs/erofs/erofs_fs.h).
 *
 *   block 0        superblock (1024), extended superblock (1152), device table (1408, 128 B a blob)
 *   next block     blob table (256 B a blob), then the prefetch table (u32 nids)
 *   meta_blkaddr   one empty block, as Nydus leaves it, so that the root's nid is 128 and never 0
 *   +1 block       inodes on 32-byte slots: root first, then the tree in depth-first name order;
 *                  directory and symlink tails inline after their inode, chunk indexes after
 *                  each regular file's inode
 *   then           directory blocks and symlink targets that do not fit inline
 *   then           the chunk table (80-byte records sorted by digest), padded to 4 KiB
 *
 * The output depends only on the tree, the blob table and the options: no clocks, no map order.
 * The build time is 0, so compact inodes (which carry no mtime) are used only for mtime 0: the
 * kernel gives a compact inode the build time and nydusd gives it 0, and both must agree.
 * docs/FORMAT.md lists every field written.
 */
import { StrataError } from "../errors.js";
import { compareNames, kindOf, type InodeKind } from "../fs/inode.js";
import {
  BlobFeatures,
  Compressor,
  Digester,
  EROFS_BLOCK_BITS,
  EROFS_BLOCK_SIZE,
  FileType,
  RafsFlags,
  V6,
  XattrIndex,
  type CompressorName,
  type DigesterName,
} from "./layout.js";
import type { BlobInfo, ChunkInfo, RafsInode } from "./types.js";

export interface BootstrapInput {
  root: RafsInode;
  blobs: readonly BlobInfo[];
  chunkSize: number;
  compressor: CompressorName;
  digester: DigesterName;
  /** Paths of regular files to list in the prefetch table, in order. */
  prefetch?: readonly string[];
}

const BLOCK = EROFS_BLOCK_SIZE;
const SLOT = V6.INODE_SLOT_SIZE;
const utf8 = new TextEncoder();

const FILE_TYPE: Record<InodeKind, number> = {
  file: FileType.REG,
  dir: FileType.DIR,
  symlink: FileType.SYMLINK,
  chardev: FileType.CHRDEV,
  blockdev: FileType.BLKDEV,
  fifo: FileType.FIFO,
  socket: FileType.SOCK,
};

/** Longest prefixes first (a name matches at most one anyway). */
const XATTR_PREFIXES = Object.entries(XattrIndex).sort((a, b) => b[0].length - a[0].length);

/** One inode as it will be laid out. */
interface Node {
  inode: RafsInode;
  kind: InodeKind;
  path: string;
  parent?: Node;
  nlink: number;
  extended: boolean;
  xattrs: Uint8Array;
  /** Directory blocks or symlink target. */
  data?: Uint8Array;
  layout: number;
  /** Byte offset from the meta base; nid = offset / 32. */
  offset: number;
  /** First block of the non-inline data blocks. */
  dataBlock: number;
  dirents?: { name: Uint8Array; node: Node }[];
}

export function writeBootstrap(input: BootstrapInput): Uint8Array {
  const { root, blobs, chunkSize } = input;
  if (!root.entries) throw new StrataError("INVALID_ARGUMENT", "bootstrap root must be a directory");
  const chunkBits = Math.log2(chunkSize);
  if (!Number.isInteger(chunkBits) || chunkBits < 12 || chunkBits > 24) throw new StrataError("INVALID_ARGUMENT", `chunk size ${chunkSize} is not a power of two 4K..16M`);

  const { nodes, byInode } = collect(root);
  blobs.forEach((b, i) => checkBlob(b, i));
  for (const n of nodes) prepare(n, chunkSize, blobs);

  // ---- placement --------------------------------------------------------------------------
  const devTableEnd = V6.DEVICE_TABLE_OFFSET + blobs.length * V6.DEVICE_SLOT_SIZE;
  const blobTableOffset = alignUp(devTableEnd, BLOCK);
  const blobTableSize = blobs.length * V6.BLOB_TABLE_ENTRY_SIZE;
  const prefetchNodes = (input.prefetch ?? []).map((p) => prefetchNode(root, byInode, p));
  const prefetchOffset = blobTableOffset + blobTableSize;
  const prefetchSize = prefetchNodes.length * 4;
  const metaBlock = Math.ceil((prefetchOffset + prefetchSize) / BLOCK);
  // The root sits one block past meta_blkaddr (nid 128), as in Nydus: nid 0 would read as a
  // deleted entry to readdir.
  let cursor: number = BLOCK;
  for (const n of nodes) cursor = place(n, cursor, chunkSize);
  let nextBlock = metaBlock + Math.ceil(cursor / BLOCK);
  for (const n of nodes) {
    const outside = outsideBlocks(n);
    if (outside > 0) {
      n.dataBlock = nextBlock;
      nextBlock += outside;
    }
  }
  const chunkRecords = distinctChunks(nodes);
  const chunkTableOffset = nextBlock * BLOCK;
  const chunkTableSize = chunkRecords.length * V6.CHUNK_INFO_SIZE;
  const total = alignUp(chunkTableOffset + chunkTableSize, BLOCK);
  const rootNid = nodes[0]!.offset / SLOT;
  const devices = deviceSlots(blobs, total);

  // ---- serialisation -----------------------------------------------------------------------
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  const metaBase = metaBlock * BLOCK;

  // EROFS superblock
  const sb = V6.SUPERBLOCK_OFFSET;
  view.setUint32(sb, V6.MAGIC, true);
  view.setUint32(sb + 8, V6.FEATURE_COMPAT_RAFS_V6, true);
  out[sb + 12] = EROFS_BLOCK_BITS;
  view.setUint16(sb + 14, rootNid, true);
  view.setBigUint64(sb + 16, BigInt(nodes.length), true);
  // build time (24) and its nsec (32) stay 0. blocks: Nydus counts the blob devices' blocks (and
  // nydusd insists on 0 when there is no blob).
  view.setUint32(sb + 36, devices.reduce((n, d) => n + d.blocks, 0), true);
  view.setUint32(sb + 40, metaBlock, true);
  view.setUint32(sb + 80, V6.FEATURE_INCOMPAT_CHUNKED_FILE | V6.FEATURE_INCOMPAT_DEVICE_TABLE, true);
  view.setUint16(sb + 86, blobs.length, true);
  view.setUint16(sb + 88, V6.DEVT_SLOTOFF, true);

  // RAFS extended superblock
  const ext = V6.EXT_SUPERBLOCK_OFFSET;
  view.setBigUint64(ext, BigInt(rafsFlags(input, nodes)), true);
  view.setBigUint64(ext + 8, BigInt(blobTableOffset), true);
  view.setUint32(ext + 16, blobTableSize, true);
  view.setUint32(ext + 20, chunkSize, true);
  view.setBigUint64(ext + 24, BigInt(chunkTableSize === 0 ? 0 : chunkTableOffset), true);
  view.setBigUint64(ext + 32, BigInt(chunkTableSize), true);
  view.setBigUint64(ext + 40, BigInt(prefetchSize === 0 ? 0 : prefetchOffset), true);
  view.setUint32(ext + 48, prefetchSize, true);

  // device table and blob table: device i+1 is blob i
  blobs.forEach((blob, i) => {
    const id = utf8.encode(blob.blobId);
    const dev = V6.DEVICE_TABLE_OFFSET + i * V6.DEVICE_SLOT_SIZE;
    out.set(id, dev);
    view.setUint32(dev + 64, devices[i]!.blocks, true);
    view.setUint32(dev + 68, devices[i]!.mappedBlock, true);
    writeBlobEntry(out, view, blobTableOffset + i * V6.BLOB_TABLE_ENTRY_SIZE, blob, i, id);
  });
  prefetchNodes.forEach((n, i) => view.setUint32(prefetchOffset + i * 4, n.offset / SLOT, true));

  nodes.forEach((n, i) => writeInode(out, view, metaBase, n, i + 1, chunkBits));
  chunkRecords.forEach((c, i) => writeChunkRecord(out, view, chunkTableOffset + i * V6.CHUNK_INFO_SIZE, c));
  return out;
}

/** Depth-first, names in byte order; a hardlinked inode appears once, at its first path. */
function collect(root: RafsInode): { nodes: Node[]; byInode: Map<RafsInode, Node> } {
  const nodes: Node[] = [];
  const seen = new Map<RafsInode, Node>();
  const visit = (inode: RafsInode, path: string, parent: Node | undefined, depth: number): Node => {
    const existing = seen.get(inode);
    if (existing) {
      if (existing.kind === "dir") throw new StrataError("INVALID_ARGUMENT", `directory ${existing.path} is reachable twice (at ${path})`, { path });
      existing.nlink++;
      return existing;
    }
    if (depth > 4096) throw new StrataError("INVALID_ARGUMENT", `tree deeper than 4096 at ${path}`, { path });
    const kind = kindOf(inode.mode);
    if (!kind) throw new StrataError("INVALID_ARGUMENT", `${path} has mode 0o${inode.mode.toString(8)} with no file type`, { path });
    if ((kind === "dir") !== (inode.entries !== undefined)) {
      throw new StrataError("INVALID_ARGUMENT", `${path} is a ${kind} ${inode.entries ? "with" : "without"} directory entries`, { path });
    }
    const node: Node = { inode, kind, path, parent, nlink: 1, extended: false, xattrs: new Uint8Array(0), layout: V6.LAYOUT_FLAT_PLAIN, offset: 0, dataBlock: 0 };
    seen.set(inode, node);
    nodes.push(node);
    if (inode.entries) {
      node.dirents = [];
      // Each name encoded once, then sorted by its bytes.
      const names = [...inode.entries.keys()].map((name) => ({ name, bytes: utf8.encode(name) })).sort((a, b) => compareBytes(a.bytes, b.bytes));
      for (const { name, bytes } of names) {
        const child = visit(inode.entries.get(name)!, path === "/" ? `/${name}` : `${path}/${name}`, node, depth + 1);
        node.dirents.push({ name: bytes, node: child });
      }
    }
    return node;
  };
  visit(root, "/", undefined, 0);
  return { nodes, byInode: seen };
}

/** Decides inode format, xattrs, data and layout of one node (sizes only; no positions yet). */
function prepare(n: Node, chunkSize: number, blobs: readonly BlobInfo[]): void {
  const { inode } = n;
  if (n.kind === "dir") n.nlink = 2 + n.dirents!.filter((d) => d.node.kind === "dir" && d.node.parent === n).length;
  n.xattrs = encodeXattrs(inode, n.path);
  const size = fileSize(n);
  // A compact inode has 16-bit uid/gid/nlink, a 32-bit size and no mtime (see the header).
  n.extended = inode.uid > 0xffff || inode.gid > 0xffff || size > 0xffffffff || n.nlink > 0xffff || inode.mtime !== 0 || inode.mtimeNsec !== 0;
  if (n.kind === "dir") n.data = directoryBlocks(n);
  else if (n.kind === "symlink") {
    const target = utf8.encode(inode.target ?? "");
    if (target.length === 0 || target.length >= BLOCK) throw new StrataError("INVALID_ARGUMENT", `${n.path}: symlink target of ${target.length} bytes`, { path: n.path });
    n.data = target;
  } else if (n.kind === "file") {
    const chunks = inode.chunks ?? [];
    if (inode.size > 0) {
      n.layout = V6.LAYOUT_CHUNK_BASED;
      const expected = Math.ceil(inode.size / chunkSize);
      if (chunks.length !== expected) throw new StrataError("INVALID_ARGUMENT", `${n.path}: ${chunks.length} chunks for ${inode.size} bytes at chunk size ${chunkSize}`, { path: n.path });
      chunks.forEach((c, i) => {
        if (c.fileOffset !== i * chunkSize || c.uncompressedSize !== Math.min(chunkSize, inode.size - i * chunkSize)) {
          throw new StrataError("INVALID_ARGUMENT", `${n.path}: chunk ${i} does not cover its part of the file`, { path: n.path, chunk: i });
        }
        // The chunk index holds a device byte, a 24-bit table index and a block address.
        if (!blobs[c.blobIndex] || c.index < 0 || c.index > 0xff_ffff || c.uncompressedOffset % BLOCK !== 0 || c.uncompressedOffset / BLOCK > 0xffff_ffff) {
          throw new StrataError("INVALID_ARGUMENT", `${n.path}: chunk ${i} (blob ${c.blobIndex}, index ${c.index}, uncompressed offset ${c.uncompressedOffset}) cannot be addressed`, { path: n.path, chunk: i });
        }
      });
    }
  }
}

function fileSize(n: Node): number {
  if (n.kind === "file") return n.inode.size;
  if (n.kind === "symlink") return utf8.encode(n.inode.target ?? "").length;
  return 0;
}

/** Inode (+ xattrs) size in bytes. */
function headSize(n: Node): number {
  return (n.extended ? V6.INODE_EXTENDED_SIZE : V6.INODE_COMPACT_SIZE) + n.xattrs.length;
}

/** Places node `n` at or after `cursor`; returns the next free (32-aligned) position. */
function place(n: Node, cursor: number, chunkSize: number): number {
  const head = headSize(n);
  if (n.layout === V6.LAYOUT_CHUNK_BASED) {
    n.offset = cursor;
    const indexes = alignUp(cursor + head, V6.CHUNK_ADDR_SIZE) + Math.ceil(n.inode.size / chunkSize) * V6.CHUNK_ADDR_SIZE;
    return alignUp(indexes, SLOT);
  }
  if (n.data && n.data.length > 0) {
    const tail = n.data.length - (Math.ceil(n.data.length / BLOCK) - 1) * BLOCK;
    // The inline tail must share the inode's block (EROFS reads them with one block access).
    if (tail < BLOCK && head + tail <= BLOCK) {
      if ((cursor % BLOCK) + head + tail > BLOCK) cursor = alignUp(cursor, BLOCK);
      n.offset = cursor;
      n.layout = V6.LAYOUT_FLAT_INLINE;
      return alignUp(cursor + head + tail, SLOT);
    }
    n.layout = V6.LAYOUT_FLAT_PLAIN;
  }
  n.offset = cursor;
  return alignUp(cursor + head, SLOT);
}

/** Data blocks of `n` stored outside the inode area. */
function outsideBlocks(n: Node): number {
  if (!n.data || n.data.length === 0) return 0;
  const blocks = Math.ceil(n.data.length / BLOCK);
  return n.layout === V6.LAYOUT_FLAT_INLINE ? blocks - 1 : blocks;
}

/** Directory blocks: "." and ".." with the children, sorted by name bytes, packed per 4 KiB block. */
function directoryBlocks(n: Node): Uint8Array {
  const entries = [
    { name: utf8.encode("."), node: n },
    { name: utf8.encode(".."), node: n.parent ?? n },
    ...n.dirents!,
  ].sort((a, b) => compareBytes(a.name, b.name));
  n.dirents = entries;
  const blocks: { start: number; count: number; used: number }[] = [];
  let block = { start: 0, count: 0, used: 0 };
  entries.forEach((e, i) => {
    if (e.name.length > 255) throw new StrataError("INVALID_ARGUMENT", `${n.path}: a name of ${e.name.length} bytes`, { path: n.path });
    const need = V6.DIRENT_SIZE + e.name.length;
    if (block.used + need > BLOCK) {
      blocks.push(block);
      block = { start: i, count: 0, used: 0 };
    }
    block.count++;
    block.used += need;
  });
  blocks.push(block);
  const size = (blocks.length - 1) * BLOCK + block.used;
  const data = new Uint8Array(size);
  // nids are filled in at serialisation; here only names and name offsets.
  blocks.forEach((b, bi) => {
    let nameOff = b.count * V6.DIRENT_SIZE;
    for (let j = 0; j < b.count; j++) {
      const e = entries[b.start + j]!;
      const d = bi * BLOCK + j * V6.DIRENT_SIZE;
      data[d + 8] = nameOff & 0xff;
      data[d + 9] = nameOff >> 8;
      data[d + 10] = FILE_TYPE[e.node.kind];
      data.set(e.name, bi * BLOCK + nameOff);
      nameOff += e.name.length;
    }
  });
  return data;
}

/** Inline xattrs: a 12-byte ibody header, then entries (name index + suffix + value) 4-aligned. */
function encodeXattrs(inode: RafsInode, path: string): Uint8Array {
  if (inode.xattrs.size === 0) return new Uint8Array(0);
  const parts: Uint8Array[] = [];
  let size = V6.XATTR_IBODY_HEADER_SIZE;
  for (const name of [...inode.xattrs.keys()].sort(compareNames)) {
    const value = inode.xattrs.get(name)!;
    const known = XATTR_PREFIXES.find(([p]) => name.startsWith(p));
    // EROFS stores names as a prefix index and a suffix; a name with no known prefix could
    // never be read back (Nydus rejects it too).
    if (!known) throw new StrataError("UNSUPPORTED", `${path}: xattr ${name} has no EROFS name prefix`, { path, xattr: name });
    const [prefix, index] = known;
    const suffix = utf8.encode(name.slice(prefix.length));
    if (suffix.length > 255 || value.length > 0xffff) throw new StrataError("UNSUPPORTED", `${path}: xattr ${name} is too large for EROFS`, { path, xattr: name });
    const entry = new Uint8Array(alignUp(V6.XATTR_ENTRY_SIZE + suffix.length + value.length, 4));
    entry[0] = suffix.length;
    entry[1] = index;
    entry[2] = value.length & 0xff;
    entry[3] = value.length >> 8;
    entry.set(suffix, 4);
    entry.set(value, 4 + suffix.length);
    parts.push(entry);
    size += entry.length;
  }
  if (size > 0xffff * 4) throw new StrataError("UNSUPPORTED", `${path}: inline xattrs of ${size} bytes`, { path });
  const out = new Uint8Array(size);
  let at = V6.XATTR_IBODY_HEADER_SIZE;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function writeInode(out: Uint8Array, view: DataView, metaBase: number, n: Node, ino: number, chunkBits: number): void {
  const { inode } = n;
  const at = metaBase + n.offset;
  const size = n.kind === "dir" ? n.data!.length : fileSize(n);
  const icount = n.xattrs.length === 0 ? 0 : (n.xattrs.length - V6.XATTR_IBODY_HEADER_SIZE) / 4 + 1;
  let u = 0;
  if (n.layout === V6.LAYOUT_CHUNK_BASED) u = V6.CHUNK_FORMAT_INDEXES | (chunkBits - 12);
  else if (n.kind === "chardev" || n.kind === "blockdev") u = inode.rdev >>> 0;
  else if (outsideBlocks(n) > 0) u = n.dataBlock;
  const format = (n.extended ? 1 : 0) | (n.layout << 1);
  view.setUint16(at, format, true);
  view.setUint16(at + 2, icount, true);
  view.setUint16(at + 4, inode.mode & 0xffff, true);
  if (n.extended) {
    view.setBigUint64(at + 8, BigInt(size), true);
    view.setUint32(at + 16, u, true);
    view.setUint32(at + 20, ino, true);
    view.setUint32(at + 24, inode.uid >>> 0, true);
    view.setUint32(at + 28, inode.gid >>> 0, true);
    view.setBigInt64(at + 32, BigInt(inode.mtime), true);
    view.setUint32(at + 40, inode.mtimeNsec >>> 0, true);
    view.setUint32(at + 44, n.nlink, true);
  } else {
    view.setUint16(at + 6, n.nlink, true);
    view.setUint32(at + 8, size, true);
    view.setUint32(at + 16, u, true);
    view.setUint32(at + 20, ino, true);
    view.setUint16(at + 24, inode.uid, true);
    view.setUint16(at + 26, inode.gid, true);
  }
  const head = headSize(n);
  out.set(n.xattrs, at + head - n.xattrs.length);

  if (n.layout === V6.LAYOUT_CHUNK_BASED) {
    let a = alignUp(at + head, V6.CHUNK_ADDR_SIZE);
    for (const c of inode.chunks!) {
      // blob_addr_lo/hi: 24-bit compression-table index and the device (blob index + 1).
      view.setUint16(a, c.index & 0xffff, true);
      view.setUint16(a + 2, ((c.index >>> 16) << 8) | (c.blobIndex + 1), true);
      view.setUint32(a + 4, c.uncompressedOffset / BLOCK, true);
      a += V6.CHUNK_ADDR_SIZE;
    }
    return;
  }
  if (!n.data || n.data.length === 0) return;
  const data = n.dirents ? withNids(n) : n.data;
  const blocks = Math.ceil(data.length / BLOCK);
  const outside = outsideBlocks(n);
  out.set(data.subarray(0, outside * BLOCK), n.dataBlock * BLOCK);
  if (n.layout === V6.LAYOUT_FLAT_INLINE) out.set(data.subarray((blocks - 1) * BLOCK), at + head);
}

/** The directory blocks with each dirent's nid filled in. */
function withNids(n: Node): Uint8Array {
  const data = n.data!.slice();
  const view = new DataView(data.buffer);
  let i = 0;
  for (let block = 0; block * BLOCK < data.length; block++) {
    const first = view.getUint16(block * BLOCK + 8, true);
    for (let j = 0; j < first / V6.DIRENT_SIZE; j++) {
      view.setBigUint64(block * BLOCK + j * V6.DIRENT_SIZE, BigInt(n.dirents![i++]!.node.offset / SLOT), true);
    }
  }
  return data;
}

/** One record per distinct (blob, compression-table index), sorted by digest then position. */
function distinctChunks(nodes: readonly Node[]): ChunkInfo[] {
  const byKey = new Map<number, ChunkInfo>();
  for (const n of nodes) {
    for (const c of n.inode.chunks ?? []) {
      const key = c.blobIndex * 0x100_0000 + c.index;
      if (!byKey.has(key)) byKey.set(key, c);
    }
  }
  return [...byKey.values()].sort((a, b) => compareBytes(a.digest, b.digest) || a.blobIndex - b.blobIndex || a.index - b.index);
}

function writeChunkRecord(out: Uint8Array, view: DataView, at: number, c: ChunkInfo): void {
  out.set(c.digest.subarray(0, 32), at);
  view.setUint32(at + 32, c.blobIndex, true);
  view.setUint32(at + 36, c.flags, true);
  view.setUint32(at + 40, c.compressedSize, true);
  view.setUint32(at + 44, c.uncompressedSize, true);
  view.setBigUint64(at + 48, BigInt(c.compressedOffset), true);
  view.setBigUint64(at + 56, BigInt(c.uncompressedOffset), true);
  view.setBigUint64(at + 64, BigInt(c.fileOffset), true);
  view.setUint32(at + 72, c.index, true);
  view.setUint32(at + 76, c.crc32, true);
}

function writeBlobEntry(out: Uint8Array, view: DataView, at: number, blob: BlobInfo, index: number, id: Uint8Array): void {
  out.set(id, at);
  view.setUint32(at + 64, index, true);
  view.setUint32(at + 68, blob.chunkSize, true);
  view.setUint32(at + 72, blob.chunkCount, true);
  view.setUint32(at + 76, Compressor[blob.compressor], true);
  view.setUint32(at + 80, Digester[blob.digester], true);
  view.setUint32(at + 84, blob.features, true);
  view.setBigUint64(at + 88, BigInt(blob.compressedSize), true);
  view.setBigUint64(at + 96, BigInt(blob.uncompressedSize), true);
  view.setUint32(at + 104, blob.meta.tocSize, true);
  view.setUint32(at + 108, Compressor[blob.meta.compressor], true);
  view.setBigUint64(at + 112, BigInt(blob.meta.offset), true);
  view.setBigUint64(at + 120, BigInt(blob.meta.compressedSize), true);
  view.setBigUint64(at + 128, BigInt(blob.meta.uncompressedSize), true);
  if (blob.meta.tocDigest) out.set(blob.meta.tocDigest.subarray(0, 32), at + 136);
  if (blob.meta.metaDigest) out.set(blob.meta.metaDigest.subarray(0, 32), at + 168);
  view.setBigUint64(at + 200, BigInt(blob.meta.metaSize ?? 0), true);
}

function checkBlob(blob: BlobInfo, i: number): void {
  // A chunk index names its device (blob index + 1) in one byte.
  if (i >= 0xff) throw new StrataError("UNSUPPORTED", `blob ${blob.blobId}: RAFS v6 addresses at most 255 blobs`, { blob: i });
  if (!/^[0-9a-f]{64}$/.test(blob.blobId)) throw new StrataError("INVALID_ARGUMENT", `blob ${i} id ${JSON.stringify(blob.blobId)} is not 64 hex digits`, { blob: i });
  if (blob.blobIndex !== i) throw new StrataError("INVALID_ARGUMENT", `blob ${blob.blobId} has index ${blob.blobIndex} but is entry ${i} of the blob table`, { blob: i });
  // nydusd rejects a device of 0 blocks.
  if (blob.uncompressedSize <= 0 || blob.uncompressedSize % BLOCK !== 0) {
    throw new StrataError("INVALID_ARGUMENT", `blob ${blob.blobId}: uncompressed size ${blob.uncompressedSize} is not a positive multiple of 4 KiB`, { blob: i });
  }
}

/** Nydus maps each blob device into one block space after the bootstrap, at 512 KiB steps (builder/src/core/v6.rs). */
const DEVICE_ALIGNMENT = 0x8_0000;

function deviceSlots(blobs: readonly BlobInfo[], bootstrapSize: number): { blocks: number; mappedBlock: number }[] {
  let end = bootstrapSize;
  let total = 0;
  return blobs.map((b) => {
    const blocks = b.uncompressedSize / BLOCK;
    const mappedBlock = alignUp(end, DEVICE_ALIGNMENT) / BLOCK;
    end = (mappedBlock + blocks) * BLOCK;
    total += blocks;
    if (total > 0xffff_ffff || mappedBlock + blocks > 0xffff_ffff) throw new StrataError("UNSUPPORTED", `blob ${b.blobId}: more than 2^32 blocks of blob devices`, { blob: b.blobIndex });
    return { blocks, mappedBlock };
  });
}

function rafsFlags(input: BootstrapInput, nodes: readonly Node[]): number {
  const compression = { none: RafsFlags.COMPRESSION_NONE, lz4_block: RafsFlags.COMPRESSION_LZ4, zstd: RafsFlags.COMPRESSION_ZSTD, gzip: RafsFlags.COMPRESSION_GZIP }[input.compressor];
  const hash = input.digester === "blake3" ? RafsFlags.HASH_BLAKE3 : RafsFlags.HASH_SHA256;
  const xattr = nodes.some((n) => n.xattrs.length > 0) ? RafsFlags.HAS_XATTR : 0;
  // As Nydus: INLINED_CHUNK_DIGEST when every blob carries blob.digest; uid/gid are stored as given.
  const digests = input.blobs.every((b) => (b.features & BlobFeatures.INLINED_CHUNK_DIGEST) !== 0) ? RafsFlags.INLINED_CHUNK_DIGEST : 0;
  return compression | hash | xattr | digests | RafsFlags.EXPLICIT_UID_GID;
}

function prefetchNode(root: RafsInode, byInode: ReadonlyMap<RafsInode, Node>, path: string): Node {
  // Resolved through the tree: a hardlink is listed under its first path only.
  let inode: RafsInode | undefined = root;
  for (const name of path.split("/").filter(Boolean)) inode = inode?.entries?.get(name);
  const node = inode && byInode.get(inode);
  if (!node) throw new StrataError("NOT_FOUND", `prefetch path ${path} is not in the tree`, { path });
  return node;
}

function alignUp(n: number, to: number): number {
  return Math.ceil(n / to) * to;
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}
