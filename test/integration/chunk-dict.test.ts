// convert --chunk-dict: chunks already stored in a dictionary image (an OCI layout or a bare
// bootstrap with its blobs) are referenced, not stored again; the dictionary blobs used join the
// blob table and the manifest, so the image verifies and extracts on its own.
import { createHash } from "node:crypto";
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { commands } from "../../src/cli/commands/index.js";
import { runCli } from "../../src/cli/main.js";
import { nodeSha256 } from "../../runtimes/node/sha256.js";
import { nodeCacheDir } from "../../runtimes/node/cache-dir.js";
import { nodeOutput } from "../../runtimes/node/output.js";
import { openChunkDictionaries } from "../../src/convert/chunk-dict.js";
import { LayerCache } from "../../src/convert/layer-cache.js";
import { convertImage } from "../../src/convert/convert-image.js";
import { resolveOptions } from "../../src/convert/options.js";
import { isStrataError } from "../../src/errors.js";
import { rafsKernels } from "../../src/kernels/index.js";
import { createSha256 } from "../../src/kernels/sha256.js";
import { openNydus } from "../../src/nydus/image.js";
import { verifyNydusImage } from "../../src/nydus/verify.js";
import { ociKernels } from "../../src/oci/kernels.js";
import type { RegistryOptions } from "../../src/registry/client.js";
import { openOciLayout } from "../../src/oci/layout.js";
import { randomLayout } from "../../src/oci/random.js";
import type { Descriptor, ImageManifest } from "../../src/oci/types.js";
import type { RafsImage } from "../../src/rafs/types.js";
import { convertInto, corpusImage, files, hasCorpus, ports, sameTree, verifyLayout } from "../helpers/convert-reuse.js";
import { readNydusLayout } from "../helpers/nydus-layout.js";
import { hasRegistry, startRegistry, type TestRegistry } from "../helpers/registry.js";
import { writeLayout } from "../helpers/random-image.js";
import { testKernels } from "../helpers/validate.js";

