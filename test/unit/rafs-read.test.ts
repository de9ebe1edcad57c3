// The RAFS reader on the real Nydus fixtures: every bootstrap opens; trees match the upstream
// listings (.result = `tree -J` + md5sum of every file); content decompresses and every chunk
// verifies; v6 parse agrees with erofs-utils' dump.erofs.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createBLAKE3 } from "hash-wasm";
import { beforeAll, describe, expect, it } from "vitest";
import { isStrataError } from "../../src/errors.js";
import { walk } from "../../src/fs/inode.js";
import { tarHeader } from "../../src/tar/writer.js";
import { bytesSource, openBlob, type NydusBlob } from "../../src/rafs/blob-reader.js";
import { bootstrapVersion, checkV5Digests, parseBootstrap, verifyBootstrap } from "../../src/rafs/bootstrap.js";
import { lookup, readFile, readFileStream } from "../../src/rafs/read.js";
import type { RafsImage, RafsInode } from "../../src/rafs/types.js";
import { rafsKernels, type TestKernels } from "../helpers/rafs-kernels.js";

const fixtures = fileURLToPath(new URL("../../../shared/fixtures/nydus/", import.meta.url));
const texture = join(fixtures, "tests/texture");
const history = join(fixtures, "_history/5be153feb0c08571e88934e9020c208d85aefeb0/tests/texture/repeatable");
const V6_BOOT = join(texture, "bootstrap/rafs-v6-2.2.boot");
const V6_BLOB = join(texture, "blobs/be7d77eeb719f70884758d1aa800ed0fb09d701aaec469964e9d54325f0d5fef");
const V5_BLOBS = join(texture, "repeatable/blobs");

const sha256 = (data: Uint8Array) => createHash("sha256").update(data).digest("hex");
const md5 = (data: Uint8Array) => createHash("md5").update(data).digest("hex");
const hex = (data: Uint8Array) => Buffer.from(data).toString("hex");

let kernels: TestKernels;
beforeAll(async () => {
  kernels = await rafsKernels();
});

function allFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? allFiles(path) : [path];
  });
}

async function openV5Blob(image: RafsImage): Promise<Map<string, NydusBlob>> {
  const info = image.blobs[0]!;
  const blob = await openBlob(bytesSource(readFileSync(join(V5_BLOBS, info.blobId))), { info });
  return new Map([[info.blobId, blob]]);
}

describe("every bootstrap fixture", () => {
  const bootstraps = allFiles(fixtures).filter((f) => bootstrapVersion(readFileSync(f)) !== undefined);

  it("finds the v6 bootstrap and the four v5 bootstraps", () => {
    const versions = bootstraps.map((f) => bootstrapVersion(readFileSync(f)));
    expect(versions.filter((v) => v === 6).length).toBeGreaterThanOrEqual(1);
    expect(versions.filter((v) => v === 5).length).toBeGreaterThanOrEqual(4);
  });

  it.each(bootstraps.map((f) => [f.slice(fixtures.length)]))("%s opens and verifies without problems", (rel) => {
    const bytes = readFileSync(join(fixtures, rel));
    const image = parseBootstrap(bytes);
    expect(image.version).toBe(bootstrapVersion(bytes));
    expect(image.root.entries!.size).toBeGreaterThan(0);
    expect(verifyBootstrap(bytes).problems).toEqual([]);
  });
});

