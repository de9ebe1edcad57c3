// Hostile unpack input: nothing is ever written outside DIR, refusals are typed errors, and a
// refused or failed unpack leaves neither DIR nor a temporary sibling behind. OCI images go
// through the overlay merge (which resolves symlinked parents inside the root, as umoci does);
// Nydus images through the RAFS reader (which drops unsafe names); crafted trees test the
// planner and the Node output directly, for readers that let something through.
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeEach, describe, expect, test } from "vitest";
import { isStrataError } from "../../src/errors.js";
import type { Inode } from "../../src/fs/inode.js";
import { rafsKernels } from "../../src/kernels/index.js";
import { nydusImage, openNydus } from "../../src/nydus/image.js";
import { openImage } from "../../src/oci/open.js";
import { randomLayout } from "../../src/oci/random.js";
import { writeBootstrap } from "../../src/rafs/bootstrap-writer.js";
import type { RafsInode } from "../../src/rafs/types.js";
import type { TarWriteEntry } from "../../src/tar/writer.js";
import { nydusSource, ociSource } from "../../src/unpack/sources.js";
import { unpack, type UnpackSource } from "../../src/unpack/unpack.js";
import { nodeFilesPort } from "../../runtimes/node/files.js";
import { nodeTreeOutput } from "../../runtimes/node/tree-output.js";
import { ports } from "../helpers/kernels.js";
import { convertInto, leftovers, writeLayersLayout } from "../helpers/unpack.js";
import { testKernels } from "../helpers/validate.js";

