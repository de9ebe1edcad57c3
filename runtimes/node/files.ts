import { open, readFile, stat } from "node:fs/promises";
import { StrataError } from "../../src/errors.js";
import type { FileHandle, FilesPort } from "../../src/ports.js";

function ioError(e: unknown, path: string): StrataError {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === "ENOENT" || code === "ENOTDIR") return new StrataError("NOT_FOUND", `no such file: ${path}`, { path }, { cause: e });
  return new StrataError("IO", `cannot read ${path}: ${(e as Error).message}`, { path, errno: code }, { cause: e });
}

/** The FilesPort of Node: node:fs/promises, positional reads for archives. */
export function nodeFilesPort(): FilesPort {
  return {
    async open(path: string): Promise<FileHandle> {
      const fh = await open(path, "r").catch((e) => {
        throw ioError(e, path);
      });
      const size = (await fh.stat()).size;
      return {
        size,
        async read(offset, length) {
          const want = Math.max(0, Math.min(length, size - offset));
          const buffer = new Uint8Array(want);
          let got = 0;
          while (got < want) {
            const { bytesRead } = await fh.read(buffer, got, want - got, offset + got).catch((e) => {
              throw ioError(e, path);
            });
            if (bytesRead === 0) break;
            got += bytesRead;
          }
          return got === want ? buffer : buffer.subarray(0, got);
        },
        close: () => fh.close(),
      };
    },
    async readFile(path) {
      const bytes = await readFile(path).catch((e) => {
        throw ioError(e, path);
      });
      return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    },
    async stat(path) {
      try {
        const s = await stat(path);
        return { kind: s.isFile() ? "file" : s.isDirectory() ? "dir" : "other", size: s.size };
      } catch (e) {
        const err = ioError(e, path);
        if (err.code === "NOT_FOUND") return undefined;
        throw err;
      }
    },
  };
}
