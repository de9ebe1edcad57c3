// `unpack` of generated OCI images and of their Nydus conversions: the tree on disk equals the
// image's flattened tree (types, modes incl. setuid/sticky, owners, sizes, content, link
// targets, hardlinks sharing an inode, devices, fifos, xattrs, mtimes).
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { isStrataError } from "../../src/errors.js";
import { rafsKernels } from "../../src/kernels/index.js";
import { openNydus } from "../../src/nydus/image.js";
import { exportImage } from "../../src/export/oci.js";
import { createStreamingSha256 } from "../../src/kernels/sha256.js";
import { inspectImage, listTree } from "../../src/oci/inspect.js";
import { LayoutWriter } from "../../src/oci/layout-writer.js";
import { readFile } from "../../src/rafs/read.js";
import type { RafsImage, RafsInode } from "../../src/rafs/types.js";
import { blobSet } from "../../src/nydus/image.js";
import { nodeOutput } from "../../runtimes/node/output.js";
import { openImage } from "../../src/oci/open.js";
import { randomLayout } from "../../src/oci/random.js";
import type { TarWriteEntry } from "../../src/tar/writer.js";
import { nydusSource, ociSource } from "../../src/unpack/sources.js";
import { unpack } from "../../src/unpack/unpack.js";
import { nodeFilesPort } from "../../runtimes/node/files.js";
import { nodeTreeOutput } from "../../runtimes/node/tree-output.js";
import { ports } from "../helpers/kernels.js";
import { writeLayout } from "../helpers/random-image.js";
import { convertInto, expectedRows, leftovers, listUnpacked, writeLayersLayout, type UnpackedRow } from "../helpers/unpack.js";
import { testKernels } from "../helpers/validate.js";

