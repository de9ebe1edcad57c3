// The overlay merge on the real corpus: for each image, strata's flattened tree equals what
// `umoci unpack` writes, entry for entry (path, type, mode, uid, gid, size, content sha256,
// symlink target) — for OCI layouts with gzip and zstd layers and for the docker-archive tars.
// Reading the hamburger image (a 20 MiB file added, deleted and added again) keeps memory
// bounded by window sizes, not by the image.
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { nodeFilesPort } from "../../runtimes/node/files.js";
import type { OciKernels } from "../../src/oci/decompress.js";
import { inspectImage } from "../../src/oci/inspect.js";
import { openImage } from "../../src/oci/open.js";
import { ports } from "../helpers/kernels.js";
import { diskTree, testKernels, type TreeRow } from "../helpers/validate.js";

const CORPUS = process.env.STRATA_CORPUS ?? "/tmp/corpus";
const hasCorpus = existsSync(join(CORPUS, "images/base/index.json"));
const hasUmoci = (() => {
  try {
    execFileSync("which", ["umoci"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
})();
const isRoot = process.getuid?.() === 0;
const why = !hasCorpus ? `no corpus at ${CORPUS} (run ../shared/corpus/build-corpus.sh)` : !hasUmoci ? "umoci is not installed" : !isRoot ? "umoci unpack needs root to restore owners" : "";

const files = nodeFilesPort();
const tmp = mkdtempSync(join(tmpdir(), "strata-corpus-umoci-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
let kernels: OciKernels;
beforeAll(async () => {
  kernels = (await testKernels()).kernels;
});

/** umoci's rootfs for images/NAME, unpacked once per file. */
const unpacked = new Map<string, TreeRow[]>();
function umociTree(name: string): TreeRow[] {
  let rows = unpacked.get(name);
  if (!rows) {
    const out = join(tmp, name);
    execFileSync("umoci", ["unpack", "--image", `${join(CORPUS, "images", name)}:latest`, out], { stdio: "pipe" });
    rows = diskTree(join(out, "rootfs"));
    rmSync(out, { recursive: true, force: true });
    unpacked.set(name, rows);
  }
  return rows;
}

async function strataTree(src: string): Promise<TreeRow[]> {
  const image = await openImage({ ...ports, files }, src, { kernels });
  return (await inspectImage(image, kernels)).map(({ path, type, mode, uid, gid, size, sha256, target }) => ({ path, type, mode, uid, gid, size, sha256, target }));
}

function expectSameTree(ours: TreeRow[], theirs: TreeRow[], label: string): void {
  // umoci gives the rootfs directory its own metadata: compare the root by type only.
  expect(ours[0]!.type).toBe("dir");
  const normal = theirs.slice(1).map((r) => ({ sha256: undefined, target: undefined, ...r }));
  expect(ours.length, `${label}: entry count`).toBe(theirs.length);
  // Compare path by path first so a failure names the first differing entry, not a huge diff.
  for (let i = 1; i < ours.length; i++) expect(ours[i], `${label}: entry ${i}`).toEqual(normal[i - 1]);
}

describe.skipIf(why !== "")(`corpus images flatten exactly as umoci unpacks them${why ? ` (skipped: ${why})` : ""}`, () => {
  for (const name of ["base", "app-v1", "app-v2", "hamburger"]) {
    test(`oci:${name}`, async () => {
      expectSameTree(await strataTree(`oci:${join(CORPUS, "images", name)}:latest`), umociTree(name), name);
    }, 300_000);
  }

  // Debian's umoci cannot read zstd layers; app-v1-zstd has app-v1's diff_ids (the same tars,
  // recompressed by skopeo), so umoci's unpack of app-v1 is its oracle.
  test("oci:app-v1-zstd", async () => {
    const ours = await strataTree(`oci:${join(CORPUS, "images/app-v1-zstd")}:latest`);
    const image = await openImage({ ...ports, files }, `oci:${join(CORPUS, "images/app-v1-zstd")}:latest`, { kernels });
    expect(new Set((await image.layers()).map((l) => l.mediaType))).toEqual(new Set(["application/vnd.oci.image.layer.v1.tar+zstd"]));
    expectSameTree(ours, umociTree("app-v1"), "app-v1-zstd");
  }, 300_000);

  for (const name of ["app-v1", "hamburger"]) {
    test(`docker-archive:${name}.docker.tar`, async () => {
      expectSameTree(await strataTree(`docker-archive:${join(CORPUS, "archives", `${name}.docker.tar`)}`), umociTree(name), `${name} (docker-archive)`);
    }, 300_000);
  }

  test("reading hamburger keeps memory far below the image size", async () => {
    const image = await openImage({ ...ports, files }, `oci:${join(CORPUS, "images/hamburger")}:latest`, { kernels });
    const layerBytes = (await image.manifest()).layers.reduce((n, l) => n + l.size, 0);
    const gc = globalThis.gc;
    if (!gc) throw new Error("run with --expose-gc (vitest.config.ts sets it)");
    gc();
    const base = process.memoryUsage();
    let peak = 0;
    // Collect before each sample: what remains is what the reader holds live.
    const sample = () => {
      gc();
      const m = process.memoryUsage();
      peak = Math.max(peak, m.heapUsed - base.heapUsed + (m.arrayBuffers - base.arrayBuffers));
    };
    const timer = setInterval(sample, 20);
    try {
      const rows = await inspectImage(image, kernels);
      sample();
      expect(rows.some((r) => r.size >= 20 << 20)).toBe(true);
    } finally {
      clearInterval(timer);
    }
    // The layers hold ~93 MB compressed and the 20 MiB file three times; live memory (15 MiB
    // measured) stays below what holding that one file whole would add.
    expect(layerBytes).toBeGreaterThan(80e6);
    expect(peak, `peak live growth ${(peak / 1048576).toFixed(1)} MiB`).toBeLessThan(32 << 20);
  }, 300_000);
});
