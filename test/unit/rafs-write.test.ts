// RAFS v6 writer: trees built here are written as blob + bootstrap, then read back by strata's
// reader and, independently, extracted by Debian's fsck.erofs from uncompressed blob devices.
import { createHash } from "node:crypto";
import { describe, expect, test } from "vitest";
import { ChunkStore, FixedChunker } from "../../src/convert/chunks.js";
import { S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFREG, makedev, type Inode } from "../../src/fs/inode.js";
import { chunkCodecFor, rafsKernels } from "../../src/kernels/index.js";
import { createBlake3 } from "../../src/kernels/blake3.js";
import { createSha256 } from "../../src/kernels/sha256.js";
import { bytesSource, openBlob } from "../../src/rafs/blob-reader.js";
import { BlobWriter } from "../../src/rafs/blob-writer.js";
import { parseBootstrap } from "../../src/rafs/bootstrap.js";
import { writeBootstrap } from "../../src/rafs/bootstrap-writer.js";
import type { CompressorName } from "../../src/rafs/layout.js";
import { readFile } from "../../src/rafs/read.js";
import type { RafsInode } from "../../src/rafs/types.js";
import { extractWithFsck, hasErofsUtils, type DiskEntry } from "../helpers/erofs.js";
import { ports } from "../helpers/kernels.js";

const kernels = await rafsKernels(ports);
const enc = new TextEncoder();

function inode(mode: number, extra: Partial<Inode> = {}): RafsInode {
  return { mode, uid: 0, gid: 0, mtime: 1_700_000_000, mtimeNsec: 0, size: 0, rdev: 0, xattrs: new Map(), ...extra };
}

/** Deterministic pseudo-random bytes with some repetition. */
function content(seed: number, size: number): Uint8Array {
  const out = new Uint8Array(size);
  let x = seed * 2654435761 + 1;
  for (let i = 0; i < size; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = i % 97 < 40 ? 65 + (i % 26) : x >>> 24;
  }
  return out;
}

interface Built {
  bootstrap: Uint8Array;
  blobs: Map<string, Uint8Array>;
  expected: DiskEntry[];
  files: Map<string, Uint8Array>;
}

/** A tree with every kind of inode the writer handles; files chunked into one blob. */
async function build(compressor: CompressorName, chunkSize: number): Promise<Built> {
  const root = inode(S_IFDIR | 0o755);
  const files = new Map<string, Uint8Array>();
  const expected: DiskEntry[] = [];
  const put = (path: string, node: RafsInode) => {
    const parts = path.split("/").filter(Boolean);
    let dir = root;
    for (const p of parts.slice(0, -1)) dir = dir.entries!.get(p)!;
    (dir.entries ??= new Map()).set(parts.at(-1)!, node);
  };
  root.entries = new Map();
  const dirs = ["/etc", "/usr", "/usr/lib", "/big", "/deep", "/deep/a", "/deep/a/b", "/deep/a/b/c"];
  for (const d of dirs) put(d, inode(S_IFDIR | 0o750, { uid: 3, gid: 4, entries: new Map() }));
  const sizes: [string, number][] = [
    ["/etc/empty", 0],
    ["/etc/one", 1],
    ["/etc/exact", chunkSize],
    ["/usr/lib/two-chunks", chunkSize + 17],
    ["/usr/lib/many", chunkSize * 3 + 4095],
    ["/usr/lib/copy-of-many", chunkSize * 3 + 4095],
    ["/deep/a/b/c/leaf", 5000],
  ];
  sizes.forEach(([p, n], i) => files.set(p, content(p.startsWith("/usr/lib/copy") ? 5 : i + 1, n)));
  for (let i = 0; i < 300; i++) files.set(`/big/file-with-a-longish-name-${String(i).padStart(4, "0")}`, content(1000 + (i % 7), 100 + i));
  for (const [p, data] of files) put(p, inode(S_IFREG | 0o644, { size: data.length, uid: p.startsWith("/big") ? 70000 : 0, gid: 1 }));
  const hard = root.entries.get("etc")!.entries!.get("one")!;
  put("/usr/hardlink-to-one", hard);
  put("/etc/link", inode(S_IFLNK | 0o777, { target: "../usr/lib/many", size: 15 }));
  put("/etc/long-link", inode(S_IFLNK | 0o777, { target: "x/".repeat(900) + "end", size: 1803 }));
  put("/etc/fifo", inode(S_IFIFO | 0o600));
  put("/etc/null", inode(S_IFCHR | 0o666, { rdev: makedev(1, 3) }));
  put("/etc/sda", inode(S_IFBLK | 0o660, { rdev: makedev(8, 300) }));
  put("/etc/setuid", inode(S_IFREG | 0o4755, { size: 0, mtime: 5, mtimeNsec: 7 }));
  put("/etc/xattrs", inode(S_IFREG | 0o644, { xattrs: new Map([["user.comment", enc.encode("hello")], ["security.capability", new Uint8Array([1, 0, 0, 2, 32, 0, 0, 0])]]) }));

  // Chunk every file into one blob, deduplicating identical chunks.
  const [digester, sha256, codec] = await Promise.all([createBlake3(ports), createSha256(ports), chunkCodecFor(ports, compressor)]);
  const out: Uint8Array[] = [];
  const writer = new BlobWriter({ blobIndex: 0, chunkSize, compressor, digester: "blake3", sha256, sink: async (b) => void out.push(b.slice()) });
  const store = new ChunkStore(digester, codec);
  const chunker = new FixedChunker(chunkSize);
  const seen = new Set<RafsInode>();
  const lookup = (p: string) => p.split("/").filter(Boolean).reduce<RafsInode>((d, n) => d.entries!.get(n)!, root);
  for (const [p, data] of files) {
    const node = lookup(p);
    if (seen.has(node)) continue;
    seen.add(node);
    node.chunks = [];
    await chunker.file((async function* () {
      yield data;
    })(), async (chunk, fileOffset) => {
      node.chunks!.push((await store.put(chunk, fileOffset, writer)).info);
    });
  }
  lookup("/etc/setuid").chunks = [];
  lookup("/etc/xattrs").chunks = [];
  const info = await writer.finish();
  const blob = Buffer.concat(out);
  info.blobId = createHash("sha256").update(blob).digest("hex");
  const bootstrap = writeBootstrap({ root, blobs: [info], chunkSize, compressor, digester: "blake3", prefetch: ["/usr/lib/many", "/etc/one"] });

  for (const [p, data] of files) expected.push({ path: p, type: "file", mode: 0o644, uid: p.startsWith("/big") ? 70000 : 0, gid: 1, size: data.length, sha256: createHash("sha256").update(data).digest("hex") });
  expected.push({ path: "/usr/hardlink-to-one", type: "file", mode: 0o644, uid: 0, gid: 1, size: 1, sha256: createHash("sha256").update(files.get("/etc/one")!).digest("hex") });
  expected.push({ path: "/", type: "dir", mode: 0o755, uid: 0, gid: 0, size: 0 });
  for (const d of dirs) expected.push({ path: d, type: "dir", mode: 0o750, uid: 3, gid: 4, size: 0 });
  expected.push({ path: "/etc/link", type: "symlink", mode: 0o777, uid: 0, gid: 0, size: 15, target: "../usr/lib/many" });
  expected.push({ path: "/etc/long-link", type: "symlink", mode: 0o777, uid: 0, gid: 0, size: 1803, target: "x/".repeat(900) + "end" });
  expected.push({ path: "/etc/fifo", type: "fifo", mode: 0o600, uid: 0, gid: 0, size: 0 });
  expected.push({ path: "/etc/null", type: "chardev", mode: 0o666, uid: 0, gid: 0, size: 0 });
  expected.push({ path: "/etc/sda", type: "blockdev", mode: 0o660, uid: 0, gid: 0, size: 0 });
  const empty = createHash("sha256").update(new Uint8Array(0)).digest("hex");
  expected.push({ path: "/etc/setuid", type: "file", mode: 0o4755, uid: 0, gid: 0, size: 0, sha256: empty });
  expected.push({ path: "/etc/xattrs", type: "file", mode: 0o644, uid: 0, gid: 0, size: 0, sha256: empty });
  expected.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return { bootstrap, blobs: new Map([[info.blobId, blob]]), expected, files };
}

