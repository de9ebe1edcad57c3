// `strata mount` / `strata umount` as users run them (bin/strata.js over dist/): the corpus app-v1
// image converted, mounted by the kernel's EROFS driver over loop devices, run with chroot, its
// tree compared with umoci's unpack of the original, and no loop device, mount or state file left
// behind: after umount, after a failed mount, and after a mount interrupted part-way.
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { nodePorts } from "../../runtimes/node/index.js";
import { nodeKernelMount } from "../../runtimes/node/kernel-mount.js";
import { commands } from "../../src/cli/commands/index.js";
import { runCli } from "../../src/cli/main.js";
import { isStrataError } from "../../src/errors.js";
import { convertRandom } from "../helpers/convert-random.js";
import { renameBlobId } from "../helpers/nydus-image.js";
import { diskTree } from "../helpers/validate.js";

const repo = new URL("../..", import.meta.url).pathname;
const CORPUS = process.env.STRATA_CORPUS ?? "/tmp/corpus";
const appV1 = join(CORPUS, "images", "app-v1");
const isRoot = process.getuid?.() === 0;
const which = (name: string) => spawnSync("which", [name], { encoding: "utf8" }).stdout.trim() || undefined;
const umoci = which("umoci");
const loopDevices = isRoot && spawnSync("losetup", ["--find"], { encoding: "utf8" }).status === 0;
const erofs = readFileSync("/proc/filesystems", "utf8").includes("erofs");

const kernelSkip = !isRoot
  ? "skipped: not root, loop devices and mount need root"
  : !loopDevices
    ? "skipped: no free loop device (losetup --find failed)"
    : !erofs
      ? "skipped: the kernel has no EROFS driver (/proc/filesystems)"
      : undefined;
const corpusSkip = kernelSkip ?? (!existsSync(appV1) ? `skipped: no corpus at ${CORPUS} (../shared/corpus/build-corpus.sh)` : !umoci ? "skipped: umoci is not installed" : undefined);
const texture = fileURLToPath(new URL("../../../shared/fixtures/nydus/tests/texture/", import.meta.url));

const work = mkdtempSync(join(tmpdir(), "strata-kmount-"));
const stateDir = join(work, "state");
const cacheDir = join(work, "cache");
const layout = join(work, "layout");
const env = { ...process.env, STRATA_MOUNT_STATE_DIR: stateDir };

function strata(args: string[], extraEnv: Record<string, string> = {}) {
  return spawnSync(process.execPath, [join(repo, "bin/strata.js"), ...args], { encoding: "utf8", env: { ...env, ...extraEnv } });
}

/** Loop devices whose backing file lies under this test's work directory. */
function ourLoops(): string[] {
  return execFileSync("losetup", ["--list", "--noheadings", "--output", "NAME,BACK-FILE"], { encoding: "utf8" })
    .split("\n")
    .filter((line) => line.includes(work));
}

function isMounted(dir: string): boolean {
  return readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .some((line) => line.split(" ")[4] === dir);
}

