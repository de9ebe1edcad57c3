/**
 * RAFS v5 bootstrap reader (read-only support for older Nydus images): an 8 KiB superblock, an
 * inode table of 8-byte-aligned offsets, 128-byte inodes each followed by its name, symlink
 * target, xattrs and chunk records, and a blob table (plus the optional extended blob table).
 * Directories list their children as a run of consecutive inode-table entries.
 */
import type { Hasher } from "../kernels/kernel.js";
import { walk } from "../fs/inode.js";
import { CHUNK_SIZE_MAX, CHUNK_SIZE_MIN, V5 } from "./layout.js";
import type { BlobInfo, RafsImage, RafsInode } from "./types.js";
import { algorithmsFromFlags, Bytes, compareBytes, decodeChunkInfo, decodeName, isPowerOfTwo, Problems, SlotOwners } from "./bootstrap-check.js";
import { kindOf } from "../fs/inode.js";

const { ALIGNMENT: ALIGN, EXT_BLOB_ENTRY_SIZE } = V5;
const XATTR_TABLE_HEADER = 8;
const align8 = (n: number) => (n + ALIGN - 1) & ~(ALIGN - 1);
const utf8 = new TextEncoder();

/** Parses a RAFS v5 bootstrap; throws BAD_BOOTSTRAP naming the first problem. */
export function parseBootstrapV5(bytes: Uint8Array): RafsImage {
  return readBootstrapV5(bytes, new Problems(false))!;
}

/** Parses what can be trusted, reporting every problem; undefined when the superblock is unusable. */
export function readBootstrapV5(bytes: Uint8Array, problems: Problems): RafsImage | undefined {
  const b = new Bytes(bytes);
  const p = problems;
  if (!p.check(b.length >= V5.SUPERBLOCK_SIZE, `bootstrap of ${b.length} bytes is too short for a RAFS v5 superblock`, { offset: 0 })) return undefined;
  if (!p.check(b.u32(0) === V5.MAGIC, `bad RAFS v5 magic 0x${b.u32(0).toString(16)}`, { offset: 0 })) return undefined;
  if (!p.check(b.u32(4) === V5.FS_VERSION, `RAFS version 0x${b.u32(4).toString(16)} is not 0x500`, { offset: 4 })) return undefined;
  p.check(b.u32(8) === V5.SUPERBLOCK_SIZE, `superblock size ${b.u32(8)} is not ${V5.SUPERBLOCK_SIZE}`, { offset: 8 });
  const chunkSize = b.u32(12);
  if (!p.check(isPowerOfTwo(chunkSize) && chunkSize >= CHUNK_SIZE_MIN && chunkSize <= CHUNK_SIZE_MAX, `invalid chunk size ${chunkSize}`, { offset: 12 }))
    return undefined;
  const flags = b.u32(16);
  const { compressor, digester } = algorithmsFromFlags(flags);
  p.check(compressor !== undefined, `flags 0x${flags.toString(16)} name no single compressor`, { offset: 16 });
  p.check(digester !== undefined, `flags 0x${flags.toString(16)} name no single digester`, { offset: 16 });

  const inodeTableOffset = b.u64(32);
  const inodeTableEntries = b.u32(56);
  if (!p.check(inodeTableOffset >= V5.SUPERBLOCK_SIZE && b.has(inodeTableOffset, inodeTableEntries * 4), "inode table lies outside the bootstrap", { offset: 32 }))
    return undefined;
  if (!p.check(inodeTableEntries > 0, "inode table is empty", { offset: 56 })) return undefined;

  const blobs = readBlobTables(b, p, chunkSize, compressor ?? "none", digester ?? "blake3");
  const tree = new TreeBuilder(b, p, inodeTableOffset, inodeTableEntries, chunkSize, blobs.length);
  const root = tree.build();
  if (!root) return undefined;

  const prefetch: string[] = [];
  const prefetchOffset = b.u64(40);
  const prefetchEntries = b.u32(60);
  if (prefetchEntries > 0 && p.check(b.has(prefetchOffset, prefetchEntries * 4), "prefetch table lies outside the bootstrap", { offset: 40 })) {
    for (let i = 0; i < prefetchEntries; i++) {
      const ino = b.u32(prefetchOffset + i * 4);
      const path = tree.pathsByIno.get(ino);
      if (p.check(path !== undefined, `prefetch table names unknown inode ${ino}`, { offset: prefetchOffset + i * 4 })) prefetch.push(path!);
    }
  }

  return { version: 5, root, blobs, chunkSize, digester: digester ?? "blake3", compressor: compressor ?? "none", flags, prefetch };
}

