// The RAFS v6 bootstrap writer against the real Nydus bootstrap rafs-v6-2.2.boot (rebuilt from
// its own tree), and on trees with every edge the EROFS layout has, checked independently by
// Debian's erofs-utils (fsck.erofs --extract, dump.erofs) and, opt-in, the Linux kernel.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { lstatSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { isStrataError } from "../../src/errors.js";
import { S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFREG, S_IFSOCK, makedev, walk } from "../../src/fs/inode.js";
import { createBlake3 } from "../../src/kernels/blake3.js";
import { chunkCodecFor, rafsKernels } from "../../src/kernels/index.js";
import { createSha256, createStreamingSha256 } from "../../src/kernels/sha256.js";
import { bytesSource, openBlob } from "../../src/rafs/blob-reader.js";
import { BlobWriter } from "../../src/rafs/blob-writer.js";
import { parseBootstrap } from "../../src/rafs/bootstrap.js";
import { writeBootstrap, type BootstrapInput } from "../../src/rafs/bootstrap-writer.js";
import type { CompressorName } from "../../src/rafs/layout.js";
import { readFile } from "../../src/rafs/read.js";
import type { BlobInfo, ChunkInfo, RafsInode } from "../../src/rafs/types.js";
import { canMount, dumpInodes, extractWithFsck, hasErofsUtils, withKernelMount, type DiskEntry } from "../helpers/erofs.js";
import { ports } from "../helpers/kernels.js";

const kernels = await rafsKernels(ports);
const blake3 = await createBlake3(ports);
const enc = new TextEncoder();
const texture = new URL("../../../shared/fixtures/nydus/tests/texture/", import.meta.url);

function node(mode: number, extra: Partial<RafsInode> = {}): RafsInode {
  return { mode, uid: 0, gid: 0, mtime: 1_600_000_000, mtimeNsec: 123, size: 0, rdev: 0, xattrs: new Map(), ...extra };
}

/** Deterministic bytes, partly repetitive so lz4 has something to do. */
function bytes(seed: number, size: number): Uint8Array {
  const out = new Uint8Array(size);
  let x = seed + 1;
  for (let i = 0; i < size; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = i % 64 < 24 ? 97 + (i % 13) : x >>> 24;
  }
  return out;
}

/** A tree plus the content of its regular files. */
class Tree {
  readonly root = node(S_IFDIR | 0o755, { entries: new Map() });
  readonly content = new Map<RafsInode, Uint8Array>();

  add(path: string, inode: RafsInode, data?: Uint8Array): RafsInode {
    const parts = path.split("/").filter(Boolean);
    let dir = this.root;
    for (const p of parts.slice(0, -1)) {
      let next = dir.entries!.get(p);
      if (!next) dir.entries!.set(p, (next = node(S_IFDIR | 0o755, { entries: new Map() })));
      dir = next;
    }
    dir.entries!.set(parts.at(-1)!, inode);
    if (data) {
      inode.size = data.length;
      this.content.set(inode, data);
    }
    return inode;
  }
}

interface Packed {
  bootstrap: Uint8Array;
  blobs: Map<string, Uint8Array>;
}

/**
 * Chunks every regular file (deduplicating by BLAKE3 across the image), writes the chunks into
 * blob `blobOf(path)`, then the bootstrap.
 */
async function pack(tree: Tree, options: { chunkSize: number; compressor: CompressorName; blobOf?: (path: string) => number; prefetch?: string[] }): Promise<Packed> {
  const { chunkSize, compressor } = options;
  const codec = await chunkCodecFor(ports, compressor);
  const writers: { writer: BlobWriter; pieces: Uint8Array[] }[] = [];
  const known = new Map<string, ChunkInfo>();
  const seen = new Set<RafsInode>();
  for (const [path, inode] of walk(tree.root)) {
    const data = tree.content.get(inode as RafsInode);
    if (!data || seen.has(inode as RafsInode)) continue;
    seen.add(inode as RafsInode);
    const b = options.blobOf?.(path) ?? 0;
    while (data.length > 0 && writers.length <= b) {
      const pieces: Uint8Array[] = [];
      const writer = new BlobWriter({ blobIndex: writers.length, chunkSize, compressor, digester: "blake3", sha256: await createSha256(ports), dataSha256: await createStreamingSha256(ports), idSha256: await createStreamingSha256(ports), sink: (p) => void pieces.push(p.slice()) });
      writers.push({ writer, pieces });
    }
    const chunks: ChunkInfo[] = [];
    for (let at = 0; at < data.length; at += chunkSize) {
      const chunk = data.subarray(at, at + chunkSize);
      const digest = blake3.digest(chunk);
      const key = Buffer.from(digest).toString("hex");
      let info = known.get(key);
      if (!info) {
        const packed = codec?.compress(chunk);
        info = await writers[b]!.writer.addChunk({ digest, uncompressedSize: chunk.length, data: packed ?? chunk, compressed: packed !== undefined });
        known.set(key, info);
      }
      chunks.push({ ...info, fileOffset: at });
    }
    (inode as RafsInode).chunks = chunks;
  }
  const blobs = new Map<string, Uint8Array>();
  const infos: BlobInfo[] = [];
  for (const { writer, pieces } of writers) {
    const info = await writer.finish();
    infos.push(info);
    blobs.set(info.blobId, new Uint8Array(Buffer.concat(pieces)));
  }
  const bootstrap = writeBootstrap({ root: tree.root, blobs: infos, chunkSize, compressor, digester: "blake3", prefetch: options.prefetch });
  return { bootstrap, blobs };
}

