// strata verify on Nydus images: the real Nydus fixtures (bare bootstrap + blobs directory) verify
// chunk by chunk; a corruption campaign flips single bits across bootstrap, chunk data, blob.meta,
// blob.digest and ToC, and every flip must be reported, naming the damaged part.
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { nodeFilesPort } from "../../runtimes/node/files.js";
import { nodeOutput } from "../../runtimes/node/output.js";
import { convert } from "../../src/convert/convert.js";
import { resolveOptions, type ConvertOptions } from "../../src/convert/options.js";
import { chunkCodecFor, hasherFor } from "../../src/kernels/index.js";
import { createSha256 } from "../../src/kernels/sha256.js";
import { LayoutWriter } from "../../src/oci/layout-writer.js";
import { openOciLayout } from "../../src/oci/layout.js";
import { openImage } from "../../src/oci/open.js";
import type { Image } from "../../src/oci/types.js";
import { randomLayout } from "../../src/oci/random.js";
import { isStrataError } from "../../src/errors.js";
import type { OciKernels } from "../../src/oci/decompress.js";
import { memoryFilesPort } from "../../src/oci/random.js";
import { memoryRange } from "../../src/oci/blob.js";
import { nydusImage, openNydus, openNydusBootstrap, openNydusLayout, type NydusImage } from "../../src/nydus/image.js";
import { verifyNydusImage, type VerifyFailure, type VerifyOptions, type VerifyProgress, type VerifyReport } from "../../src/nydus/verify.js";
import { bytesSource, openBlob } from "../../src/rafs/blob-reader.js";
import { BlobSection } from "../../src/rafs/layout.js";
import { bootstrapLayer, nydusLayout, renameBlobId, type NydusLayout } from "../helpers/nydus-image.js";
import { ports } from "../helpers/kernels.js";
import { testKernels } from "../helpers/validate.js";
import { rafsKernels, type TestKernels } from "../helpers/rafs-kernels.js";

const CORPUS = process.env.STRATA_CORPUS ?? "/tmp/corpus";
const texture = fileURLToPath(new URL("../../../shared/fixtures/nydus/tests/texture/", import.meta.url));
const V6_ID = "be7d77eeb719f70884758d1aa800ed0fb09d701aaec469964e9d54325f0d5fef";
const files = nodeFilesPort();

let kernels: TestKernels;
let oci: OciKernels;
beforeAll(async () => {
  kernels = await rafsKernels();
  oci = (await testKernels()).kernels;
});

describe("fixtures", () => {
  it("v6: every chunk verifies; the blob's sha256 differing from its id fails blob-id only", async () => {
    const image = await openNydusBootstrap(files, join(texture, "bootstrap/rafs-v6-2.2.boot"), join(texture, "blobs"));
    const seen: VerifyProgress[] = [];
    const report = await verifyNydusImage(image, kernels, { onProgress: (p) => seen.push(p) });
    expect(report.counts).toMatchObject({ blobs: 1, files: 2, chunks: 2, chunksOk: 2 });
    expect(report.ok).toBe(false);
    expect(report.failures).toHaveLength(1);
    expect(report.failures[0]).toMatchObject({ part: "blob", check: "blob-id", blobId: V6_ID });
    expect(report.failures[0]!.message).toContain("4b16fb83");
    expect(seen.at(-1)).toEqual({ phase: "chunks", done: 2, total: 2 });
  });

  const history = "../../_history/5be153feb0c08571e88934e9020c208d85aefeb0/tests/texture/repeatable";
  it.each([
    "repeatable/sha256-nocompress-repeatable",
    "repeatable/blake3-lz4_block-non_repeatable",
    // Older images: no extended blob table; the first has lz4_block chunks (blob d7b86b1e…).
    `${history}/blake3-lz4_block-non_repeatable`,
    `${history}/sha256-nocompress-repeatable`,
  ])("v5 %s: verifies OK, every chunk and inode digest", async (name) => {
    const image = await openNydusBootstrap(files, join(texture, name), join(texture, "repeatable/blobs"));
    const report = await verifyNydusImage(image, kernels);
    expect(report.failures).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.counts.chunks).toBeGreaterThan(0);
    expect(report.counts.chunksOk).toBe(report.counts.chunks);
  });
});

