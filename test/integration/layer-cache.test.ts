// convert --cache-dir: converted layers are replayed into the merge without reading them, their
// blobs reused; the image comes out byte-identical. The cache is a plain directory that works
// when copied elsewhere, survives damage (a damaged entry is converted again) and is trimmed by
// `strata cache gc`. Work is counted (layer bytes read), never timed: speed is in the bench.
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { commands } from "../../src/cli/commands/index.js";
import { runCli } from "../../src/cli/main.js";
import { openOciLayout } from "../../src/oci/layout.js";
import { randomLayout } from "../../src/oci/random.js";
import type { Image, Layer } from "../../src/oci/types.js";
import { convertInto, corpusImage, files, hasCorpus, ports, sameTree, verifyLayout } from "../helpers/convert-reuse.js";
import { writeLayout } from "../helpers/random-image.js";
import { testKernels } from "../helpers/validate.js";

const work = mkdtempSync(join(tmpdir(), "strata-layer-cache-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const { kernels: oci } = await testKernels();
let counter = 0;
const outDir = () => join(work, `out-${counter++}`);

/** `image` with every byte read from its layers counted. */
function counted(image: Image): { image: Image; bytesRead: () => number } {
  let bytes = 0;
  const count = (stream: ReadableStream<Uint8Array>) =>
    stream.pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, controller) {
          bytes += chunk.length;
          controller.enqueue(chunk);
        },
      }),
    );
  const wrap = (layer: Layer): Layer => ({
    digest: layer.digest,
    diffId: layer.diffId,
    mediaType: layer.mediaType,
    size: layer.size,
    compressed: () => count(layer.compressed()),
    uncompressed: () => count(layer.uncompressed()),
    compression: () => layer.compression(),
  });
  const wrapped: Image = {
    digest: () => image.digest(),
    manifest: () => image.manifest(),
    rawManifest: () => image.rawManifest(),
    rawConfig: () => image.rawConfig(),
    config: () => image.config(),
    layers: async () => (await image.layers()).map(wrap),
    warnings: image.warnings,
  };
  return { image: wrapped, bytesRead: () => bytes };
}

async function convertCounted(source: string, options: Parameters<typeof convertInto>[2] = {}) {
  const { image, bytesRead } = counted(await openOciLayout(files, source, { kernels: oci }));
  const dir = outDir();
  const result = await convertInto(image, dir, options);
  return { dir, result, bytesRead: bytesRead() };
}

async function generated(seed: number): Promise<string> {
  const dir = join(work, `src-${seed}`);
  writeLayout(dir, await randomLayout(oci, { seed, layers: 4, entries: 40 }));
  return dir;
}

