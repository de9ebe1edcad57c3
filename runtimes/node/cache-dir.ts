import { link, readdir, rm, stat, utimes } from "node:fs/promises";
import { StrataError } from "../../src/errors.js";
import type { CacheDirPort } from "../../src/ports.js";

const missing = (e: unknown) => ["ENOENT", "ENOTDIR"].includes((e as NodeJS.ErrnoException).code ?? "");

function ioError(e: unknown, what: string, path: string): StrataError {
  return new StrataError("IO", `cannot ${what} ${path}: ${(e as Error).message}`, { path, errno: (e as NodeJS.ErrnoException).code }, { cause: e });
}

/** The CacheDirPort of Node: node:fs/promises. */
export const nodeCacheDir: CacheDirPort = {
  async list(dir) {
    try {
      return await readdir(dir);
    } catch (e) {
      if (missing(e)) return [];
      throw ioError(e, "list", dir);
    }
  },
  async stat(path) {
    try {
      const s = await stat(path);
      return { size: s.size, mtimeMs: s.mtimeMs };
    } catch (e) {
      if (missing(e)) return undefined;
      throw ioError(e, "stat", path);
    }
  },
  async remove(path) {
    await rm(path, { force: true }).catch((e) => {
      throw ioError(e, "remove", path);
    });
  },
  async link(existing, path) {
    await link(existing, path).catch((e) => {
      throw ioError(e, `link ${existing} to`, path);
    });
  },
  async touch(path) {
    const now = new Date();
    await utimes(path, now, now).catch((e) => {
      throw ioError(e, "touch", path);
    });
  },
};
