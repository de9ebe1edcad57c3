// RAFS v5 features the fixtures lack: xattrs, device numbers, fifos, the prefetch table (inode
// numbers), the extended blob table. A test-only builder lays out a small image the way Nydus v5
// does (superblock, inode table of offset/8, prefetch table, blob table, extended blob table,
// inodes in BFS order with names, targets, xattrs and chunk records, all 8-byte aligned).
import { describe, expect, it } from "vitest";
import { makedev, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFREG } from "../../src/fs/inode.js";
import { parseBootstrap, verifyBootstrap } from "../../src/rafs/bootstrap.js";
import { lookup } from "../../src/rafs/read.js";

const utf8 = new TextEncoder();
const align8 = (n: number) => Math.ceil(n / 8) * 8;
const BLOB_ID = "ab".repeat(32);

interface V5Node {
  name: string;
  ino: number;
  parent: number;
  mode: number;
  size?: number;
  rdev?: number;
  target?: string;
  xattrs?: [string, string][];
  chunks?: number;
  children?: number[];
  uid?: number;
}

/** Inode-table order (BFS): index i+1 is nodes[i]; directories list children by index. */
const nodes: V5Node[] = [
  { name: "/", ino: 1, parent: 0, mode: S_IFDIR | 0o755, children: [2, 3, 4, 5, 6, 7] },
  { name: "a-file", ino: 2, parent: 1, mode: S_IFREG | 0o644, size: 5000, chunks: 2, xattrs: [["user.note", "hi"], ["security.selinux", "system_u:object_r:bin_t:s0\0"]], uid: 1000 },
  { name: "b-link", ino: 3, parent: 1, mode: S_IFLNK | 0o777, target: "a-file" },
  { name: "c-null", ino: 4, parent: 1, mode: S_IFCHR | 0o666, rdev: makedev(1, 3) },
  { name: "d-fifo", ino: 5, parent: 1, mode: S_IFIFO | 0o600 },
  { name: "e-hard", ino: 2, parent: 1, mode: S_IFREG | 0o644, size: 5000, chunks: 2, xattrs: [["user.note", "hi"], ["security.selinux", "system_u:object_r:bin_t:s0\0"]], uid: 1000 },
  { name: "f-dir", ino: 7, parent: 1, mode: S_IFDIR | 0o700, children: [] },
];

function buildV5(): Uint8Array {
  const chunkSize = 4096;
  const tableOffset = 8192;
  const tableSize = align8(nodes.length * 4);
  const prefetchOffset = tableOffset + tableSize;
  const prefetch = [3, 2];
  const prefetchSize = align8(prefetch.length * 4);
  const blobTableOffset = prefetchOffset + prefetchSize;
  const blobTable = align8(8 + BLOB_ID.length);
  const extOffset = blobTableOffset + blobTable;
  let pos = extOffset + 64;
  const records: Uint8Array[] = [];
  const offsets: number[] = [];
  for (const node of nodes) {
    const name = utf8.encode(node.name);
    const target = utf8.encode(node.target ?? "");
    const pairs = (node.xattrs ?? []).map(([k, v]) => [...utf8.encode(k), 0, ...utf8.encode(v)]);
    const xattrSize = pairs.reduce((n, p) => n + 4 + p.length, 0);
    const xattrTable = node.xattrs ? align8(8 + xattrSize) : 0;
    const size = 128 + align8(name.length) + align8(target.length) + xattrTable + (node.chunks ?? 0) * 80;
    const r = new Uint8Array(size);
    const v = new DataView(r.buffer);
    r.fill(node.ino, 0, 32); // digest: not checked here
    v.setBigUint64(32, BigInt(node.parent), true);
    v.setBigUint64(40, BigInt(node.ino), true);
    v.setUint32(48, node.uid ?? 0, true);
    v.setUint32(52, node.uid ?? 0, true);
    v.setUint32(60, node.mode, true);
    v.setBigUint64(64, BigInt(node.size ?? target.length), true);
    v.setBigUint64(72, BigInt(Math.ceil((node.size ?? 0) / 512)), true);
    v.setBigUint64(80, BigInt((node.target ? 1 : 0) | (node.xattrs ? 4 : 0) | (node.name === "e-hard" || node.name === "a-file" ? 2 : 0)), true);
    v.setUint32(88, node.children ? 2 : node.name.endsWith("hard") || node.name === "a-file" ? 2 : 1, true);
    v.setUint32(92, node.children?.[0] ?? 0, true);
    v.setUint32(96, node.children?.length ?? node.chunks ?? 0, true);
    v.setUint16(100, name.length, true);
    v.setUint16(102, target.length, true);
    v.setUint32(104, node.rdev ?? 0, true);
    v.setUint32(108, 7, true);
    v.setBigUint64(112, 1_700_000_000n, true);
    let at = 128;
    r.set(name, at);
    at += align8(name.length);
    r.set(target, at);
    at += align8(target.length);
    if (node.xattrs) {
      v.setBigUint64(at, BigInt(xattrSize), true);
      let p = at + 8;
      for (const pair of pairs) {
        v.setUint32(p, pair.length, true);
        r.set(pair, p + 4);
        p += 4 + pair.length;
      }
      at += xattrTable;
    }
    for (let c = 0; c < (node.chunks ?? 0); c++) {
      const o = at + c * 80;
      r.fill(0x10 + c, o, o + 32);
      const length = Math.min(chunkSize, node.size! - c * chunkSize);
      v.setUint32(o + 40, length, true);
      v.setUint32(o + 44, length, true);
      v.setBigUint64(o + 48, BigInt(c * chunkSize), true);
      v.setBigUint64(o + 56, BigInt(c * chunkSize), true);
      v.setBigUint64(o + 64, BigInt(c * chunkSize), true);
      v.setUint32(o + 72, c, true);
    }
    offsets.push(pos);
    records.push(r);
    pos += size;
  }
  const out = new Uint8Array(pos);
  const v = new DataView(out.buffer);
  v.setUint32(0, 0x52414653, true);
  v.setUint32(4, 0x500, true);
  v.setUint32(8, 8192, true);
  v.setUint32(12, chunkSize, true);
  v.setBigUint64(16, 0x1n | 0x8n | 0x20n, true); // none, sha256, xattrs
  v.setBigUint64(24, 6n, true);
  v.setBigUint64(32, BigInt(tableOffset), true);
  v.setBigUint64(40, BigInt(prefetchOffset), true);
  v.setBigUint64(48, BigInt(blobTableOffset), true);
  v.setUint32(56, nodes.length, true);
  v.setUint32(60, prefetch.length, true);
  v.setUint32(64, blobTable, true);
  v.setUint32(68, 1, true);
  v.setBigUint64(72, BigInt(extOffset), true);
  offsets.forEach((o, i) => v.setUint32(tableOffset + i * 4, o / 8, true));
  prefetch.forEach((ino, i) => v.setUint32(prefetchOffset + i * 4, ino, true));
  v.setUint32(blobTableOffset, 0, true);
  v.setUint32(blobTableOffset + 4, 0, true);
  out.set(utf8.encode(BLOB_ID), blobTableOffset + 8);
  v.setUint32(extOffset, 2, true);
  v.setUint32(extOffset + 4, 0x1, true);
  v.setBigUint64(extOffset + 8, 8192n, true);
  v.setBigUint64(extOffset + 16, 5000n, true);
  records.forEach((r, i) => out.set(r, offsets[i]!));
  return out;
}

