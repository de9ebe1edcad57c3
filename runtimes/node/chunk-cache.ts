import { randomBytes } from "node:crypto";
import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { StrataError } from "../../src/errors.js";
import type { ChunkCachePort } from "../../src/ports.js";

const KEY = /^[a-z0-9-]{1,200}$/;

/**
 * A chunk cache in a directory, one file per key under a two-character fan-out directory.
 * Entries are written under a unique temporary name and renamed into place, so processes sharing
 * the directory never see a partial entry; two writers of one key write the same bytes (keys are
 * content digests), so the last rename winning is harmless.
 */
export async function nodeChunkCache(dir: string): Promise<ChunkCachePort> {
  await mkdir(dir, { recursive: true });
  const pathOf = (key: string): string => {
    if (!KEY.test(key)) throw new StrataError("INVALID_ARGUMENT", `chunk cache key ${JSON.stringify(key)} is not [a-z0-9-]+`, { key });
    return join(dir, key.slice(-2), key);
  };
  return {
    async get(key) {
      try {
        return new Uint8Array(await readFile(pathOf(key)));
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
        throw e;
      }
    },
    async put(key, bytes) {
      const path = pathOf(key);
      const temp = `${path}.tmp-${randomBytes(6).toString("hex")}`;
      await mkdir(join(dir, key.slice(-2)), { recursive: true });
      try {
        await writeFile(temp, bytes, { flag: "wx" });
        await rename(temp, path);
      } catch (e) {
        await rm(temp, { force: true });
        throw e;
      }
    },
  };
}
