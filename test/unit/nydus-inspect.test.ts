// strata inspect on Nydus images: the fixtures' trees, chunk lists checked against the file
// content (each chunk digest = hash of that slice of the file), deduplication worked out
// independently from chunk digests, one path, and the OCI manifest view.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { nodeFilesPort } from "../../runtimes/node/files.js";
import { isStrataError } from "../../src/errors.js";
import { blobSet, openNydusBootstrap, openNydusLayout, type NydusImage } from "../../src/nydus/image.js";
import { inspectNydusImage, type NydusInspection } from "../../src/nydus/inspect.js";
import { memoryFilesPort } from "../../src/oci/random.js";
import { readFile } from "../../src/rafs/read.js";
import { nydusLayout, renameBlobId } from "../helpers/nydus-image.js";
import { rafsKernels, type TestKernels } from "../helpers/rafs-kernels.js";
import { testKernels } from "../helpers/validate.js";

const texture = fileURLToPath(new URL("../../../shared/fixtures/nydus/tests/texture/", import.meta.url));
const V6_ID = "be7d77eeb719f70884758d1aa800ed0fb09d701aaec469964e9d54325f0d5fef";
const files = nodeFilesPort();

let kernels: TestKernels;
beforeAll(async () => {
  kernels = await rafsKernels();
});

const images: [string, () => Promise<NydusImage>][] = [
  ["v6", () => openNydusBootstrap(files, join(texture, "bootstrap/rafs-v6-2.2.boot"), join(texture, "blobs"))],
  ["v5 sha256", () => openNydusBootstrap(files, join(texture, "repeatable/sha256-nocompress-repeatable"), join(texture, "repeatable/blobs"))],
  ["v5 blake3", () => openNydusBootstrap(files, join(texture, "repeatable/blake3-lz4_block-non_repeatable"), join(texture, "repeatable/blobs"))],
];

/** Chunk references across the tree grouped by digest, counting a hardlinked file once. */
function byDigest(inspection: NydusInspection): Map<string, number[]> {
  const sizes = new Map<string, number[]>();
  for (const row of inspection.tree) {
    if (row.linkTo !== undefined) continue;
    for (const c of row.chunks ?? []) sizes.set(c.digest, [...(sizes.get(c.digest) ?? []), c.uncompressedSize]);
  }
  return sizes;
}

describe.each(images)("%s fixture", (_name, open) => {
  it("lists every chunk of every file: digests are the hashes of those slices of the content", async () => {
    const image = await open();
    const inspection = inspectNydusImage(image);
    const hasher = kernels.hasher(inspection.bootstrap.digester as "blake3" | "sha256");
    const blobs = blobSet(image, kernels);
    const fileRows = inspection.tree.filter((r) => r.type === "file");
    expect(fileRows.length).toBeGreaterThan(1);
    for (const row of fileRows) {
      if (row.linkTo !== undefined) continue;
      const content = await readFile(image.rafs!, row.path, blobs, kernels);
      expect(content.length).toBe(row.size);
      let end = 0;
      for (const c of row.chunks!) {
        expect(c.fileOffset).toBeGreaterThanOrEqual(end);
        end = c.fileOffset + c.uncompressedSize;
        expect(Buffer.from(hasher.digest(content.subarray(c.fileOffset, end))).toString("hex")).toBe(c.digest);
        expect(c.blobId).toBe(inspection.blobs[0]!.blobId);
        if (!c.compressed) expect(c.compressedSize).toBe(c.uncompressedSize);
      }
      expect(end).toBeLessThanOrEqual(row.size);
    }
  });

  it("deduplication agrees with the chunk digests; totals add up", async () => {
    const inspection = inspectNydusImage(await open());
    console.info(_name, "chunks:", inspection.chunks);
    const groups = byDigest(inspection);
    for (const row of inspection.tree) {
      for (const c of row.chunks ?? []) expect(c.deduplicated, `${row.path} ${c.digest}`).toBe(groups.get(c.digest)!.length > 1);
    }
    const refs = [...groups.values()].flat();
    expect(inspection.chunks.references).toBe(refs.length);
    expect(inspection.chunks.distinct).toBe(groups.size);
    expect(inspection.chunks.deduplicated).toBe([...groups.values()].filter((g) => g.length > 1).length);
    expect(inspection.chunks.deduplicatedBytes).toBe([...groups.values()].reduce((n, g) => n + g.slice(1).reduce((a, b) => a + b, 0), 0));
    const blob = inspection.blobs[0]!;
    expect(blob.chunksUsed).toBe(groups.size);
    expect(blob.storedSize).toBe(readFileSync(join(texture, inspection.bootstrap.version === 6 ? "blobs" : "repeatable/blobs", blob.blobId)).length);
    // JSON-able: survives a round trip unchanged.
    expect(JSON.parse(JSON.stringify(inspection))).toEqual(inspection);
  });
});