describe("RAFS v5 xattrs, devices, fifos, prefetch and extended blob table", () => {
  const bytes = buildV5();
  const image = parseBootstrap(bytes);

  it("parses without problems", () => {
    expect(verifyBootstrap(bytes).problems).toEqual([]);
    expect([...image.root.entries!.keys()]).toEqual(["a-file", "b-link", "c-null", "d-fifo", "e-hard", "f-dir"]);
  });

  it("reads xattrs (name NUL value pairs), targets, device numbers and owners", () => {
    const file = lookup(image, "/a-file");
    expect(new Map([...file.xattrs].map(([k, v]) => [k, Buffer.from(v).toString()]))).toEqual(
      new Map([
        ["user.note", "hi"],
        ["security.selinux", "system_u:object_r:bin_t:s0\0"],
      ]),
    );
    expect([file.uid, file.gid, file.mtime, file.mtimeNsec]).toEqual([1000, 1000, 1_700_000_000, 7]);
    expect(lookup(image, "/b-link").target).toBe("a-file");
    expect(lookup(image, "/c-null").rdev).toBe(makedev(1, 3));
    expect(lookup(image, "/d-fifo").mode).toBe(S_IFIFO | 0o600);
    expect(lookup(image, "/f-dir").entries!.size).toBe(0);
  });

  it("hardlink records share one inode; chunks keep their records", () => {
    expect(lookup(image, "/e-hard")).toBe(lookup(image, "/a-file"));
    expect(lookup(image, "/a-file").chunks!.map((c) => [c.fileOffset, c.uncompressedSize, c.index])).toEqual([
      [0, 4096, 0],
      [4096, 904, 1],
    ]);
  });

  it("resolves the prefetch table's inode numbers and reads the extended blob table", () => {
    expect(image.prefetch).toEqual(["/b-link", "/a-file"]);
    expect(image.blobs).toEqual([
      expect.objectContaining({ blobId: BLOB_ID, chunkCount: 2, features: 1, uncompressedSize: 8192, compressedSize: 5000, digester: "sha256", compressor: "none" }),
    ]);
  });

  it("an xattr pair running past its table is BAD_BOOTSTRAP naming the file", () => {
    const broken = bytes.slice();
    const view = new DataView(broken.buffer);
    const fileOffset = view.getUint32(8192 + 4, true) * 8;
    const xattrTable = fileOffset + 128 + 8; // after the name "a-file" padded to 8
    view.setUint32(xattrTable + 8, 999, true); // first pair claims 999 bytes
    const problems = verifyBootstrap(broken).problems;
    expect(problems[0]).toMatchObject({ path: "/a-file", message: "xattr pair runs past the table" });
  });
});