const work = mkdtempSync(join(tmpdir(), "strata-chunk-dict-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const { kernels: oci } = await testKernels();
const json = (bytes: Uint8Array) => JSON.parse(new TextDecoder().decode(bytes));

/** A generated layout, and the same image cut down to its first `keep` layers. */
async function generated(seed: number, keep?: number): Promise<string> {
  const layout = await randomLayout(oci, { seed, layers: 4, entries: 40 });
  const dir = join(work, `src-${seed}-${keep ?? "all"}`);
  if (keep === undefined) {
    writeLayout(dir, layout);
    return dir;
  }
  const get = (digest: string) => layout.files.get(`blobs/sha256/${digest.slice(7)}`)!;
  const manifest = json(get(layout.manifest.digest)) as ImageManifest;
  const config = json(get(manifest.config.digest));
  config.rootfs.diff_ids = config.rootfs.diff_ids.slice(0, keep);
  if (Array.isArray(config.history)) config.history = config.history.slice(0, keep);
  const put = (value: unknown): Descriptor => {
    const bytes = new TextEncoder().encode(JSON.stringify(value));
    const digest = `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
    layout.files.set(`blobs/sha256/${digest.slice(7)}`, bytes);
    return { mediaType: "", digest, size: bytes.length };
  };
  const configDesc = { ...put(config), mediaType: manifest.config.mediaType };
  const manifestDesc = { ...put({ ...manifest, config: configDesc, layers: manifest.layers.slice(0, keep) }), mediaType: "application/vnd.oci.image.manifest.v1+json" };
  layout.files.set("index.json", new TextEncoder().encode(JSON.stringify({ schemaVersion: 2, manifests: [manifestDesc] })));
  writeLayout(dir, layout);
  return dir;
}

let counter = 0;
const outDir = () => join(work, `out-${counter++}`);
const open = (dir: string) => openOciLayout(files, dir, { kernels: oci });

/** Every blob of the table is named by at least one chunk. */
function referencedBlobs(image: RafsImage): Set<number> {
  const used = new Set<number>();
  const visit = (inode: RafsImage["root"]) => {
    for (const c of inode.chunks ?? []) used.add(c.blobIndex);
    for (const child of inode.entries?.values() ?? []) visit(child);
  };
  visit(image.root);
  return used;
}

async function expectSound(source: string, dir: string): Promise<void> {
  const report = await verifyLayout(dir);
  expect(report.failures).toEqual([]);
  expect(report.ok).toBe(true);
  const { strata, fsck } = await sameTree(await open(source), dir);
  expect(strata[0]).toEqual(strata[1]);
  if (fsck) expect(fsck[0]).toEqual(fsck[1]);
}

describe("generated images", () => {
  test("an image converted with itself as dictionary stores nothing new, verifies and reads back equal", async () => {
    const src = await generated(11);
    const first = outDir();
    const plain = await convertInto(await open(src), first, { chunkSize: 4096 });
    const again = outDir();
    const result = await convertInto(await open(src), again, { chunkSize: 4096, dicts: [`oci:${first}:latest`] });
    // Every chunk is found in the dictionary: no blob of its own, the dictionary's blobs instead.
    expect(result.stats.storedBytes).toBe(0);
    expect(result.stats.reusedChunks).toBe(result.stats.chunks);
    expect(result.dictionaryBlobs.map((d) => d.digest).sort()).toEqual(plain.blobs.map((d) => d.digest).sort());
    expect(result.blobs).toEqual(result.dictionaryBlobs);
    await expectSound(src, again);
  });

  test("only the dictionary blobs used enter the blob table and the manifest, after the image's own", async () => {
    const whole = await generated(12);
    const dictDir = outDir();
    const dict = await convertInto(await open(whole), dictDir, { chunkSize: 4096 });
    expect(dict.blobs.length).toBeGreaterThan(1);
    // The first layer alone: its chunks are all in the dictionary's first blob.
    const firstLayer = await generated(12, 1);
    const dir = outDir();
    const result = await convertInto(await open(firstLayer), dir, { chunkSize: 4096, dicts: [`oci:${dictDir}:latest`] });
    expect(result.dictionaryBlobs.map((d) => d.digest)).toEqual([dict.blobs[0]!.digest]);
    const out = await readNydusLayout(dir);
    expect(out.image.blobs.map((b) => `sha256:${b.blobId}`)).toEqual(out.manifest.layers.slice(0, -1).map((l) => l.digest));
    expect(referencedBlobs(out.image)).toEqual(new Set(out.image.blobs.map((b) => b.blobIndex)));
    await expectSound(firstLayer, dir);

    // The whole image over a dictionary of its first two layers: new layers get blobs of their own.
    const twoDir = outDir();
    await convertInto(await open(await generated(12, 2)), twoDir, { chunkSize: 4096 });
    const over = outDir();
    const grown = await convertInto(await open(whole), over, { chunkSize: 4096, dicts: [`oci:${twoDir}:latest`] });
    expect(grown.dictionaryBlobs.length).toBeGreaterThan(0);
    expect(grown.blobs.length).toBeGreaterThan(grown.dictionaryBlobs.length);
    expect(grown.blobs.slice(-grown.dictionaryBlobs.length)).toEqual(grown.dictionaryBlobs);
    const grownOut = await readNydusLayout(over);
    expect(referencedBlobs(grownOut.image)).toEqual(new Set(grownOut.image.blobs.map((b) => b.blobIndex)));
    await expectSound(whole, over);
    // The same inputs give the same image.
    const repeat = outDir();
    const second = await convertInto(await open(whole), repeat, { chunkSize: 4096, dicts: [`oci:${twoDir}:latest`] });
    expect(second.manifest.digest).toBe(grown.manifest.digest);
  });

  test("a bare bootstrap is a dictionary; chunks of blobs it cannot find are not used", async () => {
    const src = await generated(13);
    const dictDir = outDir();
    const dict = await convertInto(await open(src), dictDir, { chunkSize: 4096, compressor: "lz4_block" });
    const bare = join(work, "bare");
    mkdirSync(join(bare, "blobs"), { recursive: true });
    writeFileSync(join(bare, "image.boot"), (await readNydusLayout(dictDir)).bootstrap);
    for (const d of dict.blobs) copyFileSync(join(dictDir, "blobs/sha256", d.digest.slice(7)), join(bare, "blobs", d.digest.slice(7)));

    const withBlobs = outDir();
    // openNydus looks for the blobs beside the bootstrap: give it a copy laid out that way.
    const beside = join(work, "beside");
    mkdirSync(beside, { recursive: true });
    copyFileSync(join(bare, "image.boot"), join(beside, "image.boot"));
    for (const name of readdirSync(join(bare, "blobs"))) copyFileSync(join(bare, "blobs", name), join(beside, name));
    const found = await convertInto(await open(src), withBlobs, { chunkSize: 4096, compressor: "lz4_block", dicts: [join(beside, "image.boot")] });
    expect(found.stats.storedBytes).toBe(0);
    await expectSound(src, withBlobs);

    // Without its blobs the dictionary contributes nothing: the image stores every chunk itself.
    const alone = join(work, "alone");
    mkdirSync(alone, { recursive: true });
    copyFileSync(join(bare, "image.boot"), join(alone, "image.boot"));
    const missing = outDir();
    const stored = await convertInto(await open(src), missing, { chunkSize: 4096, compressor: "lz4_block", dicts: [join(alone, "image.boot")] });
    expect(stored.dictionaryBlobs).toEqual([]);
    expect(stored.stats.reusedChunks).toBe(0);
    expect(stored.manifest.digest).toBe(dict.manifest.digest);
  });

  test("on the command line: --chunk-dict (repeatable) and --cache-dir, then strata verify", async () => {
    const src = await generated(15);
    const first = outDir();
    const out: string[] = [];
    const ctx = { ports, stdout: (t: string) => out.push(t), stderr: (t: string) => out.push(t), isTTY: false };
    expect(await runCli(["convert", `oci:${src}`, `oci:${first}:latest`, "--chunk-size", "4K"], commands, ctx)).toBe(0);
    const second = outDir();
    out.length = 0;
    const args = ["convert", `oci:${src}`, `oci:${second}:latest`, "--chunk-size", "4K", "--chunk-dict", `oci:${first}:latest`, "--chunk-dict", `oci:${first}:latest`, "--cache-dir", join(work, "cli-cache"), "--json"];
    expect(await runCli(args, commands, ctx)).toBe(0);
    const summary = JSON.parse(out.join("")) as { stats: { chunks: number; reusedChunks: number; storedBytes: number } };
    expect(summary.stats.reusedChunks).toBe(summary.stats.chunks);
    expect(summary.stats.storedBytes).toBe(0);
    expect(await runCli(["verify", `oci:${second}:latest`], commands, ctx)).toBe(0);
    out.length = 0;
    expect(await runCli(["convert", `oci:${src}`, `oci:${outDir()}:latest`, "--chunk-dict", `oci:${first}:latest`], commands, ctx)).toBe(2);
    expect(out.join("")).toMatch(/chunk size/);
  });

  test("a dictionary with another chunk size, digester or compressor is refused before anything is written", async () => {
    const src = await generated(14);
    const dictDir = outDir();
    await convertInto(await open(src), dictDir, { chunkSize: 4096, compressor: "zstd", digester: "blake3" });
    for (const [options, what] of [
      [{ chunkSize: 8192 }, "chunk size"],
      [{ chunkSize: 4096, digester: "sha256" as const }, "digester"],
      [{ chunkSize: 4096, compressor: "lz4_block" as const }, "compressor"],
    ] as const) {
      const dir = outDir();
      const error = await convertInto(await open(src), dir, { ...options, dicts: [`oci:${dictDir}:latest`] }).catch((e: unknown) => e);
      expect(isStrataError(error, "INVALID_ARGUMENT")).toBe(true);
      expect((error as Error).message).toContain(what);
      expect((error as Error).message).toContain(dictDir);
      expect(() => statSync(dir)).toThrow();
    }
    const missing = await convertInto(await open(src), outDir(), { chunkSize: 4096, dicts: [join(work, "no-such.boot")] }).catch((e: unknown) => e);
    expect(isStrataError(missing, "NOT_FOUND")).toBe(true);
  });
});

describe.skipIf(!hasRegistry())("a dictionary in a registry (Debian's docker-registry on a port of its own)", () => {
  let registry: TestRegistry | undefined;
  afterAll(() => registry?.stop());

  test("docker:// dictionaries: chunks are read by range, the dictionary's blobs mounted into the new repository", async () => {
    registry = await startRegistry();
    const options: RegistryOptions = { insecure: true, retry: { baseDelay: 5, maxDelay: 50 } };
    const registryPorts = { ...ports, sha256: nodeSha256, fetch: (url: string, init?: RequestInit) => fetch(url, init) };
    const src = await generated(16);
    const dictRef = `docker://${registry.host}/dict/base:v1`;
    const dict = await convertImage(registryPorts, `oci:${src}`, dictRef, { chunkSize: 4096, registry: options });
    const resolved = resolveOptions({ chunkSize: 4096 }, ["none", "lz4_block", "zstd"], "zstd");
    const dictionaries = await openChunkDictionaries(registryPorts, [dictRef], resolved, await createSha256(registryPorts), options);
    const result = await convertImage(registryPorts, `oci:${src}`, `docker://${registry.host}/app/next:v1`, { chunkSize: 4096, registry: options, dictionaries });
    expect(result.stats.storedBytes).toBe(0);
    expect(result.dictionaryBlobs.map((d) => d.digest).sort()).toEqual(dict.blobs.map((d) => d.digest).sort());
    expect(result.push?.mounted).toBe(dict.blobs.length);
    const image = await openNydus(registryPorts, `docker://${registry.host}/app/next:v1`, { kernels: ociKernels(registryPorts), registry: options });
    const report = await verifyNydusImage(image, await rafsKernels(registryPorts));
    expect(report.failures).toEqual([]);
  }, 120_000);

  test("a registry destination with the layer cache: cached blobs the registry has are not sent again", async () => {
    registry ??= await startRegistry();
    const options: RegistryOptions = { insecure: true, retry: { baseDelay: 5, maxDelay: 50 } };
    const registryPorts = { ...ports, sha256: nodeSha256, fetch: (url: string, init?: RequestInit) => fetch(url, init) };
    const src = await generated(17);
    const cache = new LayerCache(join(work, "registry-cache"), { files, output: nodeOutput, sha256: await createSha256(registryPorts), dirs: nodeCacheDir });
    const first = await convertImage(registryPorts, `oci:${src}`, `docker://${registry.host}/cached/app:v1`, { chunkSize: 4096, registry: options, cache });
    const again = await convertImage(registryPorts, `oci:${src}`, `docker://${registry.host}/cached/app:v2`, { chunkSize: 4096, registry: options, cache });
    expect(again.stats.cachedLayers).toBe(4);
    expect(again.manifest.digest).toBe(first.manifest.digest);
    expect(again.push?.uploaded).toBe(0);
    expect(again.push?.skipped).toBeGreaterThanOrEqual(first.blobs.length);
  }, 120_000);
});