const work = mkdtempSync(join(tmpdir(), "strata-unpack-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const { kernels } = await testKernels();
const rafs = await rafsKernels(ports);
const filePorts = { ...ports, files: nodeFilesPort() };
const root = process.getuid?.() === 0;
const enc = new TextEncoder();
let n = 0;
const fresh = (name: string) => join(work, `${name}-${n++}`);

/** Rows without inode numbers, after checking that hardlinks (linkTo) share the inode of their first path. */
function compareable(rows: UnpackedRow[], links: Map<string, string>): Omit<UnpackedRow, "ino">[] {
  const ino = new Map(rows.map((r) => [r.path, r.ino]));
  for (const [path, first] of links) expect(ino.get(path), `${path} shares the inode of ${first}`).toBe(ino.get(first));
  const distinct = rows.filter((r) => r.type === "file" && !links.has(r.path)).map((r) => r.ino);
  expect(new Set(distinct).size).toBe(distinct.length);
  return rows.map(({ ino: _, ...r }) => r);
}

/** Unpacks `image` (OCI) and its Nydus conversion; both trees must equal the OCI listing. */
async function checkBothPaths(layout: string): Promise<void> {
  const image = await openImage(filePorts, `oci:${layout}:latest`, { kernels });
  const listing = await inspectImage(image, kernels);
  const links = new Map(listing.filter((r) => r.linkTo).map((r) => [r.path, r.linkTo!]));
  const want = expectedRows(listing).map((r) => (root ? r : { ...r, uid: process.getuid!(), gid: process.getgid!() }));

  const fromOci = fresh("oci");
  const result = await unpack(await ociSource(image), nodeTreeOutput, fromOci);
  expect(result.files + result.hardlinks).toBe(listing.filter((r) => r.type === "file").length);
  expect(compareable(listUnpacked(fromOci), links)).toEqual(want);

  await convertInto(image, layout, "nydus");
  const nydus = await openNydus(filePorts, `oci:${layout}:nydus`, { kernels });
  const fromNydus = fresh("nydus");
  await unpack(nydusSource(nydus, rafs), nodeTreeOutput, fromNydus);
  expect(compareable(listUnpacked(fromNydus), links)).toEqual(want);
}

/** A layer with what random layouts lack: xattrs, devices, fifos, setgid and sticky dirs, sub-second mtimes. */
const specials: TarWriteEntry[] = [
  { path: "special/", type: "dir", mode: 0o3775, uid: 0, gid: 50, mtime: 1_500_000_000, xattrs: new Map([["user.dir", enc.encode("on a directory")]]) },
  { path: "special/caps", type: "file", mode: 0o4750, uid: 0, gid: 50, mtime: 1_500_000_001, mtimeNsec: 250_000_000, data: enc.encode("#!/bin/true\n"), xattrs: new Map([["user.note", enc.encode("x=1\n\0binary")], ["trusted.overlay.x", new Uint8Array([0, 1, 2, 255])], ["security.capability", new Uint8Array([1, 0, 0, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])]]) },
  { path: "special/linked", type: "hardlink", linkname: "special/caps", mode: 0o4750 },
  { path: "special/fifo", type: "fifo", mode: 0o640, uid: 7, gid: 7, mtime: 1_500_000_002 },
  { path: "special/null", type: "chardev", mode: 0o666, devmajor: 1, devminor: 3, mtime: 1_500_000_003 },
  { path: "special/loop", type: "blockdev", mode: 0o660, gid: 6, devmajor: 7, devminor: 300, mtime: 1_500_000_004 },
  { path: "special/name with spaces=and\\back\nline", type: "file", mode: 0o644, data: enc.encode("odd name"), mtime: 1_500_000_005, xattrs: new Map([["user.odd name\\x", enc.encode("v")]]) },
  { path: "special/abs-link", type: "symlink", linkname: "/", mtime: 1_500_000_006 },
];

describe("unpack of generated images", () => {
  for (const seed of [1, 2, 4]) {
    test(`random layout seed ${seed}: OCI and Nydus unpacks equal the flattened tree`, async () => {
      const layout = fresh("layout");
      const random = await randomLayout(kernels, { seed });
      writeLayersLayout(layout, [...random.layers, specials]);
      await checkBothPaths(layout);
    });
  }

  test("a random gzip layout (as generated for the conformance suite)", async () => {
    const layout = fresh("layout");
    writeLayout(layout, await randomLayout(kernels, { seed: 9, compression: "gzip" }));
    await checkBothPaths(layout);
  });
});

describe("destination handling", () => {
  const layout = fresh("layout");
  const image = async () => {
    if (!existsSync(layout)) writeLayersLayout(layout, [[{ path: "a", type: "file", data: enc.encode("a") }]]);
    return ociSource(await openImage(filePorts, `oci:${layout}`, { kernels }));
  };

  test("an empty existing directory is filled; a non-empty one is refused, then replaced with replace", async () => {
    const dir = fresh("dest");
    mkdirSync(dir);
    await unpack(await image(), nodeTreeOutput, dir);
    expect(readdirSync(dir)).toEqual(["a"]);
    writeFileSync(join(dir, "stray"), "x");
    const refused = await unpack(await image(), nodeTreeOutput, dir).catch((e) => e);
    expect(isStrataError(refused, "INVALID_ARGUMENT")).toBe(true);
    expect(readdirSync(dir).sort()).toEqual(["a", "stray"]);
    await unpack(await image(), nodeTreeOutput, dir, { replace: true });
    expect(readdirSync(dir)).toEqual(["a"]);
    expect(leftovers(dir)).toEqual([]);
  });

  test("a destination that is a file is refused, even with replace", async () => {
    const file = fresh("file");
    writeFileSync(file, "x");
    const e = await unpack(await image(), nodeTreeOutput, file, { replace: true }).catch((e) => e);
    expect(isStrataError(e, "INVALID_ARGUMENT")).toBe(true);
    expect(leftovers(file)).toEqual([]);
  });
});

const FIXTURES = new URL("../../../shared/fixtures/nydus/tests/texture/", import.meta.url).pathname;
describe.skipIf(!existsSync(FIXTURES))("real Nydus bootstraps (shared fixtures)", () => {
  const cases = [
    ["bootstrap/rafs-v6-2.2.boot", "blobs"],
    ["repeatable/sha256-nocompress-repeatable", "repeatable/blobs"],
    ["repeatable/blake3-lz4_block-non_repeatable", "repeatable/blobs"],
  ] as const;
  for (const [boot, blobs] of cases) {
    test(`${boot}: unpack writes, and export holds, the tree the RAFS reader lists`, async () => {
      const image = await openNydus(filePorts, FIXTURES + boot, { kernels, blobsDir: FIXTURES + blobs });
      const tree: RafsImage = image.rafs!;
      const digests = new Map<RafsInode, string>();
      const reader = blobSet(image, rafs);
      const visit = async (inode: RafsInode, path: string) => {
        if (inode.chunks && !digests.has(inode)) digests.set(inode, createHash("sha256").update(await readFile(tree, path || "/", reader, rafs)).digest("hex"));
        for (const [name, child] of inode.entries ?? []) await visit(child, `${path}/${name}`);
      };
      await visit(tree.root, "");
      const listing = listTree(tree.root, digests);

      const dir = fresh("fixture");
      await unpack(nydusSource(image, rafs), nodeTreeOutput, dir);
      const links = new Map(listing.filter((r) => r.linkTo).map((r) => [r.path, r.linkTo!]));
      expect(compareable(listUnpacked(dir), links)).toEqual(expectedRows(listing).map((r) => (root ? r : { ...r, uid: process.getuid!(), gid: process.getgid!() })));

      const layout = fresh("export");
      const sha256 = () => createStreamingSha256(ports);
      await exportImage(image, await LayoutWriter.open(layout, nodeOutput, nodeFilesPort(), { sha256 }), "flat", { rafs, sha256 });
      const exported = await openImage(filePorts, `oci:${layout}:flat`, { kernels });
      expect(await inspectImage(exported, kernels)).toEqual(listing);
      expect((await exported.config()).rootfs.diff_ids).toHaveLength(1);
    });
  }
});
