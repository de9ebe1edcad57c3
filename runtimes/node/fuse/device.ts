/**
 * A FUSE session over /dev/fuse for Node, without libfuse: the device is opened here, mount(8)
 * attaches it to the mount point (`-i` so no mount.fuse helper runs, the descriptor passed as
 * fd 3), and requests are read by dedicated reader threads.
 *
 * Why threads and not fs.read: a read of /dev/fuse blocks until the kernel has a request. On
 * libuv's threadpool each outstanding read would hold one of its (by default 4) threads, which
 * also serve every file read the chunk store makes, and the pool's size is fixed at its first use
 * (UV_THREADPOOL_SIZE cannot be raised once the CLI has read its wasm files). Keeping N blocking
 * reads in N worker threads leaves the pool alone. Each reader posts a request as soon as it has
 * read it and reads the next, so many requests are in flight at once on the main thread; replies
 * are small synchronous writes.
 */
import { spawn } from "node:child_process";
import { closeSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from "node:fs";
import { Worker } from "node:worker_threads";
import { StrataError } from "../../../src/errors.js";
import type { FuseSession } from "../../../src/fuse/session.js";

/** The type column of /proc/mounts for strata's mounts (fuse with subtype strata). */
export const FS_TYPE = "fuse.strata";

export interface FuseMountOptions {
  /** The "device" column of /proc/mounts: names what is mounted. */
  source: string;
  /** Blocking device reads kept outstanding (default 4). */
  readers?: number;
  /** Written with this process's pid once mounted, removed when the session ends. */
  pidFile?: string;
  /** Unmount on SIGTERM and SIGINT (for the foreground daemon). */
  unmountOnSignals?: boolean;
  /** Told about requests that could not be decoded or replies that could not be written. */
  onError?(error: unknown): void;
}

export interface FuseMount {
  readonly mountpoint: string;
  /** Resolves when the kernel has ended the connection (unmounted) and the device is closed. */
  readonly closed: Promise<void>;
  /** `umount`, falling back to `umount -l` when the mount is busy; resolves once closed. */
  unmount(): Promise<void>;
}

// CommonJS, evaluated in each worker: no module path to resolve under tsx or from dist/.
const READER = `
const { parentPort, workerData } = require("node:worker_threads");
const { readSync } = require("node:fs");
const { fd, size } = workerData;
const buf = Buffer.allocUnsafe(size);
for (;;) {
  let n;
  try {
    n = readSync(fd, buf, 0, size, null);
  } catch (e) {
    // ENOENT: the request was interrupted before it was read; EINTR/EAGAIN: try again.
    if (e.code === "ENOENT" || e.code === "EINTR" || e.code === "EAGAIN") continue;
    parentPort.postMessage({ end: e.code });
    break;
  }
  if (n === 0) { parentPort.postMessage({ end: "EOF" }); break; }
  const request = new Uint8Array(n);
  request.set(buf.subarray(0, n));
  parentPort.postMessage(request, [request.buffer]);
}
`;

export async function mountFuse(mountpoint: string, session: FuseSession, options: FuseMountOptions): Promise<FuseMount> {
  let fd: number;
  try {
    fd = openSync("/dev/fuse", "r+");
  } catch (e) {
    throw new StrataError("UNSUPPORTED", `cannot open /dev/fuse: ${(e as Error).message}`, { mountpoint }, { cause: e });
  }
  // Written before mounting, so whoever sees the mount also finds the pid file.
  if (options.pidFile) writeFileSync(options.pidFile, `${process.pid}\n`);
  const mountOptions = ["fd=3", "rootmode=40000", "user_id=0", "group_id=0", "ro", "allow_other", "default_permissions"].join(",");
  const mounted = await run("mount", ["-i", "-t", FS_TYPE, "-o", mountOptions, options.source, mountpoint], fd);
  if (mounted.code !== 0) {
    closeSync(fd);
    if (options.pidFile) rmSync(options.pidFile, { force: true });
    throw new StrataError("IO", `mounting ${options.source} at ${mountpoint} failed: ${mounted.stderr.trim() || `mount exited with ${mounted.code}`}`, { mountpoint });
  }

  const onError = options.onError ?? (() => {});
  const count = options.readers ?? 4;
  let running = count;
  let finish!: () => void;
  const closed = new Promise<void>((resolve) => (finish = resolve));
  const reply = (bytes: Uint8Array | undefined) => {
    if (!bytes) return;
    try {
      writeSync(fd, bytes);
    } catch (e) {
      // ENOENT: the kernel gave up on the request (interrupted); ENODEV: the connection is gone.
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== "ENOENT" && code !== "ENODEV") onError(e);
    }
  };
  for (let i = 0; i < count; i++) {
    const worker = new Worker(READER, { eval: true, workerData: { fd, size: session.bufferSize } });
    worker.on("message", (message: Uint8Array | { end: string }) => {
      if (message instanceof Uint8Array) {
        session.handle(message).then(reply, onError);
        return;
      }
      if (message.end !== "ENODEV") onError(new StrataError("IO", `reading /dev/fuse for ${mountpoint} failed: ${message.end}`, { mountpoint }));
    });
    worker.on("error", onError);
    worker.on("exit", () => {
      if (--running > 0) return;
      closeSync(fd);
      if (options.pidFile) rmSync(options.pidFile, { force: true });
      process.off("SIGTERM", onSignal).off("SIGINT", onSignal);
      finish();
    });
  }

  const unmount = async (): Promise<void> => {
    await unmountPath(mountpoint);
    await closed;
  };
  const onSignal = () => {
    unmount().catch(onError);
  };
  if (options.unmountOnSignals) process.on("SIGTERM", onSignal).on("SIGINT", onSignal);
  return { mountpoint, closed, unmount };
}

/** `umount`, falling back to `umount -l` when the mount is busy; nothing when nothing is mounted there. */
export async function unmountPath(mountpoint: string): Promise<void> {
  if (!isMounted(mountpoint)) return;
  const plain = await run("umount", [mountpoint]);
  if (plain.code === 0 || !isMounted(mountpoint)) return;
  const lazy = await run("umount", ["-l", mountpoint]);
  if (lazy.code !== 0 && isMounted(mountpoint)) throw new StrataError("IO", `unmounting ${mountpoint} failed: ${lazy.stderr.trim() || plain.stderr.trim()}`, { mountpoint });
}

/** Whether a mount is listed at `mountpoint` (as /proc/mounts spells it: spaces escaped octal). */
export function isMounted(mountpoint: string, type?: string): boolean {
  const escaped = mountpoint.replace(/[ \t\n\\]/g, (c) => `\\${c.charCodeAt(0).toString(8).padStart(3, "0")}`);
  return readFileSync("/proc/mounts", "utf8")
    .split("\n")
    .some((line) => {
      const fields = line.split(" ");
      return fields[1] === escaped && (type === undefined || fields[2] === type);
    });
}

/** Runs a command without blocking the event loop (this process may be the one serving the mount it touches). */
function run(command: string, args: string[], passFd?: number): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: ["ignore", "ignore", "pipe", ...(passFd === undefined ? [] : [passFd])] });
    let stderr = "";
    child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", (e) => resolve({ code: -1, stderr: e.message }));
    child.on("close", (code) => resolve({ code: code ?? -1, stderr }));
  });
}
