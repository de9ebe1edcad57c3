import { execFile } from "node:child_process";
import { lstat, open, readdir, readlink } from "node:fs/promises";
import type { BigIntStats } from "node:fs";
import { StrataError } from "../../src/errors.js";
import { GETFATTR_ARGS, parseGetfattr } from "../../src/diff/getfattr.js";
import type { TreeReadPort, TreeStat } from "../../src/ports.js";

const PIECE = 1 << 20;
/** Read buffers free for reuse: one per file being read at once, not one per file. */
const free: Buffer[] = [];

function treeStat(st: BigIntStats): TreeStat {
  return { mode: Number(st.mode), uid: Number(st.uid), gid: Number(st.gid), size: Number(st.size), rdev: Number(st.rdev), nlink: Number(st.nlink), id: `${st.dev}:${st.ino}` };
}

function ioError(e: unknown, path: string): StrataError {
  const code = (e as NodeJS.ErrnoException).code;
  return new StrataError(code === "ENOENT" ? "NOT_FOUND" : "IO", `${path}: ${(e as Error).message}`, { path });
}

/** Directory trees through node:fs; xattrs through Debian's getfattr (package attr), one run per tree. */
export const nodeTreeRead: TreeReadPort = {
  async lstat(path) {
    try {
      return treeStat(await lstat(path, { bigint: true }));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw ioError(e, path);
    }
  },
  async list(dir) {
    try {
      const names = await readdir(dir);
      return await Promise.all(names.map(async (name) => ({ name, stat: treeStat(await lstat(`${dir}/${name}`, { bigint: true })) })));
    } catch (e) {
      throw ioError(e, dir);
    }
  },
  async readlink(path) {
    try {
      return await readlink(path);
    } catch (e) {
      throw ioError(e, path);
    }
  },
  async *read(path) {
    const handle = await open(path, "r").catch((e) => {
      throw ioError(e, path);
    });
    const buffer = free.pop() ?? Buffer.allocUnsafe(PIECE);
    try {
      for (;;) {
        const { bytesRead } = await handle.read({ buffer });
        if (bytesRead === 0) return;
        yield new Uint8Array(buffer.buffer, buffer.byteOffset, bytesRead);
      }
    } finally {
      free.push(buffer);
      await handle.close();
    }
  },
  async xattrs(root) {
    const out = await new Promise<Buffer | undefined>((resolve, reject) => {
      execFile("getfattr", [...GETFATTR_ARGS, root], { encoding: "buffer", maxBuffer: 1 << 30 }, (error, stdout, stderr) => {
        if (!error) return resolve(stdout);
        if ((error as NodeJS.ErrnoException).code === "ENOENT") return resolve(undefined);
        reject(new StrataError("IO", `getfattr on ${root} failed: ${stderr.toString().trim() || error.message}`, { path: root }));
      });
    });
    return out && parseGetfattr(out);
  },
};
