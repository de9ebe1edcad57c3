// strata verify on Nydus images: the real Nydus fixtures (bare bootstrap + blobs directory) verify
// chunk by chunk; a corruption campaign flips single bits across bootstrap, chunk data, blob.meta,
// blob.digest and ToC, and every flip must be reported, naming the damaged part.
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { nodeFilesPort } from "../../runtimes/node/files.js";
import { openNydusBootstrap } from "../../src/nydus/image.js";
import { verifyNydusImage, type VerifyProgress } from "../../src/nydus/verify.js";
import { rafsKernels, type TestKernels } from "../helpers/rafs-kernels.js";

const texture = fileURLToPath(new URL("../../../shared/fixtures/nydus/tests/texture/", import.meta.url));
const V6_ID = "be7d77eeb719f70884758d1aa800ed0fb09d701aaec469964e9d54325f0d5fef";
const files = nodeFilesPort();

let kernels: TestKernels;
beforeAll(async () => {
  kernels = await rafsKernels();
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
