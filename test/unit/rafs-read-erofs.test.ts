// The v6 reader on every inode kind the fixture lacks (xattrs, symlinks, devices, fifos,
// sockets, hardlinks, compact inodes, multi-block FLAT_PLAIN and FLAT_INLINE directories, shared
// and contiguous chunks). A small test-only builder lays the tree out the way Nydus does; then
// erofs-utils is the oracle: fsck.erofs must accept the image and extract the same content, and
// dump.erofs must report the same nids, modes, sizes and owners the reader does.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, lstatSync, mkdtempSync, readFileSync, readlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createBLAKE3 } from "hash-wasm";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { isStrataError } from "../../src/errors.js";
import { makedev, S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFREG, S_IFSOCK, walk } from "../../src/fs/inode.js";
import { bytesSource, openBlob } from "../../src/rafs/blob-reader.js";
import { parseBootstrap, verifyBootstrap } from "../../src/rafs/bootstrap.js";
import { lookup, readFile } from "../../src/rafs/read.js";
import type { RafsImage, RafsInode } from "../../src/rafs/types.js";
import { rafsKernels, type TestKernels } from "../helpers/rafs-kernels.js";

const BLOCK = 4096;
const CHUNK = 4096;
const utf8 = new TextEncoder();

// ---- the tree to lay out -------------------------------------------------------------------
interface Node {
  mode: number;
  uid?: number;
  gid?: number;
  mtime?: number;
  rdev?: number;
  xattrs?: [prefixIndex: number, suffix: string, value: string][];
  /** Regular files: content. */
  data?: Uint8Array;
  /** Lay the file's chunks out contiguously (Nydus then raises the inode's chunk size). */
  contiguous?: boolean;
  target?: string;
  entries?: Map<string, Node>;
  /** Directories: FLAT_PLAIN instead of FLAT_INLINE. */
  plain?: boolean;
  compact?: boolean;
}

function pattern(size: number, seed: number): Uint8Array {
  const out = new Uint8Array(size);
  let x = seed;
  for (let i = 0; i < size; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

function sampleTree(): Node {
  const dir = (entries: [string, Node][], extra: Partial<Node> = {}): Node => ({ mode: S_IFDIR | 0o755, entries: new Map(entries), ...extra });
  const hello = pattern(10000, 1);
  const shared: Node = { mode: S_IFREG | 0o644, data: pattern(5000, 2), uid: 1000, gid: 1000 };
  const big: [string, Node][] = [];
  for (let i = 0; i < 200; i++) big.push([`entry-${String(i).padStart(3, "0")}-${"x".repeat(30)}`, i % 2 ? shared : { mode: S_IFIFO | 0o600, compact: true }]);
  const medium: [string, Node][] = [];
  for (let i = 0; i < 100; i++) medium.push([`m${String(i).padStart(3, "0")}${"y".repeat(56)}`, { mode: S_IFSOCK | 0o755, compact: true }]);
  return dir([
    ["big-plain", dir(big, { plain: true })],
    ["medium-inline", dir(medium)],
    [
      "etc",
      dir([
        ["hello", { mode: S_IFREG | 0o644, data: hello, mtime: 1_700_000_000 }],
        ["hello-copy", { mode: S_IFREG | 0o600, data: hello.slice() }],
        ["contig", { mode: S_IFREG | 0o755, data: pattern(9000, 3), contiguous: true }],
        ["empty", { mode: S_IFREG | 0o644, data: new Uint8Array(0) }],
        ["small-compact", { mode: S_IFREG | 0o644, data: pattern(100, 4), compact: true, uid: 7, gid: 8 }],
        [
          "with-xattrs",
          {
            mode: S_IFREG | 0o644,
            data: pattern(10, 5),
            xattrs: [
              [1, "mime", "text/plain"],
              [4, "overlay.opaque", "y"],
              [6, "capability", "\x01\x00\x00\x02"],
            ],
          },
        ],
      ], { xattrs: [[1, "dir-note", "hello"]] }),
    ],
    ["link", { mode: S_IFLNK | 0o777, target: "etc/hello", compact: true }],
    ["long-link", { mode: S_IFLNK | 0o777, target: `/${"t".repeat(3000)}` }],
    [
      "dev",
      dir([
        ["null", { mode: S_IFCHR | 0o666, rdev: makedev(1, 3), compact: true }],
        ["sda", { mode: S_IFBLK | 0o660, rdev: makedev(8, 0), uid: 70000, gid: 6 }],
        ["big-minor", { mode: S_IFCHR | 0o600, rdev: makedev(259, 70000) }],
        ["fifo", { mode: S_IFIFO | 0o644 }],
      ]),
    ],
    ["hard-a", shared],
    ["hard-b", shared],
  ]);
}

// ---- a Nydus-style RAFS v6 layout ------------------------------------------------------------
interface Built {
  bootstrap: Uint8Array;
  /** The data blob: raw chunks at their 4 KiB aligned offsets, so it is also the EROFS device. */
  blob: Uint8Array;
  blobId: string;
}

const FT: Record<number, number> = { [S_IFREG]: 1, [S_IFDIR]: 2, [S_IFCHR]: 3, [S_IFBLK]: 4, [S_IFIFO]: 5, [S_IFSOCK]: 6, [S_IFLNK]: 7 };
const cmp = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));

