// strata verify on Nydus images: the real Nydus fixtures (bare bootstrap + blobs directory) verify
// chunk by chunk; a corruption campaign flips single bits across bootstrap, chunk data, blob.meta,
// blob.digest and ToC, and every flip must be reported, naming the damaged part.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { nodeFilesPort } from "../../runtimes/node/files.js";
import { isStrataError } from "../../src/errors.js";
import type { OciKernels } from "../../src/oci/decompress.js";
import { memoryFilesPort } from "../../src/oci/random.js";
import { openNydusBootstrap, openNydusLayout, type NydusImage } from "../../src/nydus/image.js";
import { verifyNydusImage, type VerifyFailure, type VerifyProgress, type VerifyReport } from "../../src/nydus/verify.js";
import { bytesSource, openBlob } from "../../src/rafs/blob-reader.js";
import { BlobSection } from "../../src/rafs/layout.js";
import { bootstrapLayer, nydusLayout, renameBlobId, type NydusLayout } from "../helpers/nydus-image.js";
import { testKernels } from "../helpers/validate.js";
import { rafsKernels, type TestKernels } from "../helpers/rafs-kernels.js";

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

  it.each(["sha256-nocompress-repeatable", "blake3-lz4_block-non_repeatable"])("v5 %s: verifies OK, every chunk", async (name) => {
    const image = await openNydusBootstrap(files, join(texture, "repeatable", name), join(texture, "repeatable/blobs"));
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

async function verifyLayout(files: Map<string, Uint8Array>): Promise<VerifyReport> {
  let image: NydusImage;
  try {
    image = await openNydusLayout(memoryFilesPort("/mem", files), "/mem", { kernels: oci });
  } catch (e) {
    // Opening may refuse only what it cannot get past (the manifest), and only with a StrataError.
    if (!isStrataError(e)) throw e;
    return { ok: false, failures: [{ part: "manifest", check: "bootstrap", message: e.message, code: e.code }], counts: { layers: 0, blobs: 0, files: 0, chunks: 0, chunksOk: 0 } };
  }
  return verifyNydusImage(image, kernels);
}

describe("a Nydus OCI image", () => {
  it("verifies OK unchanged (the v6 fixture packaged as nydusify does)", async () => {
    const report = await verifyLayout(fixtureLayout().files);
    expect(report.failures).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.counts).toEqual({ layers: 2, blobs: 1, files: 2, chunks: 2, chunksOk: 2 });
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

describe("corruption campaign: one bit flipped, one copy at a time", async () => {
  const layout = fixtureLayout();
  const blob = await openBlob(bytesSource(V6_BLOB), {});
  const section = (name: string) => blob.toc!.find((e) => e.name === name)!;
  const data = section(BlobSection.DATA);
  const meta = section(BlobSection.META);
  const metaHeader = section(BlobSection.META_HEADER);
  const digests = section(BlobSection.DIGEST);
  const tocStart = V6_BLOB.length - (blob.toc!.length * 128 + 512);
  /** Damaged regions: [start, end) in the bootstrap or the blob, and the section a failure must name. */
  const regions = [
    { what: "bootstrap", part: "bootstrap" as const, start: 0, end: V6_BOOT.length },
    { what: "chunk data", part: "blob" as const, start: 0, end: data.compressedSize, section: BlobSection.DATA },
    { what: "blob.meta", part: "blob" as const, start: meta.compressedOffset, end: metaHeader.compressedOffset + metaHeader.compressedSize, section: BlobSection.META },
    { what: "blob.digest", part: "blob" as const, start: digests.compressedOffset, end: digests.compressedOffset + digests.compressedSize, section: BlobSection.DIGEST },
    { what: "ToC", part: "blob" as const, start: tocStart, end: V6_BLOB.length, section: BlobSection.TOC },
    { what: "section tar headers", part: "blob" as const, start: data.compressedSize, end: data.compressedSize + 512 },
  ];
  const rand = prng(0x5eed);
  const flips = Array.from({ length: 240 }, (_, i) => {
    const region = regions[i % regions.length]!;
    const offset = region.start + Math.floor(rand() * (region.end - region.start));
    return { ...region, offset, bit: Math.floor(rand() * 8) };
  });

  /** The failure names the damaged part: the bootstrap layer, or the blob (and its section). */
  const names = (f: VerifyFailure, flip: (typeof flips)[number]): boolean => {
    if (flip.part === "bootstrap") return f.part === "bootstrap" && f.layer === 1;
    return (f.part === "blob" || f.part === "chunk") && f.blobId === V6_SHA256;
  };
  /** Meta sections: blob.meta and its header are one region (the table and its 4 KiB header). */
  const sameSection = (found: string | undefined, wanted: string) => found === wanted || (wanted === BlobSection.META && found === BlobSection.META_HEADER);

  it.each(flips.map((f, i) => [i, f.what, f.offset, f.bit, f] as const))("flip %i: %s byte %i bit %i", async (_i, _what, _offset, _bit, flip) => {
    const files = new Map(layout.files);
    if (flip.part === "bootstrap") {
      const boot = renameBlobId(V6_BOOT, V6_ID, V6_SHA256);
      boot[flip.offset]! ^= 1 << flip.bit;
      // The damaged bootstrap replaces the layer's content under its old name (the manifest is unchanged).
      files.set(layout.bootstrapPath, bootstrapLayer(boot).gz);
    } else {
      const damaged = V6_BLOB.slice();
      damaged[flip.offset]! ^= 1 << flip.bit;
      files.set(layout.blobPaths.get(V6_SHA256)!, damaged);
    }
    const report = await verifyLayout(files);
    expect(report.ok).toBe(false);
    expect(report.failures.some((f) => names(f, flip))).toBe(true);
    if (flip.section) {
      const named = report.failures.filter((f) => sameSection(f.section, flip.section!));
      expect(named.length, JSON.stringify(report.failures, null, 1)).toBeGreaterThan(0);
    }
  });
});
