// Kernel EROFS mounts for Node on Linux: losetup, mount and umount run as child processes. What a
// mount attached is recorded in /run/strata/mounts/<sha256 of the mount point>.json so umount
// detaches exactly those loop devices. A failure or SIGINT/SIGTERM/SIGHUP part-way releases
// every loop device and mount made so far (then the signal ends the process as usual).
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdir, readFile, realpath, rename, rm, stat, writeFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { promisify } from "node:util";
import { StrataError } from "../../src/errors.js";
import type { KernelMount, MountPort } from "../../src/ports.js";

const run = promisify(execFile);
const STATE_DIR = process.env.STRATA_MOUNT_STATE_DIR ?? "/run/strata/mounts";
const SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const;

class Interrupted extends Error {
  constructor(readonly signal: NodeJS.Signals) {
    super(`interrupted by ${signal}`);
  }
}

/** The kernel mount port, or undefined where there is none (not Linux). */
export function nodeKernelMount(): MountPort | undefined {
  if (process.platform !== "linux") return undefined;
  return { mount, umount };
}

async function mount(request: { bootstrap: string; devices: readonly string[]; mountpoint: string }): Promise<KernelMount> {
  requireRoot();
  const mountpoint = await directory(request.mountpoint);
  const statePath = stateFile(mountpoint);
  if (await exists(statePath)) throw new StrataError("INVALID_ARGUMENT", `${mountpoint} is already mounted by strata (strata umount ${mountpoint} first)`, { mountpoint });
  const made: KernelMount = { mountpoint, bootstrapLoop: "", deviceLoops: [] };
  const backing: Record<string, string> = {};
  const attachFile = async (file: string) => {
    const loop = await attach(file);
    backing[loop] = resolve(file);
    return loop;
  };
  let mounted = false;
  let stateWritten = false;
  let interrupted: NodeJS.Signals | undefined;
  const onSignal = (signal: NodeJS.Signals) => (interrupted ??= signal);
  for (const s of SIGNALS) process.on(s, onSignal);
  // Tests only: a pause before each setup step, so a test can interrupt the mount part-way.
  const delay = Number(process.env.STRATA_MOUNT_STEP_DELAY_MS ?? 0);
  const step = async <T>(what: () => Promise<T>): Promise<T> => {
    if (delay > 0) await new Promise((r) => setTimeout(r, delay));
    if (interrupted) throw new Interrupted(interrupted);
    return what();
  };
  try {
    made.bootstrapLoop = await step(() => attachFile(request.bootstrap));
    for (const device of request.devices) made.deviceLoops.push(await step(() => attachFile(device)));
    const options = ["ro", ...made.deviceLoops.map((d) => `device=${d}`)].join(",");
    await step(() => command("mount", ["-t", "erofs", "-o", options, made.bootstrapLoop, mountpoint]));
    mounted = true;
    await step(() => writeState(statePath, { ...made, backing }));
    stateWritten = true;
    if (interrupted) throw new Interrupted(interrupted);
    return made;
  } catch (e) {
    await release(made, mounted, stateWritten ? statePath : undefined);
    for (const s of SIGNALS) process.off(s, onSignal);
    if (e instanceof Interrupted) {
      if (process.listenerCount(e.signal) === 0) {
        process.kill(process.pid, e.signal);
        await new Promise(() => {}); // the signal's default action ends the process
      }
      // Someone else handles the signal: report it like any other failure.
      throw new StrataError("IO", `mounting ${mountpoint} was interrupted by ${e.signal}; what it had attached was released`, { mountpoint, signal: e.signal });
    }
    throw e;
  } finally {
    for (const s of SIGNALS) process.off(s, onSignal);
  }
}

async function umount(target: string): Promise<KernelMount> {
  requireRoot();
  const mountpoint = await realpath(target).catch(() => resolve(target));
  const statePath = stateFile(mountpoint);
  const state = await readFile(statePath, "utf8").catch(() => undefined);
  if (state === undefined) throw new StrataError("NOT_FOUND", `nothing is mounted by strata at ${mountpoint}`, { mountpoint });
  const { backing, ...made } = JSON.parse(state) as KernelMount & { backing: Record<string, string> };
  if (await isMounted(mountpoint)) await command("umount", [mountpoint]);
  // A loop device detached by someone else may have been reused since: leave those alone.
  const ours = async (loop: string) => (await readFile(`/sys/block/${loop.replace("/dev/", "")}/loop/backing_file`, "utf8").catch(() => "")).trim() === backing[loop];
  const still = { ...made, bootstrapLoop: (await ours(made.bootstrapLoop)) ? made.bootstrapLoop : "", deviceLoops: [] as string[] };
  for (const loop of made.deviceLoops) if (await ours(loop)) still.deviceLoops.push(loop);
  await release(still, false, statePath);
  return made;
}

/** Detaches the loop devices (those still backed by the files this mount attached), unmounting first when mounted. */
async function release(made: KernelMount, mounted: boolean, statePath: string | undefined): Promise<void> {
  const problems: string[] = [];
  if (mounted) await command("umount", [made.mountpoint]).catch((e: Error) => problems.push(e.message));
  for (const loop of [...made.deviceLoops, made.bootstrapLoop].filter(Boolean).reverse()) {
    await command("losetup", ["-d", loop]).catch((e: Error) => problems.push(e.message));
  }
  if (statePath) await rm(statePath, { force: true });
  if (problems.length) throw new StrataError("IO", `could not release ${made.mountpoint} fully: ${problems.join("; ")}`, { mountpoint: made.mountpoint });
}

async function attach(file: string): Promise<string> {
  return (await command("losetup", ["--find", "--show", "--read-only", resolve(file)])).trim();
}

async function command(name: string, args: string[]): Promise<string> {
  try {
    return (await run(name, args, { encoding: "utf8" })).stdout;
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new StrataError("IO", `${name} ${args.join(" ")} failed: ${(err.stderr || err.message).trim()}`, { command: name, args });
  }
}

async function writeState(path: string, made: KernelMount & { backing: Record<string, string> }): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const temp = `${path}.tmp-${process.pid}`;
  await writeFile(temp, JSON.stringify(made) + "\n");
  await rename(temp, path);
}

function stateFile(mountpoint: string): string {
  return `${STATE_DIR}/${createHash("sha256").update(mountpoint).digest("hex")}.json`;
}

async function isMounted(mountpoint: string): Promise<boolean> {
  const table = await readFile("/proc/self/mountinfo", "utf8");
  // Field 5 is the mount point, with spaces and such escaped as octal.
  return table.split("\n").some((line) => line.split(" ")[4]?.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))) === mountpoint);
}

async function directory(path: string): Promise<string> {
  const real = await realpath(path).catch(() => undefined);
  if (!real || !(await stat(real)).isDirectory()) throw new StrataError("INVALID_ARGUMENT", `mount point ${path} is not a directory`, { mountpoint: path });
  return real;
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

function requireRoot(): void {
  if (process.getuid?.() !== 0) throw new StrataError("UNSUPPORTED", "kernel mounts need root (loop devices and mount)");
}