describe("generated images", () => {
  test("a warm cache replays every layer without reading it, and the image is byte-identical; so does a copy of the cache", async () => {
    const src = await generated(21);
    const cacheDir = join(work, "cache-21");
    const cold = await convertCounted(src, { chunkSize: 4096, cacheDir });
    expect(cold.bytesRead).toBeGreaterThan(0);
    expect(cold.result.stats.cachedLayers).toBe(0);
    expect(readdirSync(join(cacheDir, "entries"))).toHaveLength(4);

    const warm = await convertCounted(src, { chunkSize: 4096, cacheDir });
    expect(warm.bytesRead).toBe(0);
    expect(warm.result.stats.layerBytesRead).toBe(0);
    expect(warm.result.stats.cachedLayers).toBe(4);
    expect(warm.result.manifest.digest).toBe(cold.result.manifest.digest);
    expect((await verifyLayout(warm.dir)).failures).toEqual([]);
    const { strata, fsck } = await sameTree(await openOciLayout(files, src, { kernels: oci }), warm.dir);
    expect(strata[0]).toEqual(strata[1]);
    if (fsck) expect(fsck[0]).toEqual(fsck[1]);

    // Another machine: the directory copied elsewhere (new inodes, new absolute path).
    const copied = join(work, "elsewhere", "cache");
    cpSync(cacheDir, copied, { recursive: true });
    rmSync(cacheDir, { recursive: true });
    const there = await convertCounted(src, { chunkSize: 4096, cacheDir: copied });
    expect(there.bytesRead).toBe(0);
    expect(there.result.manifest.digest).toBe(cold.result.manifest.digest);
  });

  test("other settings or dictionaries are other keys; a layer over different lower blobs is converted again", async () => {
    const src = await generated(22);
    const cacheDir = join(work, "cache-22");
    const first = await convertCounted(src, { chunkSize: 4096, cacheDir });
    const lz4 = await convertCounted(src, { chunkSize: 4096, compressor: "lz4_block", cacheDir });
    expect(lz4.result.stats.cachedLayers).toBe(0);
    expect(lz4.bytesRead).toBe(first.bytesRead);
    const withDict = await convertCounted(src, { chunkSize: 4096, cacheDir, dicts: [`oci:${first.dir}:latest`] });
    expect(withDict.result.stats.cachedLayers).toBe(0);
    const again = await convertCounted(src, { chunkSize: 4096, cacheDir, dicts: [`oci:${first.dir}:latest`] });
    expect(again.bytesRead).toBe(0);
    expect(again.result.manifest.digest).toBe(withDict.result.manifest.digest);
    expect((await verifyLayout(again.dir)).failures).toEqual([]);
  });

  test("a damaged record or blob is not used: the layer is converted again and the entry replaced", async () => {
    const src = await generated(23);
    const cacheDir = join(work, "cache-23");
    const cold = await convertCounted(src, { chunkSize: 4096, cacheDir });
    const entries = readdirSync(join(cacheDir, "entries")).map((name) => JSON.parse(readFileSync(join(cacheDir, "entries", name), "utf8")) as { record: string; blob: string | null });
    const withBlob = entries.find((e) => e.blob !== null)!;
    const other = entries.find((e) => e !== withBlob)!;
    const flip = (path: string, at: (n: number) => number) => {
      const bytes = readFileSync(path);
      bytes[at(bytes.length)] ^= 0xff;
      writeFileSync(path, bytes);
    };
    flip(join(cacheDir, "records", other.record), (n) => n >> 1); // caught by the record's digest
    flip(join(cacheDir, "blobs", withBlob.blob!), () => 100); // same size, other bytes: caught by the copy's digest

    const repaired = await convertCounted(src, { chunkSize: 4096, cacheDir });
    expect(repaired.bytesRead).toBeGreaterThan(0);
    expect(repaired.result.stats.cachedLayers).toBe(2);
    expect(repaired.result.manifest.digest).toBe(cold.result.manifest.digest);
    expect((await verifyLayout(repaired.dir)).failures).toEqual([]);
    const warm = await convertCounted(src, { chunkSize: 4096, cacheDir });
    expect(warm.bytesRead).toBe(0);
    expect(warm.result.manifest.digest).toBe(cold.result.manifest.digest);
  });

  test("strata cache gc removes entries by age, then the least recently used by size, then what no entry names", async () => {
    const cacheDir = join(work, "cache-gc");
    for (const seed of [24, 25]) await convertCounted(await generated(seed), { chunkSize: 4096, cacheDir });
    const entries = readdirSync(join(cacheDir, "entries")).sort();
    expect(entries).toHaveLength(8);
    const out: string[] = [];
    const gc = async (...args: string[]) => {
      out.length = 0;
      const code = await runCli(["cache", "gc", "--cache-dir", cacheDir, "--json", ...args], commands, { ports, stdout: (t) => out.push(t), stderr: (t) => out.push(t), isTTY: false });
      expect(code).toBe(0);
      return JSON.parse(out.join("")) as { entries: { kept: number; removed: number }; bytes: { kept: number; removed: number } };
    };
    const sizeOf = (sub: string) => readdirSync(join(cacheDir, sub)).reduce((n, f) => n + statSync(join(cacheDir, sub, f)).size, 0);

    // Nothing is old yet.
    expect((await gc("--max-age", "1d")).entries).toEqual({ kept: 8, removed: 0 });
    // Two entries last used ten days ago go, with the files only they named.
    const old = new Date(Date.now() - 10 * 86_400_000);
    for (const name of entries.slice(0, 2)) utimesSync(join(cacheDir, "entries", name), old, old);
    const aged = await gc("--max-age", "7d");
    expect(aged.entries).toEqual({ kept: 6, removed: 2 });
    expect(readdirSync(join(cacheDir, "entries")).sort()).toEqual(entries.slice(2));
    expect(aged.bytes.kept).toBe(sizeOf("blobs") + sizeOf("records"));
    // A size budget keeps the most recently used that fit.
    const budget = Math.floor(aged.bytes.kept / 2);
    const trimmed = await gc("--max-size", String(budget));
    expect(trimmed.entries.kept).toBeLessThan(6);
    expect(trimmed.bytes.kept).toBeLessThanOrEqual(budget);
    expect(sizeOf("blobs") + sizeOf("records")).toBe(trimmed.bytes.kept);
    // Everything that remains is still usable: the kept entries replay.
    expect((await gc("--max-size", "0")).entries.kept).toBe(0);
    expect(sizeOf("blobs") + sizeOf("records")).toBe(0);

    const bad = await runCli(["cache", "gc", "--cache-dir", cacheDir, "--max-age", "soon"], commands, { ports, stdout: () => {}, stderr: (t) => out.push(t), isTTY: false });
    expect(bad).toBe(2);
  });
});

describe.skipIf(!hasCorpus("app-v1", "app-v2"))("corpus images (../shared/corpus/build-corpus.sh)", () => {
  test("app-v1 again with a warm cache reads no layer byte (and from a copied cache); app-v2 reuses the shared base layer", async () => {
    const cacheDir = join(work, "corpus-cache");
    const cold = await convertCounted(corpusImage("app-v1"), { cacheDir });
    expect(cold.bytesRead).toBeGreaterThan(60e6);
    const warm = await convertCounted(corpusImage("app-v1"), { cacheDir });
    expect(warm.bytesRead).toBe(0);
    expect(warm.result.manifest.digest).toBe(cold.result.manifest.digest);
    expect((await verifyLayout(warm.dir)).failures).toEqual([]);

    const copied = join(work, "corpus-cache-copy");
    cpSync(cacheDir, copied, { recursive: true });
    const there = await convertCounted(corpusImage("app-v1"), { cacheDir: copied });
    expect(there.bytesRead).toBe(0);
    expect(there.result.manifest.digest).toBe(cold.result.manifest.digest);

    const v2 = await convertCounted(corpusImage("app-v2"), { cacheDir });
    expect(v2.result.stats.cachedLayers).toBe(1);
    const layers = await (await openOciLayout(files, corpusImage("app-v2"), { kernels: oci })).layers();
    expect(v2.result.stats.layerBytesRead).toBe(layers[1]!.size);
    const { strata, fsck } = await sameTree(await openOciLayout(files, corpusImage("app-v2"), { kernels: oci }), v2.dir);
    expect(strata[0]).toEqual(strata[1]);
    if (fsck) expect(fsck[0]).toEqual(fsck[1]);
  }, 900_000);
});
