// `export(convert(X))` flattens to the same tree as X (generated images, and the corpus when
// present), umoci unpacks the export like the original, and the `strata unpack` / `strata export`
// commands as users run them (bin/strata.js over dist/): output, --json, exit codes.
import { execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { exportImage, type ExportResult } from "../../src/export/oci.js";
import type { GzipMode } from "../../src/export/gzip.js";
import { rafsKernels } from "../../src/kernels/index.js";
import { createStreamingSha256 } from "../../src/kernels/sha256.js";
import { openNydus } from "../../src/nydus/image.js";
import { inspectImage } from "../../src/oci/inspect.js";
import { LayoutWriter } from "../../src/oci/layout-writer.js";
import { openImage } from "../../src/oci/open.js";
import { randomLayout } from "../../src/oci/random.js";
import { readTar } from "../../src/tar/reader.js";
import type { TarWriteEntry } from "../../src/tar/writer.js";
import { nydusSource } from "../../src/unpack/sources.js";
import { unpack } from "../../src/unpack/unpack.js";
import { nodeFilesPort } from "../../runtimes/node/files.js";
import { nodeOutput } from "../../runtimes/node/output.js";
import { nodeTreeOutput } from "../../runtimes/node/tree-output.js";
import { ports } from "../helpers/kernels.js";
import { convertInto, expectedRows, leftovers, listUnpacked, writeLayersLayout } from "../helpers/unpack.js";
import { diskTree, testKernels, validate } from "../helpers/validate.js";

const repo = new URL("../..", import.meta.url).pathname;
const work = mkdtempSync(join(tmpdir(), "strata-unpack-export-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const { kernels } = await testKernels();
const rafs = await rafsKernels(ports);
const files = nodeFilesPort();
const filePorts = { ...ports, files };
const CORPUS = process.env.STRATA_CORPUS ?? "/tmp/corpus";
const enc = new TextEncoder();
const isRoot = process.getuid?.() === 0;
const umoci = spawnSync("which", ["umoci"], { encoding: "utf8" }).stdout.trim() || undefined;
let n = 0;
const fresh = (name: string) => join(work, `${name}-${n++}`);

/** Exports the Nydus image `oci:layout:nydus` into a new layout, tag "flat". */
async function exportTo(layout: string, gzip?: GzipMode): Promise<{ dir: string; result: ExportResult }> {
  const dir = fresh("export");
  const nydus = await openNydus(filePorts, `oci:${layout}:nydus`, { kernels });
  const sha256 = () => createStreamingSha256(ports);
  const dest = await LayoutWriter.open(dir, nodeOutput, files, { sha256 });
  const result = await exportImage(nydus, dest, "flat", { rafs, sha256 }, { gzip });
  return { dir, result };
}

/** A valid vfs_cap_data (revision 2, effective, cap_net_bind_service permitted): the kernel refuses malformed ones. */
const CAPABILITY = new Uint8Array([1, 0, 0, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);

const specials: TarWriteEntry[] = [
  { path: "x/", type: "dir", mode: 0o2775, gid: 50, mtime: 1_500_000_000, mtimeNsec: 5, xattrs: new Map([["user.dir", enc.encode("d")]]) },
  { path: "x/suid", type: "file", mode: 0o4755, mtime: 1_500_000_001, data: enc.encode("s".repeat(70000)), xattrs: new Map([["security.capability", CAPABILITY]]) },
  { path: "x/hard", type: "hardlink", linkname: "x/suid" },
  { path: "x/fifo", type: "fifo", mode: 0o600, uid: 3, gid: 4 },
  { path: "x/tty", type: "chardev", mode: 0o620, devmajor: 4, devminor: 1 },
  { path: "x/" + "deep/".repeat(30) + "f", type: "file", data: enc.encode("deep"), mtime: 1 },
];

describe("export round trip on generated images", () => {
  for (const seed of [11, 12]) {
    test(`seed ${seed}: export(convert(X)) flattens to X's tree, stored and native gzip give the same tar`, async () => {
      const layout = fresh("layout");
      writeLayersLayout(layout, [...(await randomLayout(kernels, { seed })).layers, specials]);
      const original = await openImage(filePorts, `oci:${layout}:latest`, { kernels });
      const want = await inspectImage(original, kernels);
      await convertInto(original, layout, "nydus");

      const native = await exportTo(layout);
      const exported = await openImage(filePorts, `oci:${native.dir}:flat`, { kernels });
      await validate(exported);
      expect(await inspectImage(exported, kernels)).toEqual(want);
      const config = await exported.config();
      expect(config.rootfs.diff_ids).toEqual([native.result.diffId]);
      expect((config.history as { empty_layer?: boolean }[]).filter((h) => !h.empty_layer)).toHaveLength(1);

      const stored = await exportTo(layout, "stored");
      expect(stored.result.diffId).toBe(native.result.diffId);
      const storedLayer = readFileSync(join(stored.dir, "blobs/sha256", stored.result.layer.digest.slice(7)));
      const tar = gunzipSync(storedLayer);
      expect(`sha256:${createHash("sha256").update(tar).digest("hex")}`).toBe(stored.result.diffId);
      // Deterministic: tree order, hardlinks as links, xattrs as PAX records.
      const paths: string[] = [];
      for await (const e of readTar(new Uint8Array(tar))) {
        paths.push(e.path);
        // "x/hard" sorts first, so it holds the content and "x/suid" links to it.
        if (e.path === "x/hard") expect([e.type, e.xattrs.get("security.capability")]).toEqual(["file", CAPABILITY]);
        if (e.path === "x/suid") expect([e.type, e.linkname]).toEqual(["hardlink", "x/hard"]);
      }
      expect(paths[0]).toBe("./");
      expect((await exportTo(layout, "stored")).result.manifest.digest).toBe(stored.result.manifest.digest);
    });
  }

  test.skipIf(!umoci || !isRoot)("umoci unpacks the export exactly as it unpacks the original", async () => {
    const layout = fresh("layout");
    writeLayersLayout(layout, [...(await randomLayout(kernels, { seed: 13 })).layers, specials]);
    await convertInto(await openImage(filePorts, `oci:${layout}:latest`, { kernels }), layout, "nydus");
    const { dir } = await exportTo(layout);
    const a = fresh("umoci");
    const b = fresh("umoci");
    execFileSync(umoci!, ["unpack", "--image", `${layout}:latest`, a], { stdio: "pipe" });
    execFileSync(umoci!, ["unpack", "--image", `${dir}:flat`, b], { stdio: "pipe" });
    expect(diskTree(join(b, "rootfs"))).toEqual(diskTree(join(a, "rootfs")));
  });
});

const corpusImage = (name: string) => join(CORPUS, "images", name);
describe.skipIf(!existsSync(corpusImage("hamburger")))("corpus images (../shared/corpus/build-corpus.sh)", () => {
  // Kept quick: stored gzip (native is covered above), 1 MiB chunks, one chunk compressor per
  // image, and only base is also unpacked.
  const compressors = { base: "zstd", "app-v1": "lz4_block", hamburger: "none" } as const;
  for (const name of ["base", "app-v1", "hamburger"] as const) {
    test(`${name}: export(convert(X)) flattens to X's tree${name === "base" ? "; unpack of convert(X) writes X's tree" : ""}`, async () => {
      const original = await openImage(filePorts, `oci:${corpusImage(name)}:latest`, { kernels });
      const want = await inspectImage(original, kernels);
      const layout = fresh("layout");
      await convertInto(original, layout, "nydus", { chunkSize: 1 << 20, compressor: compressors[name] });
      const { dir } = await exportTo(layout, "stored");
      expect(await inspectImage(await openImage(filePorts, `oci:${dir}:flat`, { kernels }), kernels)).toEqual(want);
      if (name === "base") {
        const out = fresh("unpacked");
        await unpack(nydusSource(await openNydus(filePorts, `oci:${layout}:nydus`, { kernels }), rafs), nodeTreeOutput, out);
        const rows = listUnpacked(out).map(({ ino: _, ...r }) => r);
        expect(rows).toEqual(expectedRows(want).map((r) => (isRoot ? r : { ...r, uid: process.getuid!(), gid: process.getgid!() })));
        rmSync(out, { recursive: true });
      }
      rmSync(layout, { recursive: true });
      rmSync(dir, { recursive: true });
    }, 240_000);
  }
});

describe("the commands", () => {
  function strata(...args: string[]) {
    const r = spawnSync(process.execPath, [join(repo, "bin/strata.js"), ...args], { encoding: "utf8" });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  }
  const layout = join(work, "cli-layout");

  beforeAll(async () => {
    writeLayersLayout(layout, [[{ path: "etc/", type: "dir" }, { path: "etc/hosts", type: "file", data: enc.encode("127.0.0.1 localhost\n".repeat(5000)) }, { path: "link", type: "symlink", linkname: "etc/hosts" }]]);
    await convertInto(await openImage(filePorts, `oci:${layout}:latest`, { kernels }), layout, "nydus");
  }, 180_000);

  test("unpack: Nydus and OCI images, --json, a non-empty DIR refused (exit 2) unless --force", () => {
    const dir = join(work, "cli-unpacked");
    const human = strata("unpack", `oci:${layout}:nydus`, dir);
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toMatch(/^unpacked .* 1 files/);
    expect(readFileSync(join(dir, "etc/hosts"), "utf8")).toBe("127.0.0.1 localhost\n".repeat(5000));
    const refused = strata("unpack", `oci:${layout}:latest`, dir, "--json");
    expect(refused.code).toBe(2);
    expect(JSON.parse(refused.stdout).error.code).toBe("INVALID_ARGUMENT");
    const forced = strata("unpack", `oci:${layout}:latest`, dir, "--force", "--json");
    expect(forced.code, forced.stderr).toBe(0);
    const summary = JSON.parse(forced.stdout);
    expect([summary.format, summary.files, summary.symlinks, summary.bytes]).toEqual(["oci", 1, 1, 20 * 5000]);
    expect(leftovers(dir)).toEqual([]);
  });

  test("unpack: a corrupt chunk exits 1 and leaves nothing; a missing image exits 3; wrong arguments exit 2", async () => {
    const broken = join(work, "cli-broken");
    execFileSync("cp", ["-r", layout, broken]);
    const nydus = await openNydus(filePorts, `oci:${broken}:nydus`, { kernels });
    const chunk = nydus.rafs!.root.entries!.get("etc")!.entries!.get("hosts")!.chunks![0]!;
    const blobPath = join(broken, "blobs/sha256", nydus.rafs!.blobs[chunk.blobIndex]!.blobId);
    const blob = readFileSync(blobPath);
    blob[chunk.compressedOffset + (chunk.compressedSize >> 1)]! ^= 0xff;
    writeFileSync(blobPath, blob);
    const dir = join(work, "cli-corrupt");
    const failed = strata("unpack", `oci:${broken}:nydus`, dir, "--json");
    expect(failed.code).toBe(1);
    expect(["DIGEST_MISMATCH", "CORRUPT_DATA"]).toContain(JSON.parse(failed.stdout).error.code);
    expect(existsSync(dir)).toBe(false);
    expect(leftovers(dir)).toEqual([]);
    expect(strata("unpack", `oci:${join(work, "nothing")}`, dir).code).toBe(3);
    expect(strata("unpack", `oci:${layout}:nydus`).code).toBe(2);
  });

  test("export: writes the flattened image, --json summary; bad destinations are usage errors", () => {
    const out = strata("export", `oci:${layout}:nydus`, `oci:${join(work, "cli-export")}:flat`, "--json", "--gzip", "stored");
    expect(out.code, out.stderr).toBe(0);
    const summary = JSON.parse(out.stdout);
    expect(summary.diffId).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(readdirSync(join(work, "cli-export/blobs/sha256"))).toContain(summary.layer.digest.slice(7));
    const unpacked = join(work, "cli-export-unpacked");
    expect(strata("unpack", `oci:${join(work, "cli-export")}:flat`, unpacked).code).toBe(0);
    expect(readFileSync(join(unpacked, "etc/hosts"), "utf8")).toBe("127.0.0.1 localhost\n".repeat(5000));
    expect(strata("export", `oci:${layout}:nydus`, "docker-archive:/tmp/x.tar").code).toBe(2);
    expect(strata("export", `oci:${layout}:nydus`, `oci:${join(work, "cli-export")}`, "--gzip", "brotli").code).toBe(2);
    expect(strata("export", `oci:${layout}:nydus`, `oci:${join(work, "cli-export")}`, "--verity").code).toBe(2);
    expect(strata("export", "--block", `oci:${layout}:nydus`, join(work, "disk.img"), "--gzip", "stored").code).toBe(2);
  });
});
