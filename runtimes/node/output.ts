import { randomBytes } from "node:crypto";
import { mkdir, open, rename, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import type { OutputPort, PendingFile } from "../../src/ports.js";

/** Files are written beside their final path under a hidden temporary name and renamed when complete. */
export const nodeOutput: OutputPort = {
  async mkdir(path) {
    await mkdir(path, { recursive: true });
  },
  async create(path): Promise<PendingFile> {
    const temp = join(dirname(path), `.strata-tmp-${randomBytes(6).toString("hex")}-${basename(path)}`);
    const handle = await open(temp, "wx");
    let closed = false;
    const close = async () => {
      if (!closed) {
        closed = true;
        await handle.close();
      }
    };
    return {
      async write(bytes) {
        let at = 0;
        while (at < bytes.length) at += (await handle.write(bytes, at, bytes.length - at)).bytesWritten;
      },
      async commit(finalPath = path) {
        await handle.sync();
        await close();
        await rename(temp, finalPath);
      },
      async abort() {
        await close().catch(() => {});
        await rm(temp, { force: true });
      },
    };
  },
};