describe("RAFS v6 bootstrap rafs-v6-2.2.boot", () => {
  const image = parseBootstrap(readFileSync(V6_BOOT));

  it("lists the root and the two files", () => {
    expect([...walk(image.root)].map(([p]) => p)).toEqual(["/", "/lib.rs", "/sync_io.rs"]);
    expect(lookup(image, "/lib.rs").size).toBe(16931);
    expect(lookup(image, "/sync_io.rs").size).toBe(13400);
    expect(image).toMatchObject({ version: 6, digester: "blake3", compressor: "zstd", chunkSize: 1 << 20 });
  });

  it("decodes the blob table entry in full", () => {
    expect(image.blobs).toHaveLength(1);
    const blob = image.blobs[0]!;
    expect(blob).toMatchObject({ blobId: "be7d77eeb719f70884758d1aa800ed0fb09d701aaec469964e9d54325f0d5fef", blobIndex: 0, chunkCount: 2, compressor: "zstd", digester: "blake3" });
    // Where the ToC says the compression table is, and what the ToC with its header hashes to.
    const raw = readFileSync(V6_BLOB);
    expect(blob.compressedSize).toBe(raw.length);
    expect(blob.meta.tocSize).toBe(1024);
    expect(hex(blob.meta.tocDigest!)).toBe(sha256(raw.subarray(raw.length - blob.meta.tocSize)));
  });

  it("content decompresses from blob be7d77… and every BLAKE3 chunk digest verifies", async () => {
    const info = image.blobs[0]!;
    const blob = await openBlob(bytesSource(readFileSync(V6_BLOB)), { info, sha256: kernels.hasher("sha256") });
    const blobs = new Map([[info.blobId, blob]]);
    const lib = await readFile(image, "/lib.rs", blobs, kernels);
    const sync = await readFile(image, "/sync_io.rs", blobs, kernels);
    expect(sha256(lib).startsWith("1810eba8")).toBe(true);
    expect(sha256(sync).startsWith("e629ab26")).toBe(true);
    // Independently of the reader: hash-wasm's BLAKE3 of each file (one chunk each) is its chunk id.
    const b3 = await createBLAKE3();
    for (const [path, data] of [["/lib.rs", lib], ["/sync_io.rs", sync]] as const) {
      const chunk = lookup(image, path).chunks![0]!;
      expect(b3.init().update(data).digest("hex")).toBe(hex(chunk.digest));
    }
    // The stream form yields the same bytes.
    const streamed = new Uint8Array(await new Response(readFileStream(image, "/lib.rs", blobs, kernels)).arrayBuffer());
    expect(sha256(streamed)).toBe(sha256(lib));
  });

  it("blob ToC, compression table and blob.digest agree with the bootstrap's chunk records", async () => {
    const info = image.blobs[0]!;
    const blob = await openBlob(bytesSource(readFileSync(V6_BLOB)), { info, sha256: kernels.hasher("sha256") });
    expect(blob.toc!.map((e) => e.name)).toEqual(["image.blob", "blob.meta", "blob.meta.header", "blob.digest"]);
    expect(blob.table).toHaveLength(info.chunkCount);
    for (const [, node] of walk(image.root)) {
      for (const chunk of (node as RafsInode).chunks ?? []) {
        expect(blob.table![chunk.index]).toEqual({
          compressedOffset: chunk.compressedOffset,
          compressedSize: chunk.compressedSize,
          uncompressedOffset: chunk.uncompressedOffset,
          uncompressedSize: chunk.uncompressedSize,
          compressed: true,
        });
        expect(hex(blob.digests!.subarray(chunk.index * 32, chunk.index * 32 + 32))).toBe(hex(chunk.digest));
      }
    }
  });

  it("without its ToC, the blob's compression table is still found at the bootstrap's ci_offset", async () => {
    const info = image.blobs[0]!;
    const raw = readFileSync(V6_BLOB);
    const full = await openBlob(bytesSource(raw), { info });
    // Cut the blob after the compression table's 4 KiB header: no blob.digest, no ToC.
    const cut = await openBlob(bytesSource(raw.subarray(0, info.meta.offset + info.meta.compressedSize + 4096)), { info });
    expect(cut.toc).toBeUndefined();
    expect(cut.table).toEqual(full.table);
    const lib = await readFile(image, "/lib.rs", new Map([[info.blobId, cut]]), kernels);
    expect(sha256(lib).startsWith("1810eba8")).toBe(true);
  });

  /** The fixture blob's chunks with rebuilt metadata: a v2 compression table and a fresh ToC. */
  async function rebuiltBlob(zstdSections: boolean): Promise<Uint8Array> {
    const info = image.blobs[0]!;
    const original = await openBlob(bytesSource(readFileSync(V6_BLOB)), { info });
    const data = readFileSync(V6_BLOB).subarray(0, 7802);
    const table = new Uint8Array(24 * original.table!.length);
    const tv = new DataView(table.buffer);
    original.table!.forEach((c, i) => {
      tv.setBigUint64(i * 24, BigInt(c.uncompressedOffset / 4096) | (BigInt(c.uncompressedSize - 1) << 32n) | (1n << 56n), true);
      tv.setBigUint64(i * 24 + 8, BigInt(c.compressedOffset) | (BigInt(c.compressedSize) << 40n), true);
    });
    const header = new Uint8Array(4096);
    const hv = new DataView(header.buffer);
    hv.setUint32(0, 0xb10bb10b, true);
    hv.setUint32(4, 0x4 | 0x1, true); // CHUNK_INFO_V2 | ALIGNED
    hv.setUint32(12, original.table!.length, true);
    hv.setBigUint64(32, BigInt(table.length), true);
    hv.setUint32(4092, 0xb10bb10b, true);
    const sections: [string, Uint8Array][] = [["blob.meta", table], ["blob.meta.header", header]];
    const parts: Uint8Array[] = [data];
    let at = data.length;
    const toc = new Uint8Array(128 * (sections.length + 1));
    const tocView = new DataView(toc.buffer);
    const entry = (i: number, name: string, content: Uint8Array, offset: number, stored: number, flags: number) => {
      tocView.setUint32(i * 128, flags, true);
      toc.set(new TextEncoder().encode(name), i * 128 + 8);
      toc.set(createHash("sha256").update(content).digest(), i * 128 + 24);
      tocView.setBigUint64(i * 128 + 56, BigInt(offset), true);
      tocView.setBigUint64(i * 128 + 64, BigInt(stored), true);
      tocView.setBigUint64(i * 128 + 72, BigInt(content.length), true);
    };
    entry(0, "image.blob", data, data.length, data.length, 1);
    sections.forEach(([name, content], i) => {
      const stored = zstdSections ? new Uint8Array(execFileSync("zstd", ["-c", "-q"], { input: content })) : content;
      entry(i + 1, name, content, at, stored.length, zstdSections ? 2 : 1);
      parts.push(stored);
      at += stored.length;
    });
    parts.push(toc, tarHeader({ path: "rafs.blob.toc", type: "file", size: toc.length }));
    return Buffer.concat(parts);
  }

  it.each([
    ["stored raw", false],
    ["zstd-compressed in the ToC", true],
  ])("a blob with a v2 (24-byte) compression table, %s, reads the same", async (_name, zstdSections) => {
    const info = { ...image.blobs[0]!, meta: { ...image.blobs[0]!.meta, tocSize: 0 } };
    const original = await openBlob(bytesSource(readFileSync(V6_BLOB)), { info });
    const bytes = await rebuiltBlob(zstdSections);
    const blob = await openBlob(bytesSource(bytes), { info, sha256: kernels.hasher("sha256"), codec: kernels.codec });
    expect(blob.table).toEqual(original.table);
    const lib = await readFile(image, "/lib.rs", new Map([[info.blobId, blob]]), kernels);
    expect(sha256(lib).startsWith("1810eba8")).toBe(true);
    if (zstdSections) {
      // A compressed section that no longer decodes makes the blob malformed.
      const meta = blob.toc!.find((e) => e.name === "blob.meta")!;
      const broken = bytes.slice();
      broken[meta.compressedOffset] ^= 0xff; // the zstd frame magic
      const e = await openBlob(bytesSource(broken), { info, codec: kernels.codec }).catch((err: unknown) => err);
      expect(isStrataError(e, "BAD_BLOB"), String(e)).toBe(true);
    }
  });

  const dumpErofs = ["/usr/bin/dump.erofs", "/usr/sbin/dump.erofs"].find(existsSync);
  it.skipIf(!dumpErofs)("agrees with dump.erofs on every inode (nid, size, mode, uid, gid, mtime, dirents)", () => {
    // dump.erofs insists on as many devices as the superblock lists; their content is not read.
    const device = join(mkdtempSync(join(tmpdir(), "rafs-read-")), "blob");
    writeFileSync(device, new Uint8Array(64 << 10));
    const dump = (...args: string[]) => execFileSync(dumpErofs!, [`--device=${device}`, ...args, V6_BOOT], { encoding: "utf8" });
    const stats = dump("-S");
    expect(Number(/total file count:\s+(\d+)/.exec(stats)![1])).toBe([...walk(image.root)].length);
    expect(Number(/regular file count:\s+(\d+)/.exec(stats)![1])).toBe(2);
    for (const [path, node] of walk(image.root)) {
      const inode = node as RafsInode;
      const out = dump(`--path=${path}`);
      expect(Number(/NID: (\d+)/.exec(out)![1]), path).toBe(inode.nid);
      expect(Number(/Uid: (\d+)/.exec(out)![1])).toBe(inode.uid);
      expect(Number(/Gid: (\d+)/.exec(out)![1])).toBe(inode.gid);
      expect(parseInt(/Access: (\d+)/.exec(out)![1]!, 8)).toBe(inode.mode & 0o7777);
      const [, date, nsec] = /Timestamp: (\S+ \S+)\.(\d+)/.exec(out)!;
      expect(new Date(`${date}Z`).getTime() / 1000).toBe(inode.mtime);
      expect(Number(nsec)).toBe(inode.mtimeNsec);
      if (!inode.entries) expect(Number(/Size: (\d+)/.exec(out)![1])).toBe(inode.size);
      else {
        // --ls lists the dirents: every child's nid and name.
        const listed = dump("--ls", `--path=${path}`)
          .split("\n")
          .map((l) => /^\s*(\d+)\s+\d+\s+(.+)$/.exec(l))
          .filter((m) => m && m[2] !== "." && m[2] !== "..")
          .map((m) => [m![2], Number(m![1])]);
        expect(listed).toEqual([...inode.entries].map(([name, child]) => [name, child.nid]));
      }
    }
  });
});