/** Blob table entries are `u32 readahead offset, u32 readahead size, blob id`, NUL-separated. */
function readBlobTables(b: Bytes, p: Problems, chunkSize: number, compressor: BlobInfo["compressor"], digester: BlobInfo["digester"]): BlobInfo[] {
  const offset = b.u64(48);
  const size = b.u32(64);
  const blobs: BlobInfo[] = [];
  if (size === 0) return blobs;
  if (!p.check(offset >= V5.SUPERBLOCK_SIZE && b.has(offset, size), "blob table lies outside the bootstrap", { offset: 48 })) return blobs;

  const extEntries = b.u32(68);
  const extOffset = b.u64(72);
  const extOk = extEntries === 0 || p.check(b.has(extOffset, extEntries * EXT_BLOB_ENTRY_SIZE), "extended blob table lies outside the bootstrap", { offset: 72 });

  const end = offset + size;
  let pos = offset;
  // Entries are NUL-separated; the table is padded to 8 bytes, so a shorter rest is padding.
  while (end - pos > 8) {
    const start = pos;
    let idEnd = pos + 8;
    while (idEnd < end && b.u8(idEnd) !== 0) idEnd++;
    const blobId = decodeName(b.slice(pos + 8, idEnd - pos - 8));
    p.check(/^[0-9a-f]{64}$/.test(blobId), `blob table entry ${blobs.length} has blob id "${blobId}"`, { offset: start });
    pos = idEnd + 1;
    const info: BlobInfo = {
      blobId,
      blobIndex: blobs.length,
      chunkSize,
      chunkCount: 0,
      compressor,
      digester,
      features: 0,
      compressedSize: 0,
      uncompressedSize: 0,
      meta: { compressor: "none", offset: 0, compressedSize: 0, uncompressedSize: 0, tocSize: 0 },
    };
    if (extEntries > 0 && extOk) {
      if (p.check(blobs.length < extEntries, `extended blob table has no entry for blob ${blobs.length}`, { offset: 68 })) {
        const e = extOffset + blobs.length * EXT_BLOB_ENTRY_SIZE;
        info.chunkCount = b.u32(e);
        info.features = b.u32(e + 4);
        info.uncompressedSize = b.u64(e + 8);
        info.compressedSize = b.u64(e + 16);
      }
    }
    blobs.push(info);
  }
  return blobs;
}

class TreeBuilder {
  readonly pathsByIno = new Map<number, string>();
  /** Table indices already listed by a directory, and inode offsets already used by an index. */
  private readonly listed = new Set<number>();
  private readonly offsets = new Map<number, number>();
  private readonly hardlinks = new Map<number, RafsInode>();

  private readonly owners: SlotOwners;

  constructor(
    private readonly b: Bytes,
    private readonly p: Problems,
    private readonly tableOffset: number,
    private readonly entries: number,
    private readonly chunkSize: number,
    private readonly blobCount: number,
  ) {
    this.owners = new SlotOwners(b.length, ALIGN);
    this.owners.claim(0, V5.SUPERBLOCK_SIZE, -1, "the superblock");
    this.owners.claim(tableOffset, tableOffset + entries * 4, -2, "the inode table");
  }

  build(): RafsInode | undefined {
    const root = this.readInode(1, "/", 0);
    if (root && !root.entries) return this.p.add("root inode is not a directory", { path: "/" }) || undefined;
    if (root) this.readChildren(root, 1, "/");
    return root;
  }

  /** Marks [start, end) as part of inode `index`'s record; false (a problem) if it overlaps another. */
  private claim(index: number, start: number, end: number, path: string): boolean {
    const overlap = this.owners.claim(start, end, index, `inode ${index} (${path})`);
    return this.p.check(overlap === undefined, `inode record overlaps ${overlap}`, { path, offset: start });
  }

  /** Offset of the inode at table index `index` (1-based), or undefined. */
  private inodeOffset(index: number, path: string): number | undefined {
    if (!this.p.check(index >= 1 && index <= this.entries, `inode index ${index} is outside the inode table`, { path })) return undefined;
    const offset = this.b.u32(this.tableOffset + (index - 1) * 4) * ALIGN;
    if (!this.p.check(offset > V5.SUPERBLOCK_SIZE && this.b.has(offset, V5.INODE_SIZE), `inode ${index} offset ${offset} is invalid`, { path, offset: this.tableOffset + (index - 1) * 4 }))
      return undefined;
    const owner = this.offsets.get(offset) ?? index;
    if (!this.p.check(owner === index, `inode indices ${owner} and ${index} share the inode at offset ${offset}`, { path, offset })) return undefined;
    this.offsets.set(offset, index);
    return offset;
  }