describe("inspect", () => {
  it("v6: the known tree, blob and sizes", async () => {
    const inspection = inspectNydusImage(await images[0]![1]());
    expect(inspection.bootstrap).toMatchObject({ version: 6, size: 20480, chunkSize: 1 << 20, compressor: "zstd", digester: "blake3" });
    expect(inspection.tree.map((r) => [r.path, r.type])).toEqual([
      ["/", "dir"],
      ["/lib.rs", "file"],
      ["/sync_io.rs", "file"],
    ]);
    expect(inspection.tree.slice(1).map((r) => [r.size, r.chunks!.length])).toEqual([
      [16931, 1],
      [13400, 1],
    ]);
    expect(inspection.blobs).toEqual([
      expect.objectContaining({ blobId: V6_ID, blobIndex: 0, storedSize: 14554, chunkCount: 2, chunksUsed: 2, compressor: "zstd", digester: "blake3" }),
    ]);
    expect(inspection.chunks).toMatchObject({ references: 2, distinct: 2, deduplicated: 0, deduplicatedBytes: 0, uncompressedBytes: 16931 + 13400 });
    expect(inspection.manifest).toBeUndefined();
  });

  it("one path: only that subtree, absolute paths; a missing path is NOT_FOUND", async () => {
    const image = await images[1]![1]();
    const all = inspectNydusImage(image);
    const dir = all.tree.find((r) => r.type === "dir" && r.path !== "/" && all.tree.some((s) => s.path.startsWith(`${r.path}/`)))!;
    const sub = inspectNydusImage(image, { path: `${dir.path}/` });
    expect(sub.tree.map((r) => r.path)).toEqual(all.tree.filter((r) => r.path === dir.path || r.path.startsWith(`${dir.path}/`)).map((r) => r.path));
    const file = all.tree.find((r) => r.type === "file" && r.chunks?.length)!;
    expect(inspectNydusImage(image, { path: file.path }).tree).toEqual([file]);
    expect(inspectNydusImage(image, { path: file.path, chunks: false }).tree[0]!.chunks).toBeUndefined();
    try {
      inspectNydusImage(image, { path: "/no/such/file" });
      expect.unreachable();
    } catch (e) {
      expect(isStrataError(e, "NOT_FOUND")).toBe(true);
    }
  });

  it("an OCI image: layers with roles, diff_ids and annotations", async () => {
    const blob = new Uint8Array(readFileSync(join(texture, "blobs", V6_ID)));
    const id = createHash("sha256").update(blob).digest("hex");
    const layout = nydusLayout(renameBlobId(new Uint8Array(readFileSync(join(texture, "bootstrap/rafs-v6-2.2.boot"))), V6_ID, id), [blob]);
    const image = await openNydusLayout(memoryFilesPort("/mem", layout.files), "/mem", { kernels: (await testKernels()).kernels });
    const inspection = inspectNydusImage(image);
    expect(inspection.manifest!.layers.map((l) => [l.role, l.digest, l.diffId === l.digest])).toEqual([
      ["blob", `sha256:${id}`, true],
      ["bootstrap", expect.stringMatching(/^sha256:/), false],
    ]);
    expect(inspection.manifest!.layers[1]!.annotations).toMatchObject({ "containerd.io/snapshot/nydus-bootstrap": "true", "containerd.io/snapshot/nydus-fs-version": "6" });
    expect(inspection.blobs[0]).toMatchObject({ blobId: id, layer: 0, storedSize: blob.length });
  });
});