function freshMountpoint(name: string): string {
  const dir = join(work, name);
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** The tree fsck.erofs extracts from a bootstrap and its blob devices, as diskTree rows. */
function fsckTree(boot: string, devices: string[]) {
  const out = join(work, `fsck-${Math.random().toString(36).slice(2)}`);
  execFileSync("fsck.erofs", [...devices.map((d) => `--device=${d}`), `--extract=${out}`, "--preserve", boot], { stdio: "pipe" });
  return diskTree(out);
}

/** Last-resort cleanup: whatever a failing test left mounted or attached under `work`. */
function releaseAll(): void {
  for (const line of readFileSync("/proc/self/mountinfo", "utf8").split("\n")) {
    const dir = line.split(" ")[4];
    if (dir?.startsWith(work)) spawnSync("umount", [dir]);
  }
  for (const line of ourLoops()) spawnSync("losetup", ["-d", line.split(/\s+/)[0]!]);
}

afterAll(() => {
  if (kernelSkip === undefined) releaseAll();
  rmSync(work, { recursive: true, force: true });
});

test("runtimes without a mount port refuse mount and umount with UNSUPPORTED", async () => {
  const { mount: _, ...ports } = nodePorts();
  for (const argv of [["mount", join(texture, "bootstrap/rafs-v6-2.2.boot"), work, "--json"], ["umount", work, "--json"]]) {
    let out = "";
    const code = await runCli(argv, commands, { ports, stdout: (t) => (out += t), stderr: () => {}, isTTY: false });
    expect(code).toBe(3);
    expect(JSON.parse(out).error).toMatchObject({ code: "UNSUPPORTED", message: expect.stringMatching(/kernel mounts need Linux/) });
  }
});

describe.skipIf(kernelSkip !== undefined)(`kernel mounts of a real Nydus image (${kernelSkip ?? "root, loop devices, EROFS"})`, () => {
  test("nydus-image 2.2's RAFS v6 bootstrap and blob mount; its two files read back with their known digests", () => {
    const mnt = freshMountpoint("mnt-nydus");
    const boot = join(texture, "bootstrap/rafs-v6-2.2.boot");
    try {
      const r = strata(["mount", boot, mnt, "--blobs-dir", join(texture, "blobs"), "--cache-dir", cacheDir]);
      expect(r.status, r.stderr).toBe(0);
      const files = diskTree(mnt).filter((row) => row.type === "file");
      expect(files.map((row) => row.sha256!.slice(0, 8)).sort()).toEqual(["1810eba8", "e629ab26"]);
    } finally {
      expect(strata(["umount", mnt]).status).toBe(0);
    }
    expect(ourLoops()).toEqual([]);
  });

  test("in a process that handles SIGINT itself, an interrupted mount releases everything and fails with IO", async () => {
    const devices = join(work, "fixture-devices");
    const e = strata(["export-blob-device", join(texture, "bootstrap/rafs-v6-2.2.boot"), devices, "--blobs-dir", join(texture, "blobs"), "--bootstrap", "--json"]);
    expect(e.status, e.stderr).toBe(0);
    const mnt = freshMountpoint("mnt-handled");
    const ownHandler = () => {};
    process.on("SIGINT", ownHandler);
    process.env.STRATA_MOUNT_STEP_DELAY_MS = "300";
    try {
      const pending = nodeKernelMount()!.mount({ bootstrap: join(devices, "image.boot"), devices: JSON.parse(e.stdout).devices.map((d: { path: string }) => d.path), mountpoint: mnt });
      const deadline = Date.now() + 30_000;
      while (ourLoops().length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      process.emit("SIGINT", "SIGINT");
      const error = await pending.catch((err: unknown) => err);
      expect(isStrataError(error, "IO") && /interrupted by SIGINT/.test(error.message)).toBe(true);
    } finally {
      delete process.env.STRATA_MOUNT_STEP_DELAY_MS;
      process.off("SIGINT", ownHandler);
    }
    expect(ourLoops()).toEqual([]);
    expect(isMounted(mnt)).toBe(false);
  });

  test("a blob that claims a cached blob's id gets its own device: the cache is keyed by the chunk records", async () => {
    const fixtureId = "be7d77eeb719f70884758d1aa800ed0fb09d701aaec469964e9d54325f0d5fef";
    const layoutDir = join(work, "forged-layout");
    await convertRandom(layoutDir, { seed: 7, singleBlob: true });
    const exported = join(work, "forged-export");
    const e = strata(["export-blob-device", `oci:${layoutDir}:latest`, exported, "--bootstrap", "--json"]);
    expect(e.status, e.stderr).toBe(0);
    const [{ blobId }] = JSON.parse(e.stdout).devices as { blobId: string }[];
    const blobs = join(work, "forged-blobs");
    mkdirSync(blobs);
    copyFileSync(join(layoutDir, "blobs/sha256", blobId!), join(blobs, fixtureId));
    const forged = join(work, "forged.boot");
    writeFileSync(forged, renameBlobId(readFileSync(join(exported, "image.boot")), blobId!, fixtureId));

    const mounts: { devices: { blobId: string; path: string; reused: boolean }[] }[] = [];
    for (const [boot, dir] of [
      [join(texture, "bootstrap/rafs-v6-2.2.boot"), join(texture, "blobs")],
      [forged, blobs],
    ] as const) {
      const mnt = freshMountpoint(`mnt-claim-${mounts.length}`);
      try {
        const r = strata(["mount", boot, mnt, "--blobs-dir", dir, "--cache-dir", cacheDir, "--json"]);
        expect(r.status, r.stderr).toBe(0);
        mounts.push(JSON.parse(r.stdout));
        // fsck.erofs --extract does not restore setuid/setgid: permission bits only.
        const rows = (tree: ReturnType<typeof diskTree>) => tree.map((row) => ({ ...row, mode: row.mode & 0o777 }));
        if (boot === forged) expect(rows(diskTree(mnt))).toEqual(rows(fsckTree(join(exported, "image.boot"), [join(exported, blobId!)])));
      } finally {
        expect(strata(["umount", mnt]).status).toBe(0);
      }
    }
    const [fixture, claimed] = mounts.map((m) => m.devices[0]!);
    expect(claimed!.blobId).toBe(fixture!.blobId);
    expect(claimed!.path).not.toBe(fixture!.path);
    expect(claimed!.reused).toBe(false);
  });

  test("a mount that fails part-way (not an EROFS bootstrap) detaches the loop devices it attached", async () => {
    const port = nodeKernelMount()!;
    const bogus = join(work, "bogus.boot");
    writeFileSync(bogus, new Uint8Array(8192).fill(7));
    const device = join(work, "bogus.dev");
    writeFileSync(device, new Uint8Array(4096));
    const mnt = freshMountpoint("mnt-bogus");
    const error = await port.mount({ bootstrap: bogus, devices: [device], mountpoint: mnt }).catch((e: unknown) => e);
    expect(isStrataError(error, "IO") && /mount -t erofs/.test(error.message)).toBe(true);
    expect(ourLoops()).toEqual([]);
    expect(isMounted(mnt)).toBe(false);
  });
});

describe.skipIf(corpusSkip !== undefined)(`kernel mounts of corpus app-v1 (${corpusSkip ?? "root, loop devices, EROFS, corpus, umoci"})`, () => {
  beforeAll(() => {
    const r = strata(["convert", `oci:${appV1}:latest`, `oci:${layout}:nydus`]);
    expect(r.status, r.stderr).toBe(0);
  }, 300_000);

  test("mount runs the app with chroot, the tree equals umoci's unpack, umount leaves no loop device", () => {
    const before = execFileSync("losetup", ["-a"], { encoding: "utf8" });
    const mnt = freshMountpoint("mnt");
    try {
      const r = strata(["mount", `oci:${layout}:nydus`, mnt, "--cache-dir", cacheDir, "--json"]);
      expect(r.status, r.stderr).toBe(0);
      const mounted = JSON.parse(r.stdout);
      expect(mounted.devices).toHaveLength(2);
      expect(mounted.devices.every((d: { reused: boolean; complete: boolean }) => d.complete && !d.reused)).toBe(true);
      expect(ourLoops()).toHaveLength(3);
      expect(isMounted(mnt)).toBe(true);

      const app = JSON.parse(execFileSync("chroot", [mnt, "/usr/bin/python3", "/app/app.py"], { encoding: "utf8" }));
      expect(app.version).toBe("1.0");

      const unpacked = join(work, "umoci");
      execFileSync(umoci!, ["unpack", "--image", `${appV1}:latest`, unpacked], { stdio: "pipe" });
      expect(diskTree(mnt)).toEqual(diskTree(join(unpacked, "rootfs")));
    } finally {
      const u = strata(["umount", mnt]);
      expect(u.status, u.stderr).toBe(0);
    }
    expect(isMounted(mnt)).toBe(false);
    expect(ourLoops()).toEqual([]);
    expect(execFileSync("losetup", ["-a"], { encoding: "utf8" })).toBe(before);
    expect(readdirSync(stateDir)).toEqual([]);
  }, 300_000);

  test("a second mount reuses the cached devices; umount of something strata did not mount is NOT_FOUND", () => {
    const mnt = freshMountpoint("mnt-again");
    try {
      const r = strata(["mount", `oci:${layout}:nydus`, mnt, "--cache-dir", cacheDir, "--json"]);
      expect(r.status, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout).devices.map((d: { reused: boolean }) => d.reused)).toEqual([true, true]);
      expect(existsSync(join(mnt, "app/app.py"))).toBe(true);
      const twice = strata(["mount", `oci:${layout}:nydus`, mnt, "--cache-dir", cacheDir]);
      expect(twice.status).toBe(2);
      expect(twice.stderr).toMatch(/already mounted by strata/);
    } finally {
      expect(strata(["umount", mnt]).status).toBe(0);
    }
    const again = strata(["umount", mnt, "--json"]);
    expect(again.status).toBe(3);
    expect(JSON.parse(again.stdout).error.code).toBe("NOT_FOUND");
    expect(ourLoops()).toEqual([]);
  }, 120_000);

  // The child pauses before each setup step (STRATA_MOUNT_STEP_DELAY_MS); the signal arrives
  // once the given stage is reached.
  for (const [signal, stage] of [
    ["SIGTERM", "after the first loop device is attached"],
    ["SIGINT", "after the mount, before its state is recorded"],
  ] as const) {
    test(`${signal} ${stage}: nothing leaks`, async () => {
      const mnt = freshMountpoint(`mnt-${signal}`);
      const before = execFileSync("losetup", ["-a"], { encoding: "utf8" });
      const child = spawn(process.execPath, [join(repo, "bin/strata.js"), "mount", `oci:${layout}:nydus`, mnt, "--cache-dir", cacheDir], {
        env: { ...env, STRATA_MOUNT_STEP_DELAY_MS: "700" },
        stdio: "ignore",
      });
      const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on("exit", (code, sig) => resolve({ code, signal: sig })));
      const reached = signal === "SIGTERM" ? () => ourLoops().length >= 1 : () => isMounted(mnt);
      const deadline = Date.now() + 60_000;
      while (!reached() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(reached()).toBe(true);
      child.kill(signal);
      const result = await exited;
      expect(result.signal).toBe(signal);
      expect(ourLoops()).toEqual([]);
      expect(isMounted(mnt)).toBe(false);
      expect(existsSync(stateDir) ? readdirSync(stateDir) : []).toEqual([]);
      expect(execFileSync("losetup", ["-a"], { encoding: "utf8" })).toBe(before);
    }, 120_000);
  }
});
