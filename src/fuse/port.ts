/** What `strata mount --lazy` needs from a runtime that can serve FUSE (Linux, root, /dev/fuse). */
import type { FuseSession } from "./session.js";

export interface FuseServeOptions {
  /** Names the mounted image (the "device" column of /proc/mounts). */
  source: string;
  /** Written with the serving process's pid once mounted, removed when the mount ends. */
  pidFile?: string;
  /** Told about requests that could not be decoded and replies that could not be written. */
  onError?(error: unknown): void;
}

export interface FusePort {
  /**
   * Mounts `session` at `mountpoint` and serves it from this process; `closed` resolves once the
   * mount is gone. SIGTERM and SIGINT unmount it.
   */
  serve(mountpoint: string, session: FuseSession, options: FuseServeOptions): Promise<{ closed: Promise<void> }>;
  /** Whether a strata FUSE file system is mounted at `mountpoint`. */
  isMounted(mountpoint: string): Promise<boolean>;
  /** Unmounts it (lazily when busy); resolves once the mount is gone. */
  unmount(mountpoint: string): Promise<void>;
  /**
   * Runs `strata ARGS` (which must serve in the foreground) as a detached process and resolves
   * with its pid once `mountpoint` is mounted; rejects if it exits first.
   */
  background(args: readonly string[], mountpoint: string): Promise<number>;
}