function xattrBytes(node: Node): Uint8Array {
  if (!node.xattrs?.length) return new Uint8Array(0);
  const parts: number[] = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
  for (const [index, suffix, value] of node.xattrs) {
    const name = utf8.encode(suffix);
    const val = Buffer.from(value, "latin1");
    parts.push(name.length, index, val.length & 0xff, val.length >> 8, ...name, ...val);
    while (parts.length % 4) parts.push(0);
  }
  return Uint8Array.from(parts);
}

/** Directory blocks: dirents then names per 4 KiB block, "." and ".." included, names sorted. */
function dirBlocks(entries: [string, number, number][]): Uint8Array[] {
  const blocks: Uint8Array[] = [];
  let i = 0;
  while (i < entries.length) {
    let n = 0;
    let used = 0;
    while (i + n < entries.length && used + 12 + utf8.encode(entries[i + n]![0]).length <= BLOCK) used += 12 + utf8.encode(entries[i + n++]![0]).length;
    const block = new Uint8Array(used);
    const view = new DataView(block.buffer);
    let nameOff = n * 12;
    for (let j = 0; j < n; j++) {
      const [name, nid, type] = entries[i + j]!;
      view.setBigUint64(j * 12, BigInt(nid), true);
      view.setUint16(j * 12 + 8, nameOff, true);
      block[j * 12 + 10] = type;
      block.set(utf8.encode(name), nameOff);
      nameOff += utf8.encode(name).length;
    }
    blocks.push(block);
    i += n;
  }
  return blocks;
}