describe.each([
  ["none", 4096],
  ["lz4_block", 65536],
  ["zstd", 1 << 20],
] as const)("RAFS v6 writer, %s chunks of %i bytes", (compressor, chunkSize) => {
  const built = build(compressor, chunkSize);

  test("strata's reader reads back the tree, every file's content and the prefetch list", async () => {
    const { bootstrap, blobs, files } = await built;
    const image = parseBootstrap(bootstrap);
    expect(image.chunkSize).toBe(chunkSize);
    expect(image.compressor).toBe(compressor);
    expect(image.prefetch).toEqual(["/usr/lib/many", "/etc/one"]);
    const [id, bytes] = [...blobs][0]!;
    const blob = await openBlob(bytesSource(bytes), { info: image.blobs[0], sha256: await createSha256(ports) });
    for (const [p, data] of files) {
      const got = await readFile(image, p, new Map([[id, blob]]), kernels);
      expect(Buffer.from(got).equals(Buffer.from(data)), p).toBe(true);
    }
    const etc = image.root.entries!.get("etc")!;
    expect(etc.entries!.get("one")).toBe(image.root.entries!.get("usr")!.entries!.get("hardlink-to-one"));
    expect(new TextDecoder().decode(etc.entries!.get("xattrs")!.xattrs.get("user.comment"))).toBe("hello");
    expect(etc.entries!.get("setuid")!.mtime).toBe(5);
    expect(etc.entries!.get("sda")!.rdev).toBe(makedev(8, 300));
  });

  test("identical chunks are stored once", async () => {
    const image = parseBootstrap((await built).bootstrap);
    const many = image.root.entries!.get("usr")!.entries!.get("lib")!.entries!;
    expect(many.get("copy-of-many")!.chunks!.map((c) => c.index)).toEqual(many.get("many")!.chunks!.map((c) => c.index));
  });

  test.skipIf(!hasErofsUtils)("fsck.erofs extracts the same tree from the bootstrap and blob devices", async () => {
    const { bootstrap, blobs, expected } = await built;
    const rows = await extractWithFsck(bootstrap, parseBootstrap(bootstrap), blobs, kernels);
    // fsck.erofs --preserve chowns after chmod, which clears setuid/setgid on disk; strata's
    // reader checks those bits above.
    const onDisk = expected.map((e) => ({ ...e, mode: e.mode & ~0o6000 }));
    expect(rows).toEqual(onDisk);
  });

  test("the same tree gives the same bytes", async () => {
    const again = await build(compressor, chunkSize);
    const first = await built;
    expect(Buffer.from(again.bootstrap).equals(Buffer.from(first.bootstrap))).toBe(true);
    expect([...again.blobs.keys()]).toEqual([...first.blobs.keys()]);
  });
});