/** Bytes a registry holds for these layouts' "latest" images: every distinct blob once (layers and configs). */
function registryBytes(dirs: string[]): number {
  const blobs = new Map<string, number>();
  for (const dir of dirs) {
    const index = JSON.parse(readFileSync(join(dir, "index.json"), "utf8")) as { manifests: Descriptor[] };
    const entry = index.manifests.find((d) => d.annotations?.["org.opencontainers.image.ref.name"] === "latest")!;
    const manifest = JSON.parse(readFileSync(join(dir, "blobs/sha256", entry.digest.slice(7)), "utf8")) as ImageManifest;
    for (const d of [entry, manifest.config, ...manifest.layers]) blobs.set(d.digest, d.size);
  }
  return [...blobs.values()].reduce((a, b) => a + b, 0);
}

describe.skipIf(!hasCorpus("base", "app-v1", "app-v2", "app-v3", "hamburger"))("corpus images (../shared/corpus/build-corpus.sh)", () => {
  const dirs: Record<string, string> = {};
  const MB = 1e6;

  test("base, app-v1, app-v2, app-v3 converted each over the one before: ≤ 80 MB in a registry, every image verifies and extracts equal", async () => {
    let previous: string | undefined;
    for (const name of ["base", "app-v1", "app-v2", "app-v3"]) {
      dirs[name] = join(work, `corpus-${name}`);
      await convertInto(await open(corpusImage(name)), dirs[name]!, { dicts: previous ? [`oci:${previous}:latest`] : [] });
      previous = dirs[name];
    }
    const total = registryBytes(Object.values(dirs));
    console.log(`registry bytes, base + app-v1..v3 with dictionaries: ${(total / MB).toFixed(2)} MB`);
    expect(total).toBeLessThanOrEqual(80 * MB);
    // Every image built with a dictionary verifies, and strata and fsck.erofs extract the source's tree from it.
    for (const name of ["app-v1", "app-v2", "app-v3"]) await expectSound(corpusImage(name), dirs[name]!);
  }, 1_800_000);

  test("app-v2 over app-v1: new blob bytes plus the bootstrap layer ≤ 1.5 MB, and its tree extracts equal", async () => {
    // app-v1 as converted by the test above (over base), else on its own.
    let v1 = dirs["app-v1"];
    if (!v1) await convertInto(await open(corpusImage("app-v1")), (v1 = join(work, "corpus-v1-alone")));
    const dir = join(work, "corpus-v2-over-v1");
    const result = await convertInto(await open(corpusImage("app-v2")), dir, { dicts: [`oci:${v1}:latest`] });
    const own = result.blobs.filter((b) => !result.dictionaryBlobs.includes(b));
    const added = own.reduce((n, b) => n + b.size, 0) + result.bootstrap.size;
    console.log(`app-v2 over app-v1: ${own.length} new blobs, ${(added / MB).toFixed(3)} MB with the bootstrap layer`);
    expect(added).toBeLessThanOrEqual(1.5 * MB);
    expect(result.stats.outputBytes).toBe(added);
    const { strata, fsck } = await sameTree(await open(corpusImage("app-v2")), dir);
    expect(strata[0]).toEqual(strata[1]);
    if (fsck) expect(fsck[0]).toEqual(fsck[1]);
  }, 900_000);

  test("hamburger: ≤ 75 MB stored (the 20 MiB file added, deleted and added again is stored once)", async () => {
    const dir = join(work, "corpus-hamburger");
    const result = await convertInto(await open(corpusImage("hamburger")), dir);
    const stored = result.blobs.reduce((n, b) => n + b.size, 0) + result.bootstrap.size;
    console.log(`hamburger stored: ${(stored / MB).toFixed(2)} MB`);
    expect(stored).toBeLessThanOrEqual(75 * MB);
  }, 600_000);
});
