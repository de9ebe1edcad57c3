// strata diff on real images: each corpus image is converted, unpacked and diffed against both the
// Nydus image and the original OCI image (flattened and hashed on the fly): nothing may differ.
// Then one edit of each kind must come back as exactly that difference.
import { appendFileSync, chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { nodeFilesPort } from "../../runtimes/node/files.js";
import { nodeTreeOutput } from "../../runtimes/node/tree-output.js";
import { nodeTreeRead } from "../../runtimes/node/tree-read.js";
import { diffTree, ociDiffImage, type DiffReport } from "../../src/diff/diff.js";
import { kindOf, walk } from "../../src/fs/inode.js";
import { openNydusLayout } from "../../src/nydus/image.js";
import { openOciLayout } from "../../src/oci/layout.js";
import type { RafsInode } from "../../src/rafs/types.js";
import { nydusSource } from "../../src/unpack/sources.js";
import { unpack } from "../../src/unpack/unpack.js";
import { convertImage } from "../helpers/convert-random.js";
import { rafsKernels } from "../helpers/rafs-kernels.js";
import { testKernels } from "../helpers/validate.js";

const CORPUS = process.env.STRATA_CORPUS ?? "/tmp/corpus";
const present = existsSync(join(CORPUS, "images/base"));
const work = mkdtempSync(join(tmpdir(), "strata-diff-corpus-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const summary = (r: DiffReport) => r.differences.map((d) => `${d.change} ${d.path}${d.fields.length ? ` ${d.fields.join(",")}` : ""}`);

describe.skipIf(!present)(`diff on the corpus (${CORPUS}; skipped when absent)`, () => {
  // One image: conversion, unpack and two full hashing passes take a while on a loaded machine.
  it.each(["base"])("%s: unpacked conversion = image = original; edits found exactly", async (name) => {
    const files = nodeFilesPort();
    const oci = (await testKernels()).kernels;
    const kernels = await rafsKernels();
    const original = () => openOciLayout(files, join(CORPUS, "images", name), { kernels: oci });
    const layout = join(work, `${name}-nydus`);
    await convertImage(layout, await original(), { chunkSize: 1 << 20 });
    const nydus = await openNydusLayout(files, layout, { kernels: oci });
    const rootfs = join(work, `${name}-rootfs`);
    await unpack(nydusSource(nydus, kernels), nodeTreeOutput, rootfs);
    const image = { root: nydus.rafs!.root, hasher: kernels.hasher(nydus.rafs!.digester) };

    const clean = await diffTree(nodeTreeRead, rootfs, image);
    expect(summary(clean)).toEqual([]);
    expect(clean.counts.hashedBytes).toBeGreaterThan(1 << 20);
    expect(summary(await diffTree(nodeTreeRead, rootfs, await ociDiffImage(await original(), kernels.hasher("blake3"))))).toEqual([]);

    const files1 = [...walk(image.root)].filter(([, n]) => kindOf(n.mode) === "file" && n.size > 0);
    const once = files1.filter(([, n]) => files1.filter(([, m]) => m === n).length === 1);
    const [grown] = once.find(([, n]) => (n as RafsInode).chunks!.length >= 1)!;
    const [chmodded, node] = once.find(([p]) => p !== grown)!;
    appendFileSync(join(rootfs, grown), "x");
    chmodSync(join(rootfs, chmodded), (node.mode & 0o7777) ^ 0o001);
    writeFileSync(join(rootfs, "strata-added"), "");
    expect(summary(await diffTree(nodeTreeRead, rootfs, image)).sort()).toEqual([`modified ${grown} size,content`, `changed ${chmodded} mode`, "added /strata-added"].sort());
  }, 600_000);
});