const work = mkdtempSync(join(tmpdir(), "strata-unpack-hostile-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const { kernels } = await testKernels();
const rafs = await rafsKernels(ports);
const filePorts = { ...ports, files: nodeFilesPort() };
const enc = new TextEncoder();
/** A directory outside every DIR: hostile images aim at it, and it must stay empty. */
const outside = join(work, "outside");
let n = 0;
const fresh = (name: string) => join(work, `${name}-${n++}`);

beforeEach(() => {
  rmSync(outside, { recursive: true, force: true });
  mkdirSync(outside);
});

function expectNothingOutside(): void {
  expect(readdirSync(outside)).toEqual([]);
}

/** The unpack must fail with `code`, and leave no DIR, no temporary sibling and nothing outside. */
async function expectRefused(run: (dir: string) => Promise<unknown>, code: string): Promise<Error> {
  const dir = fresh("dest");
  const error = await run(dir).then(
    () => new Error("unpack succeeded"),
    (e: Error) => e,
  );
  expect(isStrataError(error) ? error.code : error.message).toBe(code);
  expect(existsSync(dir)).toBe(false);
  expect(leftovers(dir)).toEqual([]);
  expectNothingOutside();
  return error;
}

async function ociImage(layers: TarWriteEntry[][]) {
  const layout = fresh("layout");
  writeLayersLayout(layout, layers);
  return openImage(filePorts, `oci:${layout}`, { kernels });
}

const file = (path: string, text = "pwned"): TarWriteEntry => ({ path, type: "file", mode: 0o644, data: enc.encode(text) });

describe("hostile OCI images", () => {
  test("'..' in names is refused (UNSAFE_PATH)", async () => {
    for (const path of ["../escape", "a/../../escape", `a/../../../..${outside}/escape`]) {
      const image = await ociImage([[file("ok"), file(path)]]);
      await expectRefused(async (dir) => unpack(await ociSource(image), nodeTreeOutput, dir), "UNSAFE_PATH");
    }
  });

  test("a hardlink to a path outside is refused (UNSAFE_PATH, or NOT_FOUND inside the root)", async () => {
    const up = await ociImage([[{ path: "l", type: "hardlink", linkname: `../../../..${outside}/target` }]]);
    await expectRefused(async (dir) => unpack(await ociSource(up), nodeTreeOutput, dir), "UNSAFE_PATH");
    writeFileSync(join(outside, "target"), "secret");
    const absolute = await ociImage([[{ path: "l", type: "hardlink", linkname: `${outside}/target` }]]);
    const dir = fresh("dest");
    const e = await ociSource(absolute).then((source) => unpack(source, nodeTreeOutput, dir)).catch((e) => e);
    expect(isStrataError(e, "NOT_FOUND")).toBe(true);
    expect(existsSync(dir)).toBe(false);
    expect(leftovers(dir)).toEqual([]);
    expect(lstatSync(join(outside, "target")).nlink).toBe(1);
    rmSync(join(outside, "target"));
  });

  test("a symlink then a file through it: the file stays inside DIR (resolved in the root, as umoci does)", async () => {
    for (const target of [outside, `../../../..${outside}`]) {
      const image = await ociImage([[{ path: "a", type: "symlink", linkname: target }, file("a/pwned")]]);
      const dir = fresh("dest");
      await unpack(await ociSource(image), nodeTreeOutput, dir);
      expectNothingOutside();
      expect(readlinkSync(join(dir, "a"))).toBe(target);
      expect(readFileSync(join(dir, outside, "pwned"), "utf8")).toBe("pwned");
    }
  });

  test("a directory replaced by a symlink to /: later files stay inside DIR, the symlink is not followed", async () => {
    const image = await ociImage([[{ path: "d/", type: "dir" }, file("d/old")], [{ path: "d", type: "symlink", linkname: "/" }], [file(`d${outside}/pwned`)]]);
    const dir = fresh("dest");
    await unpack(await ociSource(image), nodeTreeOutput, dir);
    expectNothingOutside();
    expect(readlinkSync(join(dir, "d"))).toBe("/");
    expect(readFileSync(join(dir, outside, "pwned"), "utf8")).toBe("pwned");
  });
});

const meta = { uid: 0, gid: 0, mtime: 0, mtimeNsec: 0, size: 0, rdev: 0 };
const dirNode = (entries: [string, Inode][]): Inode => ({ ...meta, mode: 0o40755, xattrs: new Map(), entries: new Map(entries) });
const fileNode = (text = "x"): RafsInode => ({ ...meta, mode: 0o100644, size: text.length, xattrs: new Map(), chunks: [] });
const symlinkNode = (target: string): Inode => ({ ...meta, mode: 0o120777, size: target.length, target, xattrs: new Map() });

/** A source over a crafted tree, as any reader could produce it; file contents are their names. */
function treeSource(root: Inode, beforeWrite?: () => void): UnpackSource {
  return {
    root,
    async contents(files, write) {
      beforeWrite?.();
      for (const inode of files.keys()) {
        await write(
          inode,
          (async function* () {
            yield new Uint8Array(inode.size).fill(0x78);
          })(),
        );
      }
    },
  };
}

describe("hostile Nydus bootstraps", () => {
  test("unsafe dirent names are reported by the RAFS reader and the image is refused (BAD_BOOTSTRAP)", async () => {
    for (const name of ["../../escape", "..", ""]) {
      const bootstrap = writeBootstrap({ root: dirNode([["ok", fileNode("")], [name, fileNode("")]]) as RafsInode, blobs: [], chunkSize: 0x100000, compressor: "zstd", digester: "blake3", prefetch: [] });
      const image = nydusImage("crafted", bootstrap, new Map());
      await expectRefused(async (dir) => unpack(nydusSource(image, rafs), nodeTreeOutput, dir), "BAD_BOOTSTRAP");
    }
  });
});

describe("hostile trees reaching the planner", () => {
  test("names with '/', '..', '.', NUL or nothing are refused (UNSAFE_PATH)", async () => {
    for (const name of ["a/b", `../../..${outside}`, "..", ".", "a\0b", ""]) {
      await expectRefused((dir) => unpack(treeSource(dirNode([["ok", fileNode()], [name, fileNode()]])), nodeTreeOutput, dir), "UNSAFE_PATH");
    }
  });

  test("a symlink with entries below it (a file written through a symlink) is refused (UNSAFE_PATH)", async () => {
    const link = { ...symlinkNode(outside), entries: new Map([["pwned", fileNode()]]) };
    await expectRefused((dir) => unpack(treeSource(dirNode([["a", link]])), nodeTreeOutput, dir), "UNSAFE_PATH");
  });

  test("a directory reached twice or a cycle is refused (UNSAFE_PATH)", async () => {
    const shared = dirNode([["f", fileNode()]]);
    await expectRefused((dir) => unpack(treeSource(dirNode([["a", shared], ["b", shared]])), nodeTreeOutput, dir), "UNSAFE_PATH");
    const loop = dirNode([]);
    loop.entries!.set("again", loop);
    await expectRefused((dir) => unpack(treeSource(dirNode([["loop", loop]])), nodeTreeOutput, dir), "UNSAFE_PATH");
  });

  test("a directory replaced by a symlink to outside while unpacking: the Node output refuses to write through it", async () => {
    const root = dirNode([["d", dirNode([["f", fileNode("xyz")]])]]);
    await expectRefused(
      (dir) =>
        unpack(
          treeSource(root, () => {
            // Swap the freshly made directory for a symlink, as a concurrent attacker would.
            const temp = join(dir, "..", leftovers(dir)[0]!);
            rmSync(join(temp, "d"), { recursive: true });
            symlinkSync(outside, join(temp, "d"));
          }),
          nodeTreeOutput,
          dir,
        ),
      "UNSAFE_PATH",
    );
  });
});

describe("the Node tree output by itself", () => {
  test("creates only inside its own directories, links only to its own entries, and abort removes everything", async () => {
    const dir = fresh("dest");
    const out = await nodeTreeOutput.begin(dir, { replace: false });
    const codeOf = (p: Promise<unknown>) => p.then(() => "ok", (e) => (isStrataError(e) ? e.code : String(e)));
    await out.mkdir(["d"]);
    expect(await codeOf(out.mkdir(["missing", "x"]))).toBe("UNSAFE_PATH");
    expect(await codeOf(out.symlink(["d", ".."], "/"))).toBe("UNSAFE_PATH");
    expect(await codeOf(out.symlink(["d/x"], "/"))).toBe("UNSAFE_PATH");
    expect(await codeOf(out.link(["..", "outside"], ["d", "l"]))).toBe("UNSAFE_PATH");
    expect(await codeOf(out.link(["d"], ["d", "l"]))).toBe("UNSAFE_PATH");
    await out.symlink(["d", "s"], outside);
    expect(await codeOf(out.symlink(["d", "s"], "/"))).toBe("IO");
    expect(await codeOf(out.mkdir(["d", "s", "x"]))).toBe("UNSAFE_PATH");
    expect(await codeOf(out.chmod(["d", "s"], 0o777))).toBe("UNSAFE_PATH");
    expect(await codeOf(out.utimes(["d", "nothing"], 0, 0))).toBe("UNSAFE_PATH");
    expect(leftovers(dir)).toHaveLength(1);
    await out.abort();
    expect(leftovers(dir)).toEqual([]);
    expect(existsSync(dir)).toBe(false);
    expectNothingOutside();
  });
});

describe("failure mid-way", () => {
  test("a corrupt chunk is a typed error naming the file, and leaves no DIR and no temporary sibling", async () => {
    const layout = fresh("layout");
    writeLayersLayout(layout, (await randomLayout(kernels, { seed: 5 })).layers);
    await convertInto(await openImage(filePorts, `oci:${layout}`, { kernels }), layout, "nydus");
    const image = await openNydus(filePorts, `oci:${layout}:nydus`, { kernels });
    // The last chunk of the largest file, so that other files are already written when it fails.
    const files: [string, RafsInode][] = [];
    const visit = (inode: RafsInode, path: string) => {
      if (inode.chunks?.length) files.push([path, inode]);
      for (const [name, child] of inode.entries ?? []) visit(child, `${path}/${name}`);
    };
    visit(image.rafs!.root, "");
    const [path, victim] = files.sort((a, b) => b[1].size - a[1].size)[0]!;
    const chunk = victim.chunks!.at(-1)!;
    const blobPath = join(layout, "blobs/sha256", image.rafs!.blobs[chunk.blobIndex]!.blobId);
    const blob = readFileSync(blobPath);
    blob[chunk.compressedOffset + (chunk.compressedSize >> 1)]! ^= 0x10;
    writeFileSync(blobPath, blob);
    const corrupt = await openNydus(filePorts, `oci:${layout}:nydus`, { kernels });
    const dir = fresh("dest");
    const e = await unpack(nydusSource(corrupt, rafs), nodeTreeOutput, dir).catch((e) => e);
    expect(isStrataError(e, "DIGEST_MISMATCH") || isStrataError(e, "CORRUPT_DATA")).toBe(true);
    expect(e.message).toContain(path);
    expect(existsSync(dir)).toBe(false);
    expect(leftovers(dir)).toEqual([]);
  });
});
