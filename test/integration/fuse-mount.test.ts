// `strata mount --lazy` end to end: the FUSE file system served by the strata CLI is read by the
// kernel's own tools (lstat, read, readlink, getfattr, chroot + python3) and compared with umoci's
// unpack of the original OCI image. Needs root, /dev/fuse and umoci; the corpus part needs the
// corpus (STRATA_CORPUS, default /tmp/corpus).
import { execFile, execFileSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync, closeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { openNydus, requireRafs } from "../../src/nydus/image.js";
import { ociKernels } from "../../src/oci/kernels.js";
import { randomLayout } from "../../src/oci/random.js";
import { walk } from "../../src/fs/inode.js";
import type { RafsInode } from "../../src/rafs/types.js";
import { forceUnmount, fuseUnavailable, isMounted, serveLazy, strata, xattrDump } from "../helpers/fuse.js";
import { nodePorts } from "../../runtimes/node/index.js";
import { writeLayout } from "../helpers/random-image.js";
import { diskTree, type TreeRow } from "../helpers/validate.js";

const umoci = (() => {
  try {
    return execFileSync("which", ["umoci"], { encoding: "utf8" }).trim();
  } catch {
    return undefined;
  }
})();
const CORPUS = process.env.STRATA_CORPUS ?? "/tmp/corpus";
const APP_V1 = join(CORPUS, "images", "app-v1");
const skip = fuseUnavailable ?? (umoci ? undefined : "needs umoci");

const work = mkdtempSync(join(tmpdir(), "strata-fuse-"));
const mountpoints: string[] = [];
function mountpoint(name: string): string {
  const dir = join(work, name);
  mkdirSync(dir, { recursive: true });
  mountpoints.push(dir);
  return dir;
}
afterAll(() => {
  // Whatever a failed test left behind: nothing stays mounted, then the files go.
  for (const m of mountpoints) forceUnmount(m);
  rmSync(work, { recursive: true, force: true });
});

/** The mounted tree next to umoci's: umoci gives the rootfs directory its own metadata, so the root is compared by type. */
function expectSameTree(mounted: TreeRow[], unpacked: TreeRow[]): void {
  expect(mounted[0]!.type).toBe("dir");
  expect(mounted.slice(1)).toEqual(unpacked.slice(1));
}

/** `find . -type f | sort | xargs sha256sum` in `root`, run as a separate process. */
async function hashAll(root: string): Promise<string> {
  const { stdout } = await promisify(execFile)("sh", ["-c", "find . -type f -print0 | sort -z | xargs -0 -r sha256sum"], { cwd: root, maxBuffer: 64 << 20 });
  return stdout;
}

describe.skipIf(skip !== undefined)(`lazy FUSE mount${skip ? ` (skipped: ${skip})` : ""}`, () => {
  describe("a generated image", () => {
    let source = "";
    let nydus = "";
    let rootfs = "";

    beforeAll(async () => {
      const kernels = ociKernels(nodePorts());
      // The first seed umoci unpacks (some generated layers are ones umoci refuses).
      for (let seed = 700; ; seed++) {
        const layout = await randomLayout(kernels, { seed, layers: 4, entries: 40, compression: "gzip" });
        source = join(work, `gen-${seed}`);
        writeLayout(source, layout);
        const out = join(work, `gen-${seed}-umoci`);
        try {
          execFileSync(umoci!, ["unpack", "--image", `${source}:latest`, out], { stdio: "pipe" });
          rootfs = join(out, "rootfs");
          break;
        } catch (e) {
          if (seed > 720) throw e;
        }
      }
      nydus = join(work, "gen-nydus");
      await strata(["convert", `oci:${source}:latest`, `oci:${nydus}:latest`, "--chunk-size", "64K"]);
    }, 300_000);

    test("reads back exactly what umoci unpacks (types, modes, owners, sizes, contents, link targets, xattrs); strata umount ends the server", async () => {
      const mnt = mountpoint("gen");
      const served = await serveLazy(`oci:${nydus}:latest`, mnt, ["--cache-dir", join(work, "cache-gen")]);
      try {
        expectSameTree(diskTree(mnt), diskTree(rootfs));
        expect(xattrDump(mnt)).toBe(xattrDump(rootfs));
      } finally {
        await strata(["umount", mnt]);
      }
      expect(await served.exited).toBe(0);
      expect(isMounted(mnt)).toBe(false);
    }, 300_000);

    test("a corrupted chunk is EIO for its file while other files still read; SIGTERM unmounts", async () => {
      const copy = join(work, "gen-corrupt");
      cpSync(nydus, copy, { recursive: true });
      const image = await openNydus(nodePorts(), `oci:${copy}:latest`, { kernels: ociKernels(nodePorts()) });
      const rafs = requireRafs(image);
      const files = [...walk(rafs.root)].filter(([, n]) => ((n as RafsInode).chunks?.length ?? 0) > 0) as [string, RafsInode][];
      const [victim, inode] = files.reduce((a, b) => (b[1].size > a[1].size ? b : a));
      const chunk = inode.chunks![0]!;
      const blobId = rafs.blobs[chunk.blobIndex]!.blobId;
      const blobPath = join(copy, "blobs", "sha256", blobId);
      const at = chunk.compressedOffset + (chunk.compressedSize >> 1);
      const byte = Buffer.from([readFileSync(blobPath)[at]! ^ 0x40]);
      const fd = openSync(blobPath, "r+");
      writeSync(fd, byte, 0, 1, at);
      closeSync(fd);
      // A file none of whose chunks sit in the damaged stretch of that blob.
      const healthy = files.find(([path, n]) => path !== victim && n.chunks!.every((c) => c.blobIndex !== chunk.blobIndex || c.compressedOffset + c.compressedSize <= chunk.compressedOffset || c.compressedOffset > at));

      const mnt = mountpoint("corrupt");
      // Its own chunk cache: the first test cached the good copy of this chunk.
      const served = await serveLazy(`oci:${copy}:latest`, mnt, ["--cache-dir", join(work, "cache-corrupt")]);
      try {
        let error: NodeJS.ErrnoException | undefined;
        try {
          readFileSync(join(mnt, victim));
        } catch (e) {
          error = e as NodeJS.ErrnoException;
        }
        expect(error?.code, `reading ${victim}`).toBe("EIO");
        if (healthy) expect(readFileSync(join(mnt, healthy[0]))).toEqual(readFileSync(join(rootfs, healthy[0])));
        served.process.kill("SIGTERM");
        expect(await served.exited).toBe(0);
      } finally {
        forceUnmount(mnt);
      }
      expect(isMounted(mnt)).toBe(false);
      expect(served.stderr()).toMatch(/does not (match|decompress)/);
    }, 300_000);
  });

  describe.skipIf(!existsSync(APP_V1))(`corpus app-v1${existsSync(APP_V1) ? "" : ` (skipped: no ${APP_V1})`}`, () => {
    let nydus = "";
    let rootfs = "";

    beforeAll(async () => {
      nydus = join(work, "app-v1-nydus");
      const out = join(work, "app-v1-umoci");
      await Promise.all([strata(["convert", `oci:${APP_V1}:latest`, `oci:${nydus}:latest`]), promisify(execFile)(umoci!, ["unpack", "--image", `${APP_V1}:latest`, out])]);
      rootfs = join(out, "rootfs");
    }, 600_000);

    test("chroot MNT python3 /app/app.py runs from the lazy mount; the whole tree equals umoci's unpack; eight parallel readers agree", async () => {
      const mnt = mountpoint("app-v1");
      const served = await serveLazy(`oci:${nydus}:latest`, mnt, ["--prefetch", "--cache-dir", join(work, "cache-app-v1")]);
      try {
        const { stdout } = await promisify(execFile)("chroot", [mnt, "/usr/bin/python3", "/app/app.py"]);
        expect(JSON.parse(stdout).version).toBe("1.0");

        const expected = await hashAll(rootfs);
        const readers = await Promise.all(Array.from({ length: 8 }, () => hashAll(mnt)));
        for (const r of readers) expect(r).toBe(expected);

        expectSameTree(diskTree(mnt), diskTree(rootfs));
        expect(xattrDump(mnt)).toBe(xattrDump(rootfs));
      } finally {
        await strata(["umount", mnt]);
      }
      expect(await served.exited).toBe(0);
      expect(isMounted(mnt)).toBe(false);
    }, 600_000);

    test("detached: --pid-file names the server; strata umount ends it and removes the file", async () => {
      const mnt = mountpoint("app-v1-bg");
      const pidFile = join(work, "app-v1.pid");
      try {
        const { stdout } = await strata(["mount", "--lazy", `oci:${nydus}:latest`, mnt, "--pid-file", pidFile, "--cache-dir", join(work, "cache-app-v1")]);
        const pid = Number(readFileSync(pidFile, "utf8"));
        expect(stdout).toContain(`pid ${pid}`);
        expect(isMounted(mnt)).toBe(true);
        expect(readFileSync(join(mnt, "app", "app.py"))).toEqual(readFileSync(join(rootfs, "app", "app.py")));
        await strata(["umount", mnt]);
        expect(isMounted(mnt)).toBe(false);
        for (let i = 0; i < 100 && existsSync(`/proc/${pid}`); i++) await new Promise((r) => setTimeout(r, 50));
        expect(existsSync(`/proc/${pid}`)).toBe(false);
        expect(existsSync(pidFile)).toBe(false);
      } finally {
        forceUnmount(mnt);
      }
    }, 300_000);
  });
});