async function build(root: Node, prefetch: string[]): Promise<Built> {
  const blake3 = await createBLAKE3();
  // 1. Chunks: one record per distinct content, laid in the blob at 4 KiB aligned offsets.
  const records = new Map<string, { digest: Uint8Array; index: number; offset: number; size: number }>();
  const blobParts: Uint8Array[] = [];
  let blobSize = 0;
  const fileChunks = new Map<Node, { index: number; offset: number }[]>();
  const nodes: Node[] = [];
  const order: { node: Node; parent: Node }[] = [];
  const seen = new Set<Node>();
  const visit = (node: Node, parent: Node) => {
    if (seen.has(node)) return;
    seen.add(node);
    order.push({ node, parent });
    nodes.push(node);
    for (const name of [...(node.entries?.keys() ?? [])].sort(cmp)) visit(node.entries!.get(name)!, node);
  };
  visit(root, root);
  for (const node of nodes) {
    if (!node.data) continue;
    const chunks = [];
    for (let at = 0; at < node.data.length; at += CHUNK) {
      const piece = node.data.subarray(at, at + CHUNK);
      const digest = blake3.init().update(piece).digest("binary");
      const key = Buffer.from(digest).toString("hex");
      let record = records.get(key);
      if (!record || node.contiguous) {
        record = { digest, index: records.size, offset: blobSize, size: piece.length };
        records.set(node.contiguous ? `${key}/${at}` : key, record);
        const padded = new Uint8Array(Math.ceil(piece.length / BLOCK) * BLOCK);
        padded.set(piece);
        blobParts.push(padded);
        blobSize += padded.length;
      }
      chunks.push(record);
    }
    fileChunks.set(node, chunks);
  }
  const blob = new Uint8Array(Math.max(blobSize, BLOCK));
  let p = 0;
  for (const part of blobParts) blob.set(part, p), (p += part.length);
  const blobId = createHash("sha256").update(blob).digest("hex");

  // 2. Sizes: directory content depends only on names; place inodes (nids) next.
  const dirNames = new Map<Node, string[]>();
  const dirSize = new Map<Node, number>();
  for (const node of nodes) {
    if (!node.entries) continue;
    const names = [".", "..", ...node.entries.keys()].sort(cmp);
    dirNames.set(node, names);
    const blocks = dirBlocks(names.map((n) => [n, 0, 0]));
    dirSize.set(node, (blocks.length - 1) * BLOCK + blocks.at(-1)!.length);
  }
  const META = 1; // meta_blkaddr: block 1 holds the blob table, inodes start at block 2
  const nid = new Map<Node, number>();
  const offsetOf = new Map<Node, number>();
  let pos = 2 * BLOCK;
  for (const node of nodes) {
    const isize = node.compact ? 32 : 64;
    const xsize = xattrBytes(node).length;
    let tail = 0;
    if (node.entries && !node.plain) tail = dirSize.get(node)! % BLOCK;
    if (node.target !== undefined) tail = utf8.encode(node.target).length;
    let body = isize + xsize + tail;
    if (node.data) body = Math.ceil((isize + xsize) / 8) * 8 + 8 * Math.ceil(node.data.length / CHUNK);
    if (tail > 0 && (pos % BLOCK) + body > BLOCK) pos = Math.ceil(pos / BLOCK) * BLOCK;
    offsetOf.set(node, pos);
    nid.set(node, (pos - META * BLOCK) / 32);
    pos = Math.ceil((pos + body) / 32) * 32;
  }
  // 3. Directory blocks that are not inline, then the chunk table.
  let nextBlock = Math.ceil(pos / BLOCK);
  const dataBlocks = new Map<Node, number>();
  const dirData = new Map<Node, Uint8Array[]>();
  for (const node of nodes) {
    if (!node.entries) continue;
    const parent = order.find((o) => o.node === node)!.parent;
    const names = dirNames.get(node)!;
    const entries = names.map((n): [string, number, number] => {
      const child = n === "." ? node : n === ".." ? parent : node.entries!.get(n)!;
      return [n, nid.get(child)!, FT[child.mode & 0o170000]!];
    });
    const blocks = dirBlocks(entries);
    dirData.set(node, blocks);
    dataBlocks.set(node, nextBlock);
    nextBlock += node.plain ? blocks.length : blocks.length - 1;
  }
  const chunkTableOffset = nextBlock * BLOCK;
  const sorted = [...new Set(records.values())].sort((a, b) => Buffer.compare(Buffer.from(a.digest), Buffer.from(b.digest)));
  const total = Math.ceil((chunkTableOffset + sorted.length * 80) / BLOCK) * BLOCK;
  const out = new Uint8Array(total);
  const v = new DataView(out.buffer);

  // 4. Superblock, extended superblock, device table, blob table.
  v.setUint32(1024, 0xe0f5e1e2, true);
  v.setUint32(1024 + 8, 0x4000_0000, true);
  out[1024 + 12] = 12;
  v.setUint16(1024 + 14, nid.get(root)!, true);
  v.setBigUint64(1024 + 16, BigInt(nodes.length), true);
  v.setBigUint64(1024 + 24, 1_600_000_000n, true);
  v.setUint32(1024 + 32, 123, true);
  v.setUint32(1024 + 36, total / BLOCK, true);
  v.setUint32(1024 + 40, META, true);
  v.setUint32(1024 + 80, 0xc, true);
  v.setUint16(1024 + 86, 1, true);
  v.setUint16(1024 + 88, 11, true);
  v.setUint32(1152, 0x1 | 0x4 | 0x10 | 0x20, true); // none, blake3, explicit uid/gid, xattrs
  v.setBigUint64(1152 + 8, BigInt(BLOCK), true);
  v.setUint32(1152 + 16, 256, true);
  v.setUint32(1152 + 20, CHUNK, true);
  v.setBigUint64(1152 + 24, BigInt(chunkTableOffset), true);
  v.setBigUint64(1152 + 32, BigInt(sorted.length * 80), true);
  // The prefetch table (nids) sits right after the blob table.
  const prefetchNodes = prefetch.map((path) => [...modelWalk(root)].find(([p]) => p === path)![1]);
  v.setBigUint64(1152 + 40, BigInt(BLOCK + 256), true);
  v.setUint32(1152 + 48, prefetchNodes.length * 4, true);
  prefetchNodes.forEach((node, i) => v.setUint32(BLOCK + 256 + i * 4, nid.get(node)!, true));
  out.set(utf8.encode(blobId), 1408);
  v.setUint32(1408 + 64, blob.length / BLOCK, true);
  out.set(utf8.encode(blobId), BLOCK);
  v.setUint32(BLOCK + 68, CHUNK, true);
  v.setUint32(BLOCK + 72, sorted.length, true);
  v.setBigUint64(BLOCK + 88, BigInt(blob.length), true);
  v.setBigUint64(BLOCK + 96, BigInt(blob.length), true);

  // 5. Inodes with their xattrs, inline tails and chunk addresses.
  const nlink = new Map<Node, number>();
  for (const { node } of order) if (node.entries) for (const child of node.entries.values()) nlink.set(child, (nlink.get(child) ?? 0) + (child.entries ? 0 : 1));
  for (const node of nodes) if (node.entries) nlink.set(node, 2 + [...node.entries.values()].filter((c) => c.entries).length);
  for (const node of nodes) {
    const off = offsetOf.get(node)!;
    const xattrs = xattrBytes(node);
    const size = node.data?.length ?? (node.target !== undefined ? utf8.encode(node.target).length : node.entries ? dirSize.get(node)! : 0);
    const chunks = fileChunks.get(node) ?? [];
    const layout = node.data ? 4 : node.entries && node.plain ? 0 : node.entries || node.target !== undefined ? 2 : 0;
    let u = node.rdev ?? 0;
    if (node.entries) u = dataBlocks.get(node)!;
    if (node.data) u = 0x20 | (node.contiguous && node.data.length > CHUNK ? Math.ceil(Math.log2(node.data.length)) - 12 : 0);
    const icount = xattrs.length ? (xattrs.length - 12) / 4 + 1 : 0;
    if (node.compact) {
      v.setUint16(off, layout << 1, true);
      v.setUint16(off + 2, icount, true);
      v.setUint16(off + 4, node.mode, true);
      v.setUint16(off + 6, nlink.get(node) ?? 1, true);
      v.setUint32(off + 8, size, true);
      v.setUint32(off + 16, u, true);
      v.setUint32(off + 20, nid.get(node)!, true);
      v.setUint16(off + 24, node.uid ?? 0, true);
      v.setUint16(off + 26, node.gid ?? 0, true);
    } else {
      v.setUint16(off, 1 | (layout << 1), true);
      v.setUint16(off + 2, icount, true);
      v.setUint16(off + 4, node.mode, true);
      v.setBigUint64(off + 8, BigInt(size), true);
      v.setUint32(off + 16, u, true);
      v.setUint32(off + 20, nid.get(node)!, true);
      v.setUint32(off + 24, node.uid ?? 0, true);
      v.setUint32(off + 28, node.gid ?? 0, true);
      v.setBigUint64(off + 32, BigInt(node.mtime ?? 1_650_000_000), true);
      v.setUint32(off + 40, 42, true);
      v.setUint32(off + 44, nlink.get(node) ?? 1, true);
    }
    const isize = node.compact ? 32 : 64;
    out.set(xattrs, off + isize);
    const bodyEnd = off + isize + xattrs.length;
    if (node.target !== undefined) out.set(utf8.encode(node.target), bodyEnd);
    if (node.entries) {
      const blocks = dirData.get(node)!;
      const external = node.plain ? blocks : blocks.slice(0, -1);
      external.forEach((b, i) => out.set(b, (dataBlocks.get(node)! + i) * BLOCK));
      if (!node.plain) out.set(blocks.at(-1)!, bodyEnd);
    }
    const addrs = Math.ceil(bodyEnd / 8) * 8;
    chunks.forEach((c, i) => {
      v.setUint16(addrs + i * 8, c.index & 0xffff, true);
      v.setUint16(addrs + i * 8 + 2, 1 | ((c.index >> 16) << 8), true);
      v.setUint32(addrs + i * 8 + 4, c.offset / BLOCK, true);
    });
  }
  // 6. Chunk table, sorted by digest.
  sorted.forEach((c, i) => {
    const at = chunkTableOffset + i * 80;
    out.set(c.digest, at);
    v.setUint32(at + 40, c.size, true);
    v.setUint32(at + 44, c.size, true);
    v.setBigUint64(at + 48, BigInt(c.offset), true);
    v.setBigUint64(at + 56, BigInt(c.offset), true);
    v.setUint32(at + 72, c.index, true);
  });
  return { bootstrap: out, blob, blobId };
}

