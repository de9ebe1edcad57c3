// Lazy FUSE mounts for tests: the strata CLI (through tsx, so no dist build is needed) serving in a
// child process, never in the test process (which reads the mount and would deadlock serving it).
import { execFile, execFileSync, spawn, type ChildProcess } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { promisify } from "node:util";

export const REPO = new URL("../../", import.meta.url).pathname;
const CLI = [process.execPath, "--import", "tsx", `${REPO}runtimes/node/cli.ts`];

/** Why FUSE tests cannot run here, or undefined when they can. */
export const fuseUnavailable: string | undefined =
  process.getuid?.() !== 0 ? "needs root (mount)" : !existsSync("/dev/fuse") ? "needs /dev/fuse" : process.platform !== "linux" ? "needs Linux" : undefined;

/** Runs `strata ARGS` to completion. */
export async function strata(args: string[], options: { timeout?: number } = {}): Promise<{ stdout: string; stderr: string }> {
  return promisify(execFile)(CLI[0]!, [...CLI.slice(1), ...args], { cwd: REPO, timeout: options.timeout ?? 600_000, maxBuffer: 64 << 20 });
}

export function isMounted(mountpoint: string): boolean {
  return readFileSync("/proc/mounts", "utf8")
    .split("\n")
    .some((line) => line.split(" ")[1] === mountpoint);
}

export interface Served {
  process: ChildProcess;
  /** What the server wrote to stderr so far. */
  stderr(): string;
  /** Resolves with the exit code once the server has exited. */
  exited: Promise<number | null>;
}

/** `strata mount --lazy IMAGE MNT --foreground ...`, resolved once the mount is listed. */
export async function serveLazy(image: string, mountpoint: string, extra: string[] = []): Promise<Served> {
  const child = spawn(CLI[0]!, [...CLI.slice(1), "mount", "--lazy", image, mountpoint, "--foreground", ...extra], { cwd: REPO, stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  let done = false;
  void exited.then(() => (done = true));
  const started = Date.now();
  while (!isMounted(mountpoint)) {
    if (done) throw new Error(`strata mount --lazy exited before mounting: ${stderr}`);
    if (Date.now() - started > 120_000) {
      child.kill("SIGKILL");
      throw new Error(`strata mount --lazy did not mount within 120 s: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { process: child, stderr: () => stderr, exited };
}

/** Leaves nothing mounted at `mountpoint`, whatever state a failed test left it in. */
export function forceUnmount(mountpoint: string): void {
  for (const args of [[mountpoint], ["-l", mountpoint]]) {
    if (!isMounted(mountpoint)) return;
    try {
      execFileSync("umount", args, { stdio: "ignore", timeout: 10_000 });
    } catch {
      // try the lazy unmount next
    }
  }
}

/** `getfattr -R -P -h -d -m - -e hex .` in `root`: every xattr of the tree, paths relative. */
export function xattrDump(root: string): string {
  return execFileSync("getfattr", ["-R", "-P", "-h", "-d", "-m", "-", "-e", "hex", "."], { cwd: root, encoding: "utf8", maxBuffer: 64 << 20 });
}
