// The FusePort for Node: sessions served over /dev/fuse from this process, and the detached daemon.
import { spawn } from "node:child_process";
import { StrataError } from "../../../src/errors.js";
import type { FusePort } from "../../../src/fuse/port.js";
import { FS_TYPE, isMounted, mountFuse, unmountPath } from "./device.js";

/** How long a background daemon may take to open its image and mount it. */
const BACKGROUND_START_MS = 120_000;

export const nodeFusePort: FusePort = {
  async serve(mountpoint, session, options) {
    const mount = await mountFuse(mountpoint, session, { ...options, unmountOnSignals: true });
    return { closed: mount.closed };
  },
  async isMounted(mountpoint) {
    return isMounted(mountpoint, FS_TYPE);
  },
  async unmount(mountpoint) {
    await unmountPath(mountpoint);
  },
  background(args, mountpoint) {
    // The same entry point (and, under tsx, the same loader flags) with the daemon's arguments.
    const child = spawn(process.execPath, [...process.execArgv, process.argv[1]!, ...args], { detached: true, stdio: "ignore" });
    return new Promise((resolve, reject) => {
      const started = Date.now();
      const fail = (message: string) => {
        clearInterval(poll);
        reject(new StrataError("IO", `the background server for ${mountpoint} ${message}; run with --foreground to see why`, { mountpoint }));
      };
      child.on("exit", (code, signal) => fail(`exited (${signal ?? `code ${code}`}) before mounting`));
      child.on("error", (e) => fail(`could not start: ${e.message}`));
      const poll = setInterval(() => {
        if (isMounted(mountpoint, FS_TYPE)) {
          clearInterval(poll);
          child.removeAllListeners("exit");
          child.unref();
          resolve(child.pid!);
        } else if (Date.now() - started > BACKGROUND_START_MS) {
          child.kill();
          fail(`did not mount within ${BACKGROUND_START_MS / 1000} s`);
        }
      }, 50);
    });
  },
};