/** mulberry32: deterministic offsets for the campaign. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

const V6_BOOT = new Uint8Array(readFileSync(join(texture, "bootstrap/rafs-v6-2.2.boot")));
const V6_BLOB = new Uint8Array(readFileSync(join(texture, "blobs", V6_ID)));
const V6_SHA256 = createHash("sha256").update(V6_BLOB).digest("hex");

/** The v6 fixture as an OCI layout, its blob renamed to its real sha256 so that it verifies OK. */
function fixtureLayout(): NydusLayout {
  return nydusLayout(renameBlobId(V6_BOOT, V6_ID, V6_SHA256), [V6_BLOB]);
}

async function verifyLayout(files: Map<string, Uint8Array>, options: VerifyOptions = {}): Promise<VerifyReport> {
  let image: NydusImage;
  try {
    image = await openNydusLayout(memoryFilesPort("/mem", files), "/mem", { kernels: oci });
  } catch (e) {
    // Opening may refuse only what it cannot get past (the manifest), and only with a StrataError.
    if (!isStrataError(e)) throw e;
    return { ok: false, failures: [{ part: "manifest", check: "bootstrap", message: e.message, code: e.code }], counts: { layers: 0, blobs: 0, files: 0, chunks: 0, chunksOk: 0 } };
  }
  return verifyNydusImage(image, kernels, options);
}

