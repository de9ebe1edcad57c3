// `convert` end to end: generated OCI layouts (and the corpus when present) become Nydus images
// whose tree, read back by strata and extracted by fsck.erofs, equals the source's flattened tree.
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { convert } from "../../src/convert/convert.js";
import { resolveOptions, type ChunkCompressor } from "../../src/convert/options.js";
import { chunkCodecFor, hasherFor, rafsKernels } from "../../src/kernels/index.js";
import { createSha256, createStreamingSha256 } from "../../src/kernels/sha256.js";
import { inspectImage, type InspectEntry } from "../../src/oci/inspect.js";
import { LayoutWriter } from "../../src/oci/layout-writer.js";
import { openOciLayout } from "../../src/oci/layout.js";
import { randomLayout } from "../../src/oci/random.js";
import type { Image } from "../../src/oci/types.js";
import { nodeFilesPort } from "../../runtimes/node/files.js";
import { nodeOutput } from "../../runtimes/node/output.js";
import { extractWithFsck, hasErofsUtils, type DiskEntry } from "../helpers/erofs.js";
import { ports } from "../helpers/kernels.js";
import { asDisk, convertedListing } from "../helpers/convert-reuse.js";
import { readNydusLayout, type NydusLayout } from "../helpers/nydus-layout.js";
import { writeLayout } from "../helpers/random-image.js";
import { testKernels } from "../helpers/validate.js";