// ---- tests -----------------------------------------------------------------------------------
const tree = sampleTree();
let built: Built;
let image: RafsImage;
let kernels: TestKernels;
let work: string;

beforeAll(async () => {
  kernels = await rafsKernels();
  built = await build(tree, ["/etc/hello", "/link", "/dev"]);
  image = parseBootstrap(built.bootstrap);
  work = mkdtempSync(join(tmpdir(), "rafs-read-erofs-"));
  writeFileSync(join(work, "boot"), built.bootstrap);
  writeFileSync(join(work, "blob"), built.blob);
});

/** The model tree as (path, node) pairs, children sorted by name bytes. */
function* modelWalk(node: Node, path = ""): Generator<[string, Node]> {
  yield [path || "/", node];
  for (const name of [...(node.entries?.keys() ?? [])].sort(cmp)) yield* modelWalk(node.entries!.get(name)!, `${path}/${name}`);
}

describe("RAFS v6 reader on every inode kind", () => {
  it("parses with no problems and finds every path of the model", () => {
    expect(verifyBootstrap(built.bootstrap).problems).toEqual([]);
    expect([...walk(image.root)].map(([p]) => p)).toEqual([...modelWalk(tree)].map(([p]) => p));
  });

  it("reads modes, owners, times, device numbers, symlink targets and xattrs", () => {
    for (const [path, node] of modelWalk(tree)) {
      const inode = lookup(image, path);
      expect(inode.mode, path).toBe(node.mode);
      expect([inode.uid, inode.gid], path).toEqual([node.uid ?? 0, node.gid ?? 0]);
      // Compact inodes carry no time of their own: they take the superblock build time.
      expect([inode.mtime, inode.mtimeNsec], path).toEqual(node.compact ? [1_600_000_000, 123] : [node.mtime ?? 1_650_000_000, 42]);
      expect(inode.rdev, path).toBe(node.rdev ?? 0);
      expect(inode.target, path).toBe(node.target);
      const xattrs = new Map((node.xattrs ?? []).map(([i, s, val]) => [`${["", "user.", "", "", "trusted.", "", "security."][i]}${s}`, Buffer.from(val, "latin1")]));
      expect(new Map([...inode.xattrs].map(([k, val]) => [k, Buffer.from(val)])), path).toEqual(xattrs);
    }
  });

  it("resolves the prefetch table's nids to paths", () => {
    expect(image.prefetch).toEqual(["/etc/hello", "/link", "/dev"]);
  });

  it("hardlinks are one inode object; shared chunks get per-file offsets", () => {
    expect(lookup(image, "/hard-a")).toBe(lookup(image, "/hard-b"));
    expect(lookup(image, "/big-plain/entry-001-" + "x".repeat(30))).toBe(lookup(image, "/hard-a"));
    const hello = lookup(image, "/etc/hello").chunks!;
    const copy = lookup(image, "/etc/hello-copy").chunks!;
    expect(copy.map((c) => c.index)).toEqual(hello.map((c) => c.index));
    expect(copy.map((c) => c.fileOffset)).toEqual([0, CHUNK, 2 * CHUNK]);
  });

  it("every regular file reads back with its chunks verified", async () => {
    const info = image.blobs[0]!;
    const blobs = new Map([[info.blobId, await openBlob(bytesSource(built.blob), { info })]]);
    for (const [path, node] of modelWalk(tree)) {
      if (node.data) expect(Buffer.from(await readFile(image, path, blobs, kernels)).equals(Buffer.from(node.data)), path).toBe(true);
    }
  });

  const fsck = ["/usr/bin/fsck.erofs", "/usr/sbin/fsck.erofs"].find(existsSync);
  const dump = ["/usr/bin/dump.erofs", "/usr/sbin/dump.erofs"].find(existsSync);

  it.skipIf(!fsck)("fsck.erofs accepts the image and extracts the same tree and content", () => {
    const out = join(work, "extract");
    execFileSync(fsck!, [`--device=${join(work, "blob")}`, `--extract=${out}`, join(work, "boot")], { stdio: "pipe" });
    for (const [path] of walk(image.root)) {
      const inode = lookup(image, path);
      const st = lstatSync(join(out, path));
      expect(st.mode, path).toBe(inode.mode);
      if (inode.target !== undefined) expect(readlinkSync(join(out, path))).toBe(inode.target);
      if (inode.chunks) expect(st.size).toBe(inode.size);
      if (inode.chunks && inode.size > 0) {
        const expected = [...modelWalk(tree)].find(([p]) => p === path)![1].data!;
        expect(readFileSync(join(out, path)).equals(Buffer.from(expected)), path).toBe(true);
      }
      if ((inode.mode & 0o170000) === S_IFCHR || (inode.mode & 0o170000) === S_IFBLK) expect(Number(st.rdev), path).toBe(inode.rdev);
    }
  });

  it.skipIf(!dump)("dump.erofs reports the same nid, size, mode, owner, xattr size and dirents for every path", () => {
    for (const [path, node] of walk(image.root)) {
      const inode = node as RafsInode;
      const text = execFileSync(dump!, [`--device=${join(work, "blob")}`, `--path=${path}`, join(work, "boot")], { encoding: "utf8" });
      expect(Number(/NID: (\d+)/.exec(text)![1]), path).toBe(inode.nid);
      expect(parseInt(/Access: (\d+)/.exec(text)![1]!, 8), path).toBe(inode.mode & 0o7777);
      expect(Number(/Uid: (\d+)/.exec(text)![1]), path).toBe(inode.uid);
      expect(Number(/Gid: (\d+)/.exec(text)![1]), path).toBe(inode.gid);
      if (inode.chunks || inode.target !== undefined) expect(Number(/Size: (\d+)/.exec(text)![1]), path).toBe(inode.size);
      expect(Number(/Xattr size: (\d+)/.exec(text)![1]), path).toBe(xattrBytes([...modelWalk(tree)].find(([p]) => p === path)![1]).length);
      if (inode.entries) {
        const listing = execFileSync(dump!, [`--device=${join(work, "blob")}`, "--ls", `--path=${path}`, join(work, "boot")], { encoding: "utf8" });
        const listed = listing
          .split("\n")
          .map((l) => /^\s*(\d+)\s+(\d+)\s+(.+)$/.exec(l))
          .filter((m) => m && m[3] !== "." && m[3] !== "..")
          .map((m) => [m![3], Number(m![1])]);
        expect(listed, path).toEqual([...inode.entries].map(([name, child]) => [name, child.nid]));
      }
    }
  });
});

describe("mutations of the rich v6 image", () => {
  it("2 000 random mutations: parse is BAD_BOOTSTRAP exactly when verify lists problems", () => {
    const bytes = built.bootstrap;
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 1024, max: bytes.length - 1 }), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }), (edits) => {
        const copy = bytes.slice();
        for (const [at, value] of edits) copy[at] = value;
        let problems;
        try {
          problems = verifyBootstrap(copy).problems;
        } catch (e) {
          expect(isStrataError(e, "UNSUPPORTED"), String(e)).toBe(true);
          return;
        }
        try {
          parseBootstrap(copy);
          expect(problems).toEqual([]);
        } catch (e) {
          expect(isStrataError(e, "BAD_BOOTSTRAP"), String(e)).toBe(true);
          expect(problems.length).toBeGreaterThan(0);
        }
      }),
      { numRuns: 2000 },
    );
  });
});