const TYPE: Record<number, string> = { [S_IFREG]: "file", [S_IFDIR]: "dir", [S_IFLNK]: "symlink", [S_IFCHR]: "chardev", [S_IFBLK]: "blockdev", [S_IFIFO]: "fifo", [S_IFSOCK]: "socket" };

/** The rows listDisk should find after extraction (fsck.erofs clears setuid/setgid when it chowns after chmod). */
function expectedRows(tree: Tree): DiskEntry[] {
  const rows: DiskEntry[] = [];
  for (const [path, inode] of walk(tree.root)) {
    const type = TYPE[inode.mode & 0o170000]!;
    const row: DiskEntry = { path, type, mode: inode.mode & 0o7777 & ~0o6000, uid: inode.uid, gid: inode.gid, size: type === "file" || type === "symlink" ? inode.size : 0 };
    if (type === "file") row.sha256 = createHash("sha256").update(tree.content.get(inode as RafsInode) ?? new Uint8Array(0)).digest("hex");
    if (type === "symlink") row.target = inode.target;
    rows.push(row);
  }
  return rows.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

describe("the Nydus fixture rafs-v6-2.2.boot rebuilt from its own tree", () => {
  const fixture = new Uint8Array(readFileSync(new URL("bootstrap/rafs-v6-2.2.boot", texture)));
  const image = parseBootstrap(fixture);
  const ours = writeBootstrap({ root: image.root, blobs: image.blobs, chunkSize: image.chunkSize, compressor: image.compressor, digester: image.digester });

  test("superblock, extended superblock, device table and blob table are Nydus's bytes", () => {
    expect(ours.length).toBe(fixture.length);
    // Only the device's mapped_blkaddr differs: nydus 2.2 mapped blob devices at 2 MiB steps,
    // today's builder (and strata) at 512 KiB (builder/src/core/v6.rs V6_BLOCK_SEG_ALIGNMENT).
    const mapped = 1408 + 68;
    expect(new DataView(fixture.buffer).getUint32(mapped, true)).toBe(0x200);
    expect(new DataView(ours.buffer).getUint32(mapped, true)).toBe(0x80);
    const differing: number[] = [];
    for (let i = 0; i < 0x2000; i++) if (ours[i] !== fixture[i] && (i < mapped || i >= mapped + 4)) differing.push(i);
    expect(differing).toEqual([]);
  });

  test("the chunk table is Nydus's bytes and the tree reads back the same", () => {
    expect(Buffer.from(ours.subarray(0x4000)).equals(Buffer.from(fixture.subarray(0x4000)))).toBe(true);
    const again = parseBootstrap(ours);
    const strip = (r: RafsInode) => [...walk(r)].map(([p, n]) => ({ p, mode: n.mode, uid: n.uid, gid: n.gid, size: n.size, mtime: n.mtime, nsec: n.mtimeNsec, chunks: (n as RafsInode).chunks }));
    expect(strip(again.root)).toEqual(strip(image.root));
    // Nydus's placement too: the root at nid 128, the files after it.
    expect(again.root.nid).toBe(128);
  });

  test.skipIf(!hasErofsUtils)("fsck.erofs extracts the two files from our bootstrap and the real blob", async () => {
    const blob = new Uint8Array(readFileSync(new URL(`blobs/${image.blobs[0]!.blobId}`, texture)));
    const rows = await extractWithFsck(ours, image, new Map([[image.blobs[0]!.blobId, blob]]), kernels);
    expect(rows.map((r) => [r.path, r.size])).toEqual([["/", 0], ["/lib.rs", 16931], ["/sync_io.rs", 13400]]);
    // The sha256 sums the fixture README gives for the two files.
    expect(rows[1]!.sha256!.slice(0, 8)).toBe("1810eba8");
    expect(rows[2]!.sha256!.slice(0, 8)).toBe("e629ab26");
  });
});

/** Every kind of inode, names that sort before ".", long and multibyte names, deep paths, directories of every layout. */
function edgeTree(chunkSize: number): Tree {
  const t = new Tree();
  t.add("/empty", node(S_IFREG | 0o644), new Uint8Array(0));
  t.add("/one-byte", node(S_IFREG | 0o600, { mtime: 0, mtimeNsec: 0 }), bytes(1, 1));
  t.add("/exact-chunk", node(S_IFREG | 0o644), bytes(2, chunkSize));
  t.add("/chunk-and-a-bit", node(S_IFREG | 0o644), bytes(3, chunkSize + 1));
  t.add("/many/chunks", node(S_IFREG | 0o755, { uid: 100_000, gid: 70_000 }), bytes(4, chunkSize * 5 + 123));
  t.add("/many/same-chunks", node(S_IFREG | 0o755), bytes(4, chunkSize * 5 + 123));
  const shared = t.add("/hard/a", node(S_IFREG | 0o640, { uid: 7, gid: 8 }), bytes(5, 3000));
  t.add("/hard/b", shared);
  t.add("/other/c", shared);
  t.add("/!bang", node(S_IFREG | 0o644), bytes(6, 10));
  t.add("/before-1970", node(S_IFREG | 0o644, { mtime: -86_400, mtimeNsec: 5 }), bytes(7, 5)); // i_mtime is a signed time_t
  t.add("/-dash", node(S_IFREG | 0o644), bytes(7, 10));
  t.add("/+plus", node(S_IFDIR | 0o711, { entries: new Map() }));
  t.add("/ünïcödé-日本語", node(S_IFREG | 0o644), bytes(8, 20));
  t.add(`/${"n".repeat(255)}`, node(S_IFREG | 0o644), bytes(9, 30));
  t.add(`/deep/${Array.from({ length: 40 }, (_, i) => `d${i}`).join("/")}/leaf`, node(S_IFREG | 0o644), bytes(10, 40));
  t.add("/links/short", node(S_IFLNK | 0o777, { target: "../many/chunks", size: 14 }));
  t.add("/links/long", node(S_IFLNK | 0o777, { target: "t/".repeat(2024) + "xy", size: 4050 }));
  t.add("/links/abs", node(S_IFLNK | 0o777, { target: "/etc/passwd", size: 11 }));
  t.add("/dev/null", node(S_IFCHR | 0o666, { rdev: makedev(1, 3) }));
  t.add("/dev/sdq9", node(S_IFBLK | 0o660, { rdev: makedev(65, 265), gid: 6 }));
  t.add("/run/fifo", node(S_IFIFO | 0o644));
  t.add("/run/sock", node(S_IFSOCK | 0o755));
  t.add("/setid", node(S_IFREG | 0o6755), bytes(11, 5));
  t.add("/sticky", node(S_IFDIR | 0o1777, { entries: new Map() }));
  t.add("/attrs", node(S_IFREG | 0o644, {
    xattrs: new Map([
      ["user.comment", enc.encode("hello")],
      ["security.capability", new Uint8Array([1, 0, 0, 2, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])],
      ["trusted.overlay.opaque", enc.encode("y")],
      ["user.empty", new Uint8Array(0)],
    ]),
  }), bytes(12, 100));
  t.add("/attrs-dir", node(S_IFDIR | 0o755, { entries: new Map(), xattrs: new Map([["user.x", bytes(13, 300)]]) }));
  // One 4 KiB block exactly full ("." 13 + ".." 14 + 126 × 32 + 37 bytes): no tail to inline.
  for (let i = 0; i < 126; i++) t.add(`/full-block/f${String(i).padStart(19, "0")}`, node(S_IFREG | 0o644), new Uint8Array(0));
  t.add(`/full-block/${"z".repeat(25)}`, node(S_IFREG | 0o644), new Uint8Array(0));
  // Three blocks and an inline tail.
  for (let i = 0; i < 250; i++) t.add(`/big/entry-with-a-long-name-${String(i).padStart(5, "0")}`, node(S_IFREG | 0o644, { uid: i }), i % 10 === 0 ? bytes(100 + i, 50 + i) : new Uint8Array(0));
  return t;
}

describe.each([
  ["none", 4096],
  ["lz4_block", 16384],
] as const)("an edge-case tree, %s chunks of %i bytes", (compressor, chunkSize) => {
  const tree = edgeTree(chunkSize);
  const packed = pack(tree, { chunkSize, compressor, prefetch: ["/many/chunks", "/hard/b"] });

  test.skipIf(!hasErofsUtils)("fsck.erofs extracts exactly the tree", async () => {
    const { bootstrap, blobs } = await packed;
    expect(await extractWithFsck(bootstrap, parseBootstrap(bootstrap), blobs, kernels)).toEqual(expectedRows(tree));
  });

  test.skipIf(!hasErofsUtils)("dump.erofs: hardlinks share one nid with nlink 3, inode formats, layouts, xattr sizes", async () => {
    const { bootstrap, blobs } = await packed;
    const d = await dumpInodes(bootstrap, parseBootstrap(bootstrap), blobs, kernels, ["/hard/a", "/hard/b", "/other/c", "/one-byte", "/many/chunks", "/full-block", "/big", "/links/short", "/links/long", "/attrs", "/", "/deep"]);
    expect(new Set(["/hard/a", "/hard/b", "/other/c"].map((p) => d.get(p)!.nid)).size).toBe(1);
    expect(d.get("/hard/a")!.links).toBe(3);
    expect(d.get("/one-byte")!.inodeSize).toBe(32); // mtime 0, small ids: compact
    expect(d.get("/many/chunks")!.inodeSize).toBe(64); // uid > 65535: extended
    expect(d.get("/full-block")!.layout).toBe(0); // FLAT_PLAIN: the only block is full
    expect(d.get("/full-block")!.size).toBe(4096);
    expect(d.get("/big")!.layout).toBe(2); // FLAT_INLINE
    expect(d.get("/big")!.size).toBeGreaterThan(2 * 4096);
    expect(d.get("/links/short")!.layout).toBe(2);
    expect(d.get("/links/long")!.layout).toBe(0); // 4050 bytes cannot share a block with a 64-byte inode
    expect(d.get("/many/chunks")!.layout).toBe(4); // CHUNK_BASED
    // header 12 + "comment"(4+7+5→16) + "capability"(4+10+20→36) + "overlay.opaque"(4+14+1→20) + "empty"(4+5→12)
    expect(d.get("/attrs")!.xattrSize).toBe(12 + 16 + 36 + 20 + 12);
    expect(d.get("/")!.links).toBe(2 + [...tree.root.entries!.values()].filter((n) => n.entries).length);
    expect(d.get("/")!.nid).toBe(128);
  });

  test("strata's reader reads back contents, xattrs, devices, times and the prefetch list", async () => {
    const { bootstrap, blobs } = await packed;
    const image = parseBootstrap(bootstrap);
    // The table holds nids: a hardlink reads back under its first path.
    expect(image.prefetch).toEqual(["/many/chunks", "/hard/a"]);
    const opened = new Map(await Promise.all([...blobs].map(async ([id, b]) => [id, await openBlob(bytesSource(b), { info: image.blobs.find((i) => i.blobId === id), sha256: await createSha256(ports) })] as const)));
    const got = new Map([...walk(image.root)]);
    for (const [path, inode] of walk(tree.root)) {
      const back = got.get(path)!;
      expect([back.mode, back.uid, back.gid, back.size, back.rdev, back.mtime, back.mtimeNsec, back.target], path).toEqual([inode.mode, inode.uid, inode.gid, inode.size, inode.rdev, inode.mtime, inode.mtimeNsec, inode.target]);
      expect([...back.xattrs].map(([k, v]) => [k, Buffer.from(v).toString("hex")]), path).toEqual([...inode.xattrs].sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => [k, Buffer.from(v).toString("hex")]));
      const data = tree.content.get(inode as RafsInode);
      if (data) expect(Buffer.from(await readFile(image, path, opened, kernels)).equals(Buffer.from(data)), path).toBe(true);
    }
    // The dedup made one chunk-table record per distinct chunk.
    const distinct = new Set([...walk(image.root)].flatMap(([, n]) => ((n as RafsInode).chunks ?? []).map((c) => `${c.blobIndex}:${c.index}`)));
    expect(new DataView(bootstrap.buffer).getBigUint64(1152 + 32, true)).toBe(BigInt(distinct.size * 80));
  });

  test.skipIf(!canMount)("the Linux kernel mounts it: contents, xattrs, hardlinks, devices", async () => {
    const { bootstrap, blobs } = await packed;
    const image = parseBootstrap(bootstrap);
    await withKernelMount(bootstrap, image, blobs, kernels, (dir) => {
      for (const [path, inode] of walk(tree.root)) {
        const st = lstatSync(join(dir, path));
        // st_rdev is Linux's new_encode_dev, the encoding RafsInode.rdev uses.
        expect([st.mode, st.uid, st.gid, st.rdev], path).toEqual([inode.mode, inode.uid, inode.gid, inode.rdev]);
        const data = tree.content.get(inode as RafsInode);
        if (data) expect(readFileSync(join(dir, path)).equals(Buffer.from(data)), path).toBe(true);
        if (inode.xattrs.size > 0) {
          const listed = execFileSync("python3", ["-c", "import os,sys,json; p=sys.argv[1]; print(json.dumps({n: os.getxattr(p, n, follow_symlinks=False).hex() for n in os.listxattr(p, follow_symlinks=False)}))", join(dir, path)], { encoding: "utf8" });
          expect(JSON.parse(listed), path).toEqual(Object.fromEntries([...inode.xattrs].map(([k, v]) => [k, Buffer.from(v).toString("hex")])));
        }
      }
      expect(lstatSync(join(dir, "hard/a")).ino).toBe(lstatSync(join(dir, "other/c")).ino);
      expect(lstatSync(join(dir, "hard/a")).nlink).toBe(3);
    });
  });
});