describe("a Nydus OCI image", () => {
  it("verifies OK unchanged (the v6 fixture packaged as nydusify does)", async () => {
    const report = await verifyLayout(fixtureLayout().files);
    expect(report.failures).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.counts).toEqual({ layers: 2, blobs: 1, files: 2, chunks: 2, chunksOk: 2 });
  });

  it("opens by name: oci:DIR on disk, and a bare bootstrap with its blobs directory", async () => {
    const dir = mkdtempSync(join(tmpdir(), "strata-nydus-open-"));
    try {
      for (const [path, bytes] of fixtureLayout().files) {
        mkdirSync(join(dir, path, ".."), { recursive: true });
        writeFileSync(join(dir, path), bytes);
      }
      const p = { ...ports, files };
      const fromLayout = await openNydus(p, `oci:${dir}:latest`, { kernels: oci });
      expect(fromLayout.name).toBe(`oci:${dir}`);
      expect((await verifyNydusImage(fromLayout, kernels)).ok).toBe(true);
      const bare = await openNydus(p, join(texture, "bootstrap/rafs-v6-2.2.boot"), { kernels: oci, blobsDir: join(texture, "blobs") });
      expect((await verifyNydusImage(bare, kernels)).counts.chunksOk).toBe(2);
      await expect(openNydus(p, `oci:${dir}:nope`, { kernels: oci })).rejects.toMatchObject({ code: "NOT_FOUND" });
      await expect(openNydus(p, join(dir, "missing.boot"), { kernels: oci })).rejects.toMatchObject({ code: "NOT_FOUND" });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("reports every manifest rule broken at once", async () => {
    const layout = fixtureLayout();
    const index = JSON.parse(new TextDecoder().decode(layout.files.get("index.json")!));
    const manifestPath = `blobs/sha256/${index.manifests[0].digest.slice(7)}`;
    const manifest = JSON.parse(new TextDecoder().decode(layout.files.get(manifestPath)!));
    const configPath = `blobs/sha256/${manifest.config.digest.slice(7)}`;
    const config = JSON.parse(new TextDecoder().decode(layout.files.get(configPath)!));
    // A blob layer without its annotation, a bootstrap layer without fs-version, a wrong diff_id.
    delete manifest.layers[0].annotations;
    delete manifest.layers[1].annotations["containerd.io/snapshot/nydus-fs-version"];
    config.rootfs.diff_ids[1] = `sha256:${"0".repeat(64)}`;
    const put = (v: unknown) => {
      const bytes = new TextEncoder().encode(JSON.stringify(v));
      const digest = createHash("sha256").update(bytes).digest("hex");
      layout.files.set(`blobs/sha256/${digest}`, bytes);
      return { digest: `sha256:${digest}`, size: bytes.length };
    };
    manifest.config = { ...manifest.config, ...put(config) };
    index.manifests[0] = { ...index.manifests[0], ...put(manifest) };
    layout.files.set("index.json", new TextEncoder().encode(JSON.stringify(index)));
    const report = await verifyLayout(layout.files);
    const checks = report.failures.map((f) => `${f.check}@${f.layer}`).sort();
    expect(checks).toEqual(["blob-layer@0", "bootstrap-layer@1", "diff-id@1"]);
    expect(report.counts.chunksOk).toBe(2);
  });

  it("reports a config whose diff_ids do not match the layers, and a blob file missing from the layout", async () => {
    const layout = fixtureLayout();
    layout.files.delete(layout.blobPaths.get(V6_SHA256)!);
    const index = JSON.parse(new TextDecoder().decode(layout.files.get("index.json")!));
    const manifestPath = `blobs/sha256/${index.manifests[0].digest.slice(7)}`;
    const manifest = JSON.parse(new TextDecoder().decode(layout.files.get(manifestPath)!));
    const config = JSON.parse(new TextDecoder().decode(layout.files.get(`blobs/sha256/${manifest.config.digest.slice(7)}`)!));
    config.rootfs.diff_ids.pop();
    const put = (v: unknown) => {
      const bytes = new TextEncoder().encode(JSON.stringify(v));
      const digest = createHash("sha256").update(bytes).digest("hex");
      layout.files.set(`blobs/sha256/${digest}`, bytes);
      return { digest: `sha256:${digest}`, size: bytes.length };
    };
    manifest.config = { ...manifest.config, ...put(config) };
    index.manifests[0] = { ...index.manifests[0], ...put(manifest) };
    layout.files.set("index.json", new TextEncoder().encode(JSON.stringify(index)));
    const report = await verifyLayout(layout.files);
    expect(report.failures.filter((f) => f.check === "diff-ids")).toHaveLength(1);
    expect(report.failures).toContainEqual(expect.objectContaining({ check: "blob-missing", blobId: V6_SHA256, code: "NOT_FOUND", layer: 0 }));
    const chunks = report.failures.filter((f) => f.check === "chunk");
    expect(chunks.map((f) => f.path).sort()).toEqual(["/lib.rs", "/sync_io.rs"]);
    expect(report.counts.chunksOk).toBe(0);
  });

  it("reports a blob the bootstrap names that is not a layer, and a layer it does not name", async () => {
    const other = "1".repeat(64);
    const layout = nydusLayout(renameBlobId(V6_BOOT, V6_ID, other), [V6_BLOB]);
    const report = await verifyLayout(layout.files);
    const tableChecks = report.failures.filter((f) => f.check === "blob-table");
    expect(tableChecks.map((f) => f.blobId).sort()).toEqual([other, V6_SHA256].sort());
    // Its chunks cannot be read: each chunk is reported, naming file, blob and offset.
    const chunks = report.failures.filter((f) => f.check === "chunk");
    expect(chunks.map((f) => f.path).sort()).toEqual(["/lib.rs", "/sync_io.rs"]);
    expect(chunks.every((f) => f.blobId === other && typeof f.offset === "number")).toBe(true);
  });
});

/** An image to damage: its layout files, the bootstrap inside its last layer, its blobs by id. */
interface Target {
  files: Map<string, Uint8Array>;
  bootstrapPath: string;
  bootstrap: Uint8Array;
  blobs: Map<string, { path: string; bytes: Uint8Array }>;
}

interface Flip {
  what: string;
  part: "bootstrap" | "blob";
  blobId?: string;
  offset: number;
  bit: number;
  /** The blob section a failure must name (regions covered by a section digest). */
  section?: string;
}

/** Damaged regions of each kind, round robin over kinds, random blob and offset (deterministic). */
async function planFlips(target: Target, count: number, seed: number): Promise<Flip[]> {
  type Region = Omit<Flip, "offset" | "bit"> & { start: number; end: number };
  const kinds: Region[][] = [[{ what: "bootstrap", part: "bootstrap", start: 0, end: target.bootstrap.length }], [], [], [], [], []];
  for (const [blobId, { bytes }] of target.blobs) {
    const blob = await openBlob(bytesSource(bytes), {});
    const section = (name: string) => blob.toc!.find((e) => e.name === name)!;
    const data = section(BlobSection.DATA);
    const meta = section(BlobSection.META);
    const metaHeader = section(BlobSection.META_HEADER);
    const digests = section(BlobSection.DIGEST);
    const tocStart = bytes.length - (blob.toc!.length * 128 + 512);
    const at = { part: "blob" as const, blobId };
    if (data.compressedSize > 0) kinds[1]!.push({ ...at, what: "chunk data", start: 0, end: data.compressedSize, section: BlobSection.DATA });
    kinds[2]!.push({ ...at, what: "blob.meta", start: meta.compressedOffset, end: metaHeader.compressedOffset + metaHeader.compressedSize, section: BlobSection.META });
    if (digests.compressedSize > 0) kinds[3]!.push({ ...at, what: "blob.digest", start: digests.compressedOffset, end: digests.compressedOffset + digests.compressedSize, section: BlobSection.DIGEST });
    kinds[4]!.push({ ...at, what: "ToC", start: tocStart, end: bytes.length, section: BlobSection.TOC });
    // The tar header after the chunk data is covered by image.blob's digest; the others only by the blob id.
    kinds[5]!.push({ ...at, what: "section tar headers", start: data.compressedSize, end: tocStart });
  }
  const rand = prng(seed);
  const usable = kinds.filter((k) => k.length > 0);
  return Array.from({ length: count }, (_, i) => {
    const kind = usable[i % usable.length]!;
    const { start, end, ...region } = kind[Math.floor(rand() * kind.length)]!;
    let offset = start + Math.floor(rand() * (end - start));
    const bit = Math.floor(rand() * 8);
    let section = region.section;
    // Section tar headers: the one after image.blob is part of that section's digest.
    if (region.what === "section tar headers" && offset < start + 512) section = BlobSection.DATA;
    return { ...region, section, offset, bit };
  });
}

/** The failure names the damaged part: the bootstrap layer, or the blob (and its section). */
function namesPart(f: VerifyFailure, flip: Flip, bootstrapLayer: number): boolean {
  if (flip.part === "bootstrap") return f.part === "bootstrap" && f.layer === bootstrapLayer;
  return (f.part === "blob" || f.part === "chunk") && f.blobId === flip.blobId;
}

/** blob.meta and its header are one region (the compression table and its 4 KiB header). */
const sameSection = (found: string | undefined, wanted: string) => found === wanted || (wanted === BlobSection.META && found === BlobSection.META_HEADER);

function damaged(target: Target, flip: Flip): Map<string, Uint8Array> {
  const files = new Map(target.files);
  if (flip.part === "bootstrap") {
    const boot = target.bootstrap.slice();
    boot[flip.offset]! ^= 1 << flip.bit;
    // The damaged bootstrap replaces the layer's content under its old name (the manifest is unchanged).
    files.set(target.bootstrapPath, bootstrapLayer(boot).gz);
  } else {
    const { path, bytes } = target.blobs.get(flip.blobId!)!;
    const copy = bytes.slice();
    copy[flip.offset]! ^= 1 << flip.bit;
    files.set(path, copy);
  }
  return files;
}

async function checkFlip(target: Target, flip: Flip, options: VerifyOptions = {}): Promise<void> {
  if (flip.part === "bootstrap") {
    // Without the layer digest around it, a damaged bootstrap must still only ever yield a report.
    const boot = target.bootstrap.slice();
    boot[flip.offset]! ^= 1 << flip.bit;
    const blobs = new Map([...target.blobs].map(([id, b]) => [id, memoryRange(b.bytes)]));
    await verifyNydusImage(nydusImage("bare", boot, blobs), kernels);
  }
  const report = await verifyLayout(damaged(target, flip), options);
  expect(report.ok).toBe(false);
  const bootstrapLayer = target.blobs.size;
  expect(report.failures.some((f) => namesPart(f, flip, bootstrapLayer)), JSON.stringify(report.failures, null, 1)).toBe(true);
  if (flip.section) expect(report.failures.some((f) => sameSection(f.section, flip.section!)), JSON.stringify(report.failures, null, 1)).toBe(true);
}

describe("corruption campaign on the v6 fixture packaged as an OCI image", async () => {
  const layout = fixtureLayout();
  const target: Target = {
    files: layout.files,
    bootstrapPath: layout.bootstrapPath,
    bootstrap: renameBlobId(V6_BOOT, V6_ID, V6_SHA256),
    blobs: new Map([[V6_SHA256, { path: layout.blobPaths.get(V6_SHA256)!, bytes: V6_BLOB }]]),
  };
  const flips = await planFlips(target, 240, 0x5eed);
  it.each(flips.map((f, i) => [i, f.what, f.offset, f.bit, f] as const))("flip %i: %s byte %i bit %i", async (_i, _what, _offset, _bit, flip) => {
    await checkFlip(target, flip);
  });
});

describe("a converted image (strata convert of a generated OCI image)", async () => {
  const target = await convertedTarget();
  // Two streaming hashers made once and handed out again for every verify.
  const pool = [await (await testKernels()).kernels.sha256(), await (await testKernels()).kernels.sha256()];
  let next = 0;
  const streaming: VerifyOptions = { sha256: async () => pool[next++ % 2]! };
  // Blobs hashed in one pass with two streaming hashers here (the fixture campaign uses two passes).
  it("verifies OK unchanged, every chunk", async () => {
    const report = await verifyLayout(target.files, streaming);
    expect(report.failures).toEqual([]);
    expect(report.counts.blobs).toBe(target.blobs.size);
    expect(report.counts.chunks).toBeGreaterThan(10);
    expect(report.counts.chunksOk).toBe(report.counts.chunks);
  });

  const flips = await planFlips(target, 240, 0xc0ffee);
  it.each(flips.map((f, i) => [i, f.what, f.offset, f.bit, f] as const))("flip %i: %s byte %i bit %i", async (_i, _what, _offset, _bit, flip) => {
    await checkFlip(target, flip, streaming);
  });
});

/** app-v1's top layer of the real corpus (python3 and its files, as Debian ships them) as a one-layer image. */
async function corpusLayerImage(): Promise<Image> {
  const image = await openImage({ ...ports, files }, `oci:${join(CORPUS, "images/app-v1")}:latest`, { kernels: (await testKernels()).kernels });
  const [manifest, config, layers] = await Promise.all([image.manifest(), image.config(), image.layers()]);
  // digest() and rawManifest() stay the original's: convert uses them only to name the source.
  return {
    warnings: image.warnings,
    digest: () => image.digest(),
    rawManifest: () => image.rawManifest(),
    rawConfig: () => image.rawConfig(),
    manifest: async () => ({ ...manifest, layers: manifest.layers.slice(-1) }),
    config: async () => ({ ...config, rootfs: { ...config.rootfs, diff_ids: config.rootfs.diff_ids.slice(-1) } }),
    layers: async () => layers.slice(-1),
  };
}

describe.skipIf(!existsSync(join(CORPUS, "images/app-v1")))(`corruption campaign on a converted corpus layer (app-v1's top layer, 1 MiB zstd chunks)${existsSync(join(CORPUS, "images/app-v1")) ? "" : ` (skipped: no corpus at ${CORPUS})`}`, async () => {
  const target = existsSync(join(CORPUS, "images/app-v1")) ? await convertedTarget({ source: await corpusLayerImage(), chunkSize: 1 << 20 }) : undefined;
  it("verifies OK unchanged", async () => {
    const report = await verifyLayout(target!.files);
    expect(report.failures).toEqual([]);
    expect(report.counts.files).toBeGreaterThan(100);
  });
  const flips = target ? await planFlips(target, 200, 0xc0a5) : [];
  it.each(flips.map((f, i) => [i, f.what, f.offset, f.bit, f] as const))("flip %i: %s byte %i bit %i", async (_i, _what, _offset, _bit, flip) => {
    await checkFlip(target!, flip);
  });
});

it("a --merge-platform layout: the tag names an index, and the Nydus manifest in it is verified", async () => {
  const dir = mkdtempSync(join(tmpdir(), "strata-nydus-merged-"));
  try {
    await convertInto(dir, { mergePlatform: true });
    const image = await openNydus({ ...ports, files }, `oci:${dir}:latest`, { kernels: oci });
    expect(image.oci!.manifest.layers.at(-1)!.annotations?.["containerd.io/snapshot/nydus-bootstrap"]).toBe("true");
    const report = await verifyNydusImage(image, kernels);
    expect(report.failures).toEqual([]);
    expect(report.counts.chunksOk).toBeGreaterThan(10);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

describe("converted with every compressor and digester", () => {
  const cases = (["none", "lz4_block", "zstd"] as const).flatMap((compressor) => (["blake3", "sha256"] as const).map((digester) => [compressor, digester] as const));
  it.each(cases)("%s chunks, %s digests: verifies OK, every chunk", async (compressor, digester) => {
    const dir = mkdtempSync(join(tmpdir(), "strata-nydus-codecs-"));
    try {
      await convertInto(dir, { compressor, digester, seed: 7 });
      const image = await openNydus({ ...ports, files }, `oci:${dir}`, { kernels: oci });
      expect(image.rafs).toMatchObject({ compressor, digester });
      const report = await verifyNydusImage(image, kernels);
      expect(report.failures).toEqual([]);
      expect(report.counts.chunksOk).toBe(report.counts.chunks);
      expect(report.counts.chunks).toBeGreaterThan(10);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** Converts a generated image (small chunks, so files span several) into the layout `dir`, tag "latest". */
async function convertInto(dir: string, options: ConvertOptions & { seed?: number; source?: Image } = {}): Promise<void> {
  const ociKernels = (await testKernels()).kernels;
  const image = options.source ?? (await openOciLayout(memoryFilesPort("/src", (await randomLayout(ociKernels, { seed: options.seed ?? 42, layers: 3, entries: 30 })).files), "/src", { kernels: ociKernels }));
  const { seed: _seed, source: _source, ...convertOptions } = options;
  const resolved = resolveOptions({ chunkSize: 4096, compressor: "zstd", ...convertOptions }, ["none", "lz4_block", "zstd"], "zstd");
  const dest = await LayoutWriter.open(dir, nodeOutput, files, { sha256: () => createSha256(ports) });
  const [digester, sha256, codec] = await Promise.all([hasherFor(ports, resolved.digester), createSha256(ports), chunkCodecFor(ports, resolved.compressor)]);
  await convert(image, dest, "latest", { digester, sha256, codec }, resolved);
}

/** A converted image read back into memory. */
async function convertedTarget(options: Parameters<typeof convertInto>[1] = {}): Promise<Target> {
  const ociKernels = (await testKernels()).kernels;
  const dir = mkdtempSync(join(tmpdir(), "strata-nydus-verify-"));
  try {
    await convertInto(dir, options);
    const out = new Map<string, Uint8Array>();
    const read = (rel: string) => out.set(rel, new Uint8Array(readFileSync(join(dir, rel))));
    read("oci-layout");
    read("index.json");
    for (const name of readdirSync(join(dir, "blobs/sha256"))) read(`blobs/sha256/${name}`);
    const nydus = await openNydusLayout(memoryFilesPort("/mem", out), "/mem", { kernels: ociKernels });
    const layers = nydus.oci!.manifest.layers;
    const bootstrapPath = `blobs/sha256/${layers.at(-1)!.digest.slice(7)}`;
    const blobs = new Map(layers.slice(0, -1).map((l) => [l.digest.slice(7), { path: `blobs/sha256/${l.digest.slice(7)}`, bytes: out.get(`blobs/sha256/${l.digest.slice(7)}`)! }]));
    return { files: out, bootstrapPath, bootstrap: nydus.bootstrap, blobs };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