  private readInode(index: number, path: string, parentIno: number): RafsInode | undefined {
    const { b, p } = this;
    const offset = this.inodeOffset(index, path);
    if (offset === undefined) return undefined;
    const where = { path, offset };
    const mode = b.u32(offset + 60);
    const kind = kindOf(mode);
    if (!p.check(kind !== undefined && mode <= 0xffff, `inode mode 0o${mode.toString(8)} has no file type`, where)) return undefined;
    const ino = b.u64(offset + 40);
    const inodeFlags = b.u32(offset + 80);
    if (!p.check(ino > 0 && Number.isSafeInteger(ino), `inode number ${ino} is invalid`, where)) return undefined;
    if (parentIno !== 0) p.check(b.u64(offset + 32) === parentIno, `inode parent ${b.u64(offset + 32)} is not the directory ${parentIno}`, where);
    p.check(b.u32(offset + 88) > 0, "inode link count is 0", where);

    const nameSize = b.u16(offset + 100);
    const symlinkSize = b.u16(offset + 102);
    let pos = offset + V5.INODE_SIZE;
    if (!p.check(b.has(pos, align8(nameSize) + align8(symlinkSize)), "inode name or symlink runs past the end", where)) return undefined;
    pos += align8(nameSize);
    const targetBytes = b.slice(pos, symlinkSize);
    pos += align8(symlinkSize);
    if (!this.claim(index, offset, pos, path)) return undefined;

    // Hardlinks are separate records sharing an inode number (the HARDLINK flag is not reliably set).
    const shared = kind !== "dir" ? this.hardlinks.get(ino) : undefined;
    if (shared) p.check(shared.mode === mode && shared.size === b.u64(offset + 64), `hardlink of inode ${ino} disagrees on mode or size`, where);
    const inode: RafsInode = shared ?? {
      mode,
      uid: b.u32(offset + 48),
      gid: b.u32(offset + 52),
      size: kind === "file" || kind === "symlink" ? b.u64(offset + 64) : 0,
      rdev: kind === "chardev" || kind === "blockdev" ? b.u32(offset + 104) : 0,
      mtime: b.u64(offset + 112),
      mtimeNsec: b.u32(offset + 108),
      xattrs: new Map(),
      ino,
      digest: b.data.slice(offset, offset + 32),
    };
    if (!this.pathsByIno.has(ino)) this.pathsByIno.set(ino, path);
    if (shared) return shared;
    if (kind !== "dir") this.hardlinks.set(ino, inode);

    if (inodeFlags & V5.INODE_XATTR) {
      const size = this.readXattrs(inode, pos, path);
      if (size === undefined || !this.claim(index, pos, pos + size, path)) return undefined;
      pos += size;
    }
    const childCount = b.u32(offset + 96);
    switch (kind) {
      case "symlink":
        if (!p.check(symlinkSize > 0 && symlinkSize === inode.size, `symlink target size ${symlinkSize} disagrees with inode size ${inode.size}`, where))
          return undefined;
        inode.target = decodeName(targetBytes);
        break;
      case "dir":
        inode.entries = new Map();
        break;
      case "file": {
        const expected = Math.ceil(inode.size / this.chunkSize);
        const holes = (inodeFlags & V5.INODE_HAS_HOLE) !== 0;
        p.check(holes || childCount === expected, `file has ${childCount} chunks, its size needs ${expected}`, where);
        if (!p.check(b.has(pos, childCount * V5.CHUNK_INFO_SIZE), `${childCount} chunk records run past the end`, where)) return undefined;
        if (!this.claim(index, pos, pos + childCount * V5.CHUNK_INFO_SIZE, path)) return undefined;
        inode.chunks = [];
        for (let i = 0; i < childCount; i++) {
          const at = pos + i * V5.CHUNK_INFO_SIZE;
          const chunk = decodeChunkInfo(b, at);
          p.check(chunk.blobIndex < this.blobCount, `chunk ${i} names blob ${chunk.blobIndex} of ${this.blobCount}`, { path, offset: at });
          p.check(chunk.fileOffset < Math.max(inode.size, 1), `chunk ${i} file offset ${chunk.fileOffset} is past the file size`, { path, offset: at });
          inode.chunks.push(chunk);
        }
        break;
      }
    }
    return inode;
  }