describe("blob layouts", () => {
  test.skipIf(!hasErofsUtils)("files spread over three blobs, chunks shared across blobs: devices 1..3", async () => {
    const t = new Tree();
    for (let i = 0; i < 9; i++) t.add(`/b${i % 3}/file${i}`, node(S_IFREG | 0o644), bytes(i % 4, 4096 * (i + 1) + i));
    const { bootstrap, blobs } = await pack(t, { chunkSize: 4096, compressor: "lz4_block", blobOf: (p) => Number(p[2]) });
    const image = parseBootstrap(bootstrap);
    expect(image.blobs.map((b) => b.blobIndex)).toEqual([0, 1, 2]);
    const devices = [...walk(image.root)].flatMap(([, n]) => ((n as RafsInode).chunks ?? []).map((c) => c.blobIndex));
    expect(new Set(devices)).toEqual(new Set([0, 1, 2]));
    expect(await extractWithFsck(bootstrap, image, blobs, kernels)).toEqual(expectedRows(t));
    // s_blocks counts the blob devices' blocks.
    const blocks = image.blobs.reduce((n, b) => n + b.uncompressedSize / 4096, 0);
    expect(new DataView(bootstrap.buffer).getUint32(1024 + 36, true)).toBe(blocks);
  });

  test.skipIf(!hasErofsUtils)("a tree without file data needs no blob (s_blocks 0, as nydusd requires)", async () => {
    const t = new Tree();
    t.add("/a/empty", node(S_IFREG | 0o644), new Uint8Array(0));
    t.add("/a/link", node(S_IFLNK | 0o777, { target: "empty", size: 5 }));
    const { bootstrap, blobs } = await pack(t, { chunkSize: 1 << 20, compressor: "zstd" });
    expect(blobs.size).toBe(0);
    const view = new DataView(bootstrap.buffer);
    expect([view.getUint32(1024 + 36, true), view.getUint16(1024 + 86, true)]).toEqual([0, 0]);
    expect(await extractWithFsck(bootstrap, parseBootstrap(bootstrap), blobs, kernels)).toEqual(expectedRows(t));
  });
});

