// The independent check of RAFS v6 output: Debian's erofs-utils reads our bootstrap with the blobs
// laid out as uncompressed devices and extracts the tree, which is listed from disk here.
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bytesSource, openBlob } from "../../src/rafs/blob-reader.js";
import { blobDevice } from "../../src/rafs/device.js";
import type { RafsKernels } from "../../src/rafs/read.js";
import type { RafsImage, RafsInode } from "../../src/rafs/types.js";
import { diskTree, type TreeRow } from "./validate.js";

export const hasErofsUtils = (() => {
  try {
    execFileSync("fsck.erofs", ["-V"], { stdio: "pipe" });
    return true;
  } catch {
    return false;
  }
})();

/** A row of an extracted tree (the same fields as validate.ts's TreeRow, which lists it). */
export type DiskEntry = TreeRow;

/** Writes the bootstrap and each blob's uncompressed device file into `work`; returns their paths. */
export async function writeImageFiles(work: string, bootstrap: Uint8Array, image: RafsImage, blobs: Map<string, Uint8Array>, kernels: RafsKernels): Promise<{ boot: string; devices: string[] }> {
  const boot = join(work, "image.boot");
  writeFileSync(boot, bootstrap);
  const devices: string[] = [];
  const chunks = [...allChunks(image.root)];
  for (const info of image.blobs) {
    const bytes = blobs.get(info.blobId)!;
    const blob = await openBlob(bytesSource(bytes), { info });
    const parts: Uint8Array[] = [];
    for await (const piece of blobDevice(blob, info, chunks, kernels.codec(info.compressor), kernels.hasher(info.digester))) parts.push(piece.slice());
    const dev = join(work, `${info.blobId}.dev`);
    writeFileSync(dev, Buffer.concat(parts));
    devices.push(dev);
  }
  return { boot, devices };
}

/** Writes each blob's uncompressed device file and runs fsck.erofs --extract; returns the extracted rows. */
export async function extractWithFsck(bootstrap: Uint8Array, image: RafsImage, blobs: Map<string, Uint8Array>, kernels: RafsKernels): Promise<DiskEntry[]> {
  const work = mkdtempSync(join(tmpdir(), "strata-erofs-"));
  try {
    const { boot, devices } = await writeImageFiles(work, bootstrap, image, blobs, kernels);
    const out = join(work, "root");
    execFileSync("fsck.erofs", [...devices.map((d) => `--device=${d}`), `--extract=${out}`, "--preserve", boot], { stdio: "pipe" });
    return listDisk(out);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** What dump.erofs reports about one inode. */
export interface DumpedInode {
  nid: number;
  links: number;
  layout: number;
  inodeSize: number;
  xattrSize: number;
  size: number;
}

/** Runs `dump.erofs --path=P` for each path (with the blob devices dump.erofs insists on). */
export async function dumpInodes(bootstrap: Uint8Array, image: RafsImage, blobs: Map<string, Uint8Array>, kernels: RafsKernels, paths: readonly string[]): Promise<Map<string, DumpedInode>> {
  const work = mkdtempSync(join(tmpdir(), "strata-erofs-"));
  try {
    const { boot, devices } = await writeImageFiles(work, bootstrap, image, blobs, kernels);
    const out = new Map<string, DumpedInode>();
    for (const path of paths) {
      const text = execFileSync("dump.erofs", [...devices.map((d) => `--device=${d}`), `--path=${path}`, boot], { encoding: "utf8" });
      const num = (re: RegExp) => Number(re.exec(text)?.[1] ?? NaN);
      out.set(path, {
        nid: num(/NID: (\d+)/),
        links: num(/Links: (\d+)/),
        layout: num(/Layout: (\d+)/),
        inodeSize: num(/Inode size: (\d+)/),
        xattrSize: num(/Xattr size: (\d+)/),
        size: num(/Size: (\d+)/),
      });
    }
    return out;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** Kernel mounts are opt-in (STRATA_MOUNT_TESTS=1, as root with erofs and loop devices). */
export const canMount = process.env.STRATA_MOUNT_TESTS === "1" && process.getuid?.() === 0;

/**
 * Mounts the bootstrap with its blob devices through loop devices and the kernel's EROFS driver,
 * runs `inspect` on the mount point, and always unmounts and detaches what it attached.
 */
export async function withKernelMount<T>(bootstrap: Uint8Array, image: RafsImage, blobs: Map<string, Uint8Array>, kernels: RafsKernels, inspect: (dir: string) => T): Promise<T> {
  const work = mkdtempSync(join(tmpdir(), "strata-erofs-"));
  const loops: string[] = [];
  const dir = join(work, "mnt");
  let mounted = false;
  try {
    const { boot, devices } = await writeImageFiles(work, bootstrap, image, blobs, kernels);
    const attach = (file: string) => {
      const dev = execFileSync("losetup", ["-f", "--show", "-r", file], { encoding: "utf8" }).trim();
      loops.push(dev);
      return dev;
    };
    const bootLoop = attach(boot);
    const deviceLoops = devices.map(attach);
    execFileSync("mkdir", ["-p", dir]);
    execFileSync("mount", ["-t", "erofs", "-o", ["ro", ...deviceLoops.map((d) => `device=${d}`)].join(","), bootLoop, dir], { stdio: "pipe" });
    mounted = true;
    return inspect(dir);
  } finally {
    if (mounted) execFileSync("umount", [dir]);
    for (const loop of loops.reverse()) execFileSync("losetup", ["-d", loop]);
    rmSync(work, { recursive: true, force: true });
  }
}

function* allChunks(inode: RafsInode, seen = new Set<RafsInode>()): Generator<import("../../src/rafs/types.js").ChunkInfo> {
  if (seen.has(inode)) return;
  seen.add(inode);
  yield* inode.chunks ?? [];
  for (const child of inode.entries?.values() ?? []) yield* allChunks(child, seen);
}

/** The tree under `root` (as fsck.erofs or umoci wrote it), rows sorted by path. */
export function listDisk(root: string): DiskEntry[] {
  return diskTree(root).sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}