/** The `tree -J` part of a .result file, and its md5sum listing. */
function readResult(file: string): { tree: unknown; report: unknown; md5: Map<string, string> } {
  const text = readFileSync(file, "utf8");
  const end = text.indexOf("\n]\n") + 2;
  const tree = JSON.parse(text.slice(0, end)) as { type: string }[];
  const md5 = new Map<string, string>();
  for (const line of text.slice(end).split("\n")) {
    const m = /^([0-9a-f]{32})\s+(\/.*)$/.exec(line);
    if (m) md5.set(m[2]!, m[1]!);
  }
  return { tree: tree.filter((e) => e.type !== "report"), report: tree.find((e) => e.type === "report"), md5 };
}

/** Whether symlink `target` at `path` leads to a directory of the image (one level of links). */
function resolvesToDir(image: RafsImage, path: string, target: string): boolean {
  const parts = target.startsWith("/") ? [] : path.split("/").slice(1, -1);
  for (const part of target.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") parts.pop();
    else parts.push(part);
  }
  try {
    return lookup(image, `/${parts.join("/")}`).entries !== undefined;
  } catch {
    return false;
  }
}

/** The image tree in `tree -J` form: directories, files and links, sorted by name. */
function asTreeJson(node: RafsInode, name: string): unknown {
  if (node.entries) {
    const names = [...node.entries.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    return { type: "directory", name, contents: names.map((n) => asTreeJson(node.entries!.get(n)!, n)) };
  }
  if (node.target !== undefined) return { type: "link", name, target: node.target, contents: [] };
  return { type: "file", name };
}

describe.each([
  ["sha256-nocompress-repeatable", join(texture, "repeatable/sha256-nocompress-repeatable"), "sha256"],
  ["blake3-lz4_block-non_repeatable", join(texture, "repeatable/blake3-lz4_block-non_repeatable"), "blake3"],
  ["historical sha256-nocompress-repeatable", join(history, "sha256-nocompress-repeatable"), "sha256"],
  ["historical blake3-lz4_block-non_repeatable", join(history, "blake3-lz4_block-non_repeatable"), "blake3"],
])("RAFS v5 %s", (_name, file, digester) => {
  const image = parseBootstrap(readFileSync(file));
  const result = readResult(join(texture, "repeatable/sha256-nocompress-repeatable.result"));

  it("has the tree of the .result listing", () => {
    expect(image.version).toBe(5);
    expect(image.digester).toBe(digester);
    expect([asTreeJson(image.root, "")]).toEqual(result.tree);
    // tree's report counts entries below the root; a symlink counts as a directory when its
    // target resolves to one (resolved here inside the image).
    const all = [...walk(image.root)].slice(1);
    const isDir = ([path, n]: [string, RafsInode]) => Boolean(n.entries ?? (n.target !== undefined && resolvesToDir(image, path, n.target)));
    const dirs = all.filter((e) => isDir(e as [string, RafsInode])).length;
    expect(result.report).toEqual({ type: "report", directories: dirs, files: all.length - dirs });
  });

  it("every file's content (every chunk verified) has the listed md5", async () => {
    // The regenerated images and the historical sha256 one use blob 7334a259… (raw chunks), the
    // historical lz4 one blob d7b86b1e… (lz4_block chunks).
    expect(image.blobs).toHaveLength(1);
    const blobs = await openV5Blob(image);
    const seen = new Map<string, string>();
    for (const [path, node] of walk(image.root)) {
      if ((node as RafsInode).chunks) seen.set(path, md5(await readFile(image, path, blobs, kernels)));
    }
    expect(seen).toEqual(result.md5);
  });

  it("readFileStream yields the same bytes as readFile, holes included", async () => {
    const blobs = await openV5Blob(image);
    for (const path of ["/normal-file-test/holefiles/head-hole-1", "/normal-file-test/holefiles/tail-hole-5000", "/hardlink-test/foo"]) {
      const streamed = new Uint8Array(await new Response(readFileStream(image, path, blobs, kernels)).arrayBuffer());
      expect(md5(streamed), path).toBe(result.md5.get(path));
    }
  });

  it("hardlinks are one inode object; inode digests all check out", () => {
    const foo = lookup(image, "/hardlink-test/foo");
    expect(lookup(image, "/hardlink-test/test.sh")).toBe(foo);
    expect(lookup(image, "/normal-file-test/test.sh")).toBe(foo);
    expect(checkV5Digests(image, kernels.hasher(image.digester))).toEqual([]);
  });
});

describe("historical v5 blake3-lz4_block-non_repeatable (lz4 blob d7b86b1e…)", () => {
  const image = parseBootstrap(readFileSync(join(history, "blake3-lz4_block-non_repeatable")));
  const reference = parseBootstrap(readFileSync(join(texture, "repeatable/sha256-nocompress-repeatable")));

  it("is lz4_block + BLAKE3 with an old-style blob table", () => {
    expect(image).toMatchObject({ version: 5, compressor: "lz4_block", digester: "blake3" });
    expect(image.blobs.map((b) => [b.blobId, b.chunkCount])).toEqual([["d7b86b1e74e316fe945741d1a9fa1b271459fe41481e304977659e0c6ecf56ac", 0]]);
  });

  it("its 29 chunks decompress to the same bytes as the uncompressed image, every digest verified", async () => {
    const chunks = [...walk(image.root)].flatMap(([, n]) => (n as RafsInode).chunks ?? []);
    expect(chunks).toHaveLength(29);
    // Chunks lz4 could not shrink are stored raw with COMPRESSED clear; most are compressed.
    expect(chunks.filter((c) => c.flags & 1).length).toBeGreaterThan(chunks.length / 2);
    const blobs = await openV5Blob(image);
    const referenceBlobs = await openV5Blob(reference);
    for (const [path, node] of walk(image.root)) {
      if (!(node as RafsInode).chunks) continue;
      const data = await readFile(image, path, blobs, kernels);
      expect(md5(data), path).toBe(md5(await readFile(reference, path, referenceBlobs, kernels)));
    }
  });

  it("inode digests: upstream called some wrong; recomputed here, every one matches", () => {
    // What is true of this fixture: files hash their chunk ids, symlinks their target, directories
    // their children's digests; no inode disagrees (the regenerated image is checked above too).
    expect(checkV5Digests(image, kernels.hasher("blake3"))).toEqual([]);
  });

  it("a tampered chunk id shows up as that file's digest mismatch", () => {
    const copy = parseBootstrap(readFileSync(join(history, "blake3-lz4_block-non_repeatable")));
    lookup(copy, "/normal-file-test/holefiles/chsum").chunks![0]!.digest[0]! ^= 1;
    expect(checkV5Digests(copy, kernels.hasher("blake3")).map((m) => m.path)).toEqual(["/normal-file-test/holefiles/chsum"]);
  });
});