test("the same tree, built in any insertion order, gives the same bytes", async () => {
  const build = async (reverse: boolean) => {
    const t = new Tree();
    const names = Array.from({ length: 60 }, (_, i) => `/d${i % 4}/f${(i * 37) % 60}`);
    for (const p of reverse ? [...names].reverse() : names) t.add(p, node(S_IFREG | 0o644, { xattrs: new Map(reverse ? [["user.b", enc.encode("2")], ["user.a", enc.encode("1")]] : [["user.a", enc.encode("1")], ["user.b", enc.encode("2")]]) }), bytes(p.length, 5000));
    return pack(t, { chunkSize: 4096, compressor: "lz4_block" });
  };
  const [a, b] = await Promise.all([build(false), build(true)]);
  expect(Buffer.from(a.bootstrap).equals(Buffer.from(b.bootstrap))).toBe(true);
});

describe("bad trees are typed errors", () => {
  const base = (): BootstrapInput => ({ root: node(S_IFDIR | 0o755, { entries: new Map() }), blobs: [], chunkSize: 4096, compressor: "none", digester: "blake3" });
  const code = (input: BootstrapInput) => {
    try {
      writeBootstrap(input);
      return "ok";
    } catch (e) {
      return isStrataError(e) ? e.code : String(e);
    }
  };
  const blob: BlobInfo = { blobId: "a".repeat(64), blobIndex: 0, chunkSize: 4096, chunkCount: 1, compressor: "none", digester: "blake3", features: 0, compressedSize: 5000, uncompressedSize: 4096, meta: { compressor: "none", offset: 0, compressedSize: 0, uncompressedSize: 0, tocSize: 0 } };
  const chunk: ChunkInfo = { digest: new Uint8Array(32), blobIndex: 0, flags: 0, compressedOffset: 0, compressedSize: 10, uncompressedOffset: 0, uncompressedSize: 10, fileOffset: 0, index: 0, crc32: 0 };

  test("each problem names what is wrong", () => {
    expect(code(base())).toBe("ok");
    expect(code({ ...base(), root: node(S_IFREG | 0o644) })).toBe("INVALID_ARGUMENT");
    expect(code({ ...base(), chunkSize: 3000 })).toBe("INVALID_ARGUMENT");
    const withFile = (f: RafsInode, blobs: BlobInfo[] = [blob]) => ({ ...base(), blobs, root: node(S_IFDIR | 0o755, { entries: new Map([["f", f]]) }) });
    expect(code(withFile(node(S_IFREG | 0o644, { size: 10, chunks: [chunk] })))).toBe("ok");
    expect(code(withFile(node(S_IFREG | 0o644, { size: 10, chunks: [] })))).toBe("INVALID_ARGUMENT");
    expect(code(withFile(node(S_IFREG | 0o644, { size: 10, chunks: [{ ...chunk, blobIndex: 1 }] })))).toBe("INVALID_ARGUMENT");
    expect(code(withFile(node(S_IFREG | 0o644, { size: 10, chunks: [{ ...chunk, uncompressedOffset: 100 }] })))).toBe("INVALID_ARGUMENT");
    expect(code(withFile(node(S_IFREG | 0o644, { size: 10, chunks: [chunk] }), [{ ...blob, blobId: "xyz" }]))).toBe("INVALID_ARGUMENT");
    expect(code(withFile(node(S_IFREG | 0o644, { size: 10, chunks: [chunk] }), [{ ...blob, blobIndex: 3 }]))).toBe("INVALID_ARGUMENT");
    expect(code(withFile(node(S_IFREG | 0o644, { xattrs: new Map([["nfs4.acl", new Uint8Array(1)]]) })))).toBe("UNSUPPORTED");
    expect(code(withFile(node(0o644)))).toBe("INVALID_ARGUMENT");
    expect(code(withFile(node(S_IFLNK | 0o777, { target: "" })))).toBe("INVALID_ARGUMENT");
    expect(code(withFile(node(S_IFLNK | 0o777, { target: "t", entries: new Map([["x", node(S_IFREG | 0o644)]]) })))).toBe("INVALID_ARGUMENT");
    expect(code(withFile(node(S_IFDIR | 0o755)))).toBe("INVALID_ARGUMENT");
    expect(code({ ...base(), root: node(S_IFDIR | 0o755, { entries: new Map([["x".repeat(256), node(S_IFREG | 0o644)]]) }) })).toBe("INVALID_ARGUMENT");
    expect(code({ ...base(), prefetch: ["/missing"] })).toBe("NOT_FOUND");
    const many = Array.from({ length: 256 }, (_, i) => ({ ...blob, blobIndex: i }));
    expect(code({ ...base(), blobs: many.slice(0, 255) })).toBe("ok");
    expect(code({ ...base(), blobs: many })).toBe("UNSUPPORTED");
    const dir = node(S_IFDIR | 0o755, { entries: new Map() });
    expect(code({ ...base(), root: node(S_IFDIR | 0o755, { entries: new Map([["a", dir], ["b", dir]]) }) })).toBe("INVALID_ARGUMENT");
  });
});