  /** v5 xattrs: u64 total size, then `u32 pair size, name NUL value` pairs; returns bytes used. */
  private readXattrs(inode: RafsInode, offset: number, path: string): number | undefined {
    const { b, p } = this;
    if (!p.check(b.has(offset, XATTR_TABLE_HEADER), "xattr table runs past the end", { path, offset })) return undefined;
    const size = b.u64(offset);
    if (!p.check(b.has(offset + XATTR_TABLE_HEADER, size), `xattr table of ${size} bytes runs past the end`, { path, offset })) return undefined;
    const end = offset + XATTR_TABLE_HEADER + size;
    let pos = offset + XATTR_TABLE_HEADER;
    while (pos < end) {
      if (!p.check(pos + 4 <= end, "truncated xattr pair", { path, offset: pos })) return undefined;
      const pairSize = b.u32(pos);
      if (!p.check(pos + 4 + pairSize <= end, "xattr pair runs past the table", { path, offset: pos })) return undefined;
      const pair = b.slice(pos + 4, pairSize);
      const nul = pair.indexOf(0);
      if (p.check(nul > 0, "xattr pair has no NUL-terminated name", { path, offset: pos })) {
        inode.xattrs.set(decodeName(pair.subarray(0, nul)), pair.slice(nul + 1));
      }
      pos += 4 + pairSize;
    }
    return align8(XATTR_TABLE_HEADER + size);
  }

  /** Children of a directory: `child_count` consecutive table entries from `child_index`. */
  private readChildren(dir: RafsInode, index: number, path: string, depth = 0): void {
    const { b, p } = this;
    if (!p.check(depth < 2048, "directory tree deeper than 2048", { path })) return;
    const offset = this.inodeOffset(index, path)!;
    const first = b.u32(offset + 92);
    const count = b.u32(offset + 96);
    if (count === 0) return;
    if (!p.check(first > index && first + count - 1 <= this.entries, `children [${first}, +${count}) lie outside the inode table`, { path, offset }))
      return;
    let previous: Uint8Array | undefined;
    for (let i = first; i < first + count; i++) {
      // Each inode belongs to one directory: stopping at the first repeat also keeps hostile
      // overlapping child ranges from costing quadratic time.
      if (!p.check(!this.listed.has(i), `inode index ${i} is listed by two directories`, { path, offset })) return;
      this.listed.add(i);
      const childOffset = this.inodeOffset(i, path);
      if (childOffset === undefined) continue;
      const nameSize = b.u16(childOffset + 100);
      const raw = b.slice(childOffset + V5.INODE_SIZE, Math.min(nameSize, b.length - childOffset - V5.INODE_SIZE));
      const name = decodeName(raw);
      const childPath = path === "/" ? `/${name}` : `${path}/${name}`;
      const valid = raw.length > 0 && !raw.includes(0x2f) && !raw.includes(0) && name !== "." && name !== "..";
      if (!p.check(valid, `invalid entry name "${name}"`, { path: childPath, offset: childOffset })) continue;
      if (previous) p.check(compareBytes(previous, raw) < 0, `entries are not strictly sorted at "${name}"`, { path: childPath, offset: childOffset });
      previous = raw;
      if (!p.check(!dir.entries!.has(name), `duplicate entry "${name}"`, { path: childPath, offset: childOffset })) continue;
      const child = this.readInode(i, childPath, dir.ino!);
      if (!child) continue;
      dir.entries!.set(name, child);
      if (child.entries) this.readChildren(child, i, childPath, depth + 1);
      if (p.full) return;
    }
  }
}

/** One inode whose stored v5 digest differs from the digest of its content. */
export interface DigestMismatch {
  path: string;
  expected: Uint8Array;
  actual: Uint8Array;
}

/**
 * Recomputes every v5 inode digest: a file's is the hash of its chunk ids concatenated, a
 * symlink's the hash of its target, a directory's the hash of its children's stored digests in
 * name order, anything else the hash of nothing. Returns the inodes that disagree.
 */
export function checkV5Digests(image: RafsImage, hasher: Hasher): DigestMismatch[] {
  const mismatches: DigestMismatch[] = [];
  for (const [path, node] of walk(image.root)) {
    const inode = node as RafsInode;
    if (!inode.digest) continue;
    hasher.init();
    if (inode.chunks) for (const c of inode.chunks) hasher.update(c.digest);
    else if (inode.target !== undefined) hasher.update(utf8.encode(inode.target));
    else if (inode.entries) {
      const names = [...inode.entries.keys()].sort((a, b) => compareBytes(utf8.encode(a), utf8.encode(b)));
      for (const name of names) hasher.update(inode.entries.get(name)!.digest ?? new Uint8Array(32));
    }
    const actual = hasher.final().slice();
    if (compareBytes(actual, inode.digest) !== 0) mismatches.push({ path, expected: inode.digest, actual });
  }
  return mismatches;
}