const work = mkdtempSync(join(tmpdir(), "strata-convert-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const files = nodeFilesPort();
const { kernels: oci } = await testKernels();
const rafs = await rafsKernels(ports);
const CORPUS = process.env.STRATA_CORPUS ?? "/tmp/corpus";

let counter = 0;
async function convertTo(source: Image, options: { compressor?: ChunkCompressor; chunkSize?: number; singleBlob?: boolean; mergePlatform?: boolean; withReferrer?: boolean; prefetchPatterns?: string[] } = {}): Promise<{ dir: string; out: NydusLayout; stats: Awaited<ReturnType<typeof convert>>["stats"] }> {
  const resolved = resolveOptions(options, ["none", "lz4_block", "zstd"], "zstd");
  const dir = join(work, `out-${counter++}`);
  const dest = await LayoutWriter.open(dir, nodeOutput, files, { sha256: () => createStreamingSha256(ports) });
  const [digester, sha256, codec] = await Promise.all([hasherFor(ports, resolved.digester), createSha256(ports), chunkCodecFor(ports, resolved.compressor)]);
  const result = await convert(source, dest, "nydus", { digester, sha256, codec, streamingSha256: () => createStreamingSha256(ports) }, resolved);
  return { dir, out: await readNydusLayout(dir, "nydus"), stats: result.stats };
}

const onDisk = (rows: DiskEntry[]) => rows.map((r) => ({ ...r, mode: r.mode & ~0o6000 }));

const strip = (rows: InspectEntry[]) => rows.map(({ linkTo: _l, ...r }) => r);

describe("generated images", () => {
  for (const seed of [1, 2, 4, 6]) {
    test(`seed ${seed}: the converted tree equals the source's, read by strata and by fsck.erofs`, async () => {
      const layout = await randomLayout(oci, { seed, layers: 4, entries: 30 });
      const dir = join(work, `src-${seed}`);
      writeLayout(dir, layout);
      const source = await openOciLayout(files, dir, { kernels: oci });
      const expected = await inspectImage(source, oci);
      const compressor = ({ 1: "zstd", 2: "lz4_block", 4: "none", 6: "zstd" } as const)[seed];
      const { out } = await convertTo(source, { compressor, chunkSize: seed === 6 ? 4096 : undefined });
      expect(strip(await convertedListing(out))).toEqual(strip(expected));
      if (hasErofsUtils) expect(onDisk(await extractWithFsck(out.bootstrap, out.image, out.blobs, rafs))).toEqual(asDisk(expected));
      // nydusify's manifest conventions
      expect(out.config.rootfs.diff_ids).toEqual(out.manifest.layers.map((l, i) => (i < out.manifest.layers.length - 1 ? l.digest : out.config.rootfs.diff_ids.at(-1))));
      expect(out.manifest.layers.at(-1)!.annotations).toMatchObject({ "containerd.io/snapshot/nydus-bootstrap": "true", "containerd.io/snapshot/nydus-fs-version": "6" });
      for (const l of out.manifest.layers.slice(0, -1)) expect(l.annotations).toEqual({ "containerd.io/snapshot/nydus-blob": "true" });
      expect(out.image.blobs.map((b) => `sha256:${b.blobId}`)).toEqual(out.manifest.layers.slice(0, -1).map((l) => l.digest));
    });
  }

  test("converting twice gives identical blobs, bootstrap and manifest", async () => {
    const layout = await randomLayout(oci, { seed: 9, layers: 3, entries: 40 });
    const dir = join(work, "src-twice");
    writeLayout(dir, layout);
    const a = await convertTo(await openOciLayout(files, dir, { kernels: oci }));
    const b = await convertTo(await openOciLayout(files, dir, { kernels: oci }));
    expect(b.out.manifestDigest).toBe(a.out.manifestDigest);
    expect(Buffer.from(b.out.bootstrap).equals(Buffer.from(a.out.bootstrap))).toBe(true);
  });

  test("--single-blob puts every chunk into one blob", async () => {
    const layout = await randomLayout(oci, { seed: 5, layers: 3, entries: 30 });
    const dir = join(work, "src-single");
    writeLayout(dir, layout);
    const source = await openOciLayout(files, dir, { kernels: oci });
    const { out } = await convertTo(source, { singleBlob: true });
    expect(out.image.blobs).toHaveLength(1);
    expect(strip(await convertedListing(out))).toEqual(strip(await inspectImage(source, oci)));
  });
});

describe("manifest options", () => {
  const prepared = (async () => {
    const layout = await randomLayout(oci, { seed: 11, layers: 2, entries: 30 });
    const dir = join(work, "src-options");
    writeLayout(dir, layout);
    return dir;
  })();

  test("--with-referrer sets the subject to the original manifest", async () => {
    const source = await openOciLayout(files, await prepared, { kernels: oci });
    const { out } = await convertTo(source, { withReferrer: true });
    const subject = (out.manifest as { subject?: { digest: string; size: number } }).subject;
    expect(subject?.digest).toBe(await source.digest());
    expect(subject?.size).toBe((await source.rawManifest()).length);
  });

  test("--merge-platform writes an index of the original and the Nydus manifest, with the original's blobs", async () => {
    const source = await openOciLayout(files, await prepared, { kernels: oci });
    const resolved = resolveOptions({ mergePlatform: true }, ["none", "lz4_block", "zstd"], "zstd");
    const dir = join(work, "merged");
    const dest = await LayoutWriter.open(dir, nodeOutput, files, { sha256: () => createStreamingSha256(ports) });
    const [digester, sha256, codec] = await Promise.all([hasherFor(ports, "blake3"), createSha256(ports), chunkCodecFor(ports, "zstd")]);
    const result = await convert(source, dest, "merged", { digester, sha256, codec, streamingSha256: () => createStreamingSha256(ports) }, resolved);
    const index = JSON.parse(readFileSync(join(dir, "blobs/sha256", result.index!.digest.slice(7)), "utf8"));
    expect(index.manifests).toHaveLength(2);
    expect(index.manifests[0].digest).toBe(await source.digest());
    expect(index.manifests[1]).toMatchObject({ digest: result.manifest.digest, platform: { "os.features": ["nydus.remoteimage.v1"] } });
    // Both images open from the merged layout: the original by digest, with verified layers.
    const original = await openOciLayout(files, dir, { kernels: oci, digest: await source.digest() });
    expect(strip(await inspectImage(original, oci))).toEqual(strip(await inspectImage(source, oci)));
  });

  test("--prefetch-patterns lists the matching files in the bootstrap's prefetch table", async () => {
    const source = await openOciLayout(files, await prepared, { kernels: oci });
    const rows = (await inspectImage(source, oci)).filter((r) => r.type === "file");
    const dir = rows[0]!.path.split("/").slice(0, 2).join("/");
    const { out } = await convertTo(source, { prefetchPatterns: [dir, "# a comment", "/no/such/path"] });
    const wanted = rows.filter((r) => r.path === dir || r.path.startsWith(`${dir}/`)).map((r) => r.path);
    expect(wanted.length).toBeGreaterThan(0);
    expect(new Set(out.image.prefetch)).toEqual(new Set(wanted));
  });
});

const corpusImage = (name: string) => join(CORPUS, "images", name);
describe.skipIf(!existsSync(corpusImage("hamburger")))("corpus images (../shared/corpus/build-corpus.sh)", () => {
  for (const name of ["base", "app-v1", "hamburger"]) {
    test(`${name}: converted tree equals the flattened OCI tree, by fsck.erofs`, async () => {
      const source = await openOciLayout(files, corpusImage(name), { kernels: oci });
      const expected = await inspectImage(source, oci);
      const { out, stats } = await convertTo(source);
      if (name === "hamburger") {
        // The 20 MiB file is added, deleted and added again: its chunks are stored once.
        const stored = [...out.blobs.values()].reduce((n, b) => n + b.length, 0);
        const base = await convertTo(await openOciLayout(files, corpusImage("base"), { kernels: oci }));
        const baseStored = [...base.out.blobs.values()].reduce((n, b) => n + b.length, 0);
        expect(stats.dedupedBytes).toBeGreaterThanOrEqual(20 << 20);
        expect(stored - baseStored).toBeLessThan(22 << 20);
      }
      if (hasErofsUtils) expect(onDisk(await extractWithFsck(out.bootstrap, out.image, out.blobs, rafs))).toEqual(asDisk(expected));
    }, 600_000);
  }
});
