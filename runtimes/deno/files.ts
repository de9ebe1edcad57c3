import { StrataError } from "../../src/errors.ts";
import type { FileHandle, FilesPort, OutputPort, PendingFile } from "../../src/ports.ts";

function ioError(e: unknown, path: string): StrataError {
  if (e instanceof Deno.errors.NotFound || e instanceof Deno.errors.NotADirectory) {
    return new StrataError("NOT_FOUND", `no such file: ${path}`, { path }, { cause: e });
  }
  return new StrataError("IO", `cannot access ${path}: ${(e as Error).message}`, { path }, { cause: e });
}

/** The FilesPort of Deno: Deno.open, ranges read by seeking (needs --allow-read). */
export function denoFilesPort(): FilesPort {
  return {
    async open(path: string): Promise<FileHandle> {
      const file = await Deno.open(path, { read: true }).catch((e) => {
        throw ioError(e, path);
      });
      const size = (await file.stat()).size;
      // Deno.FsFile has no positional read: seek + read pairs are queued so they never interleave.
      let queue: Promise<unknown> = Promise.resolve();
      const readAt = async (offset: number, length: number): Promise<Uint8Array> => {
        const want = Math.max(0, Math.min(length, size - offset));
        const buffer = new Uint8Array(want);
        try {
          await file.seek(offset, Deno.SeekMode.Start);
          let got = 0;
          while (got < want) {
            const n = await file.read(buffer.subarray(got));
            if (n === null) break;
            got += n;
          }
          return got === want ? buffer : buffer.subarray(0, got);
        } catch (e) {
          throw ioError(e, path);
        }
      };
      return {
        size,
        read(offset, length) {
          const result = queue.then(() => readAt(offset, length));
          queue = result.catch(() => {});
          return result;
        },
        close: async () => file.close(),
      };
    },
    readFile: (path) =>
      Deno.readFile(path).catch((e) => {
        throw ioError(e, path);
      }),
    async stat(path) {
      try {
        const s = await Deno.stat(path);
        return { kind: s.isFile ? "file" : s.isDirectory ? "dir" : "other", size: s.size };
      } catch (e) {
        const err = ioError(e, path);
        if (err.code === "NOT_FOUND") return undefined;
        throw err;
      }
    },
  };
}

/** Files are written beside their final path under a hidden temporary name and renamed when complete (needs --allow-write). */
export const denoOutput: OutputPort = {
  async mkdir(path) {
    await Deno.mkdir(path, { recursive: true });
  },
  async create(path): Promise<PendingFile> {
    const slash = path.lastIndexOf("/");
    const suffix = [...crypto.getRandomValues(new Uint8Array(6))].map((b) => b.toString(16).padStart(2, "0")).join("");
    const temp = `${path.slice(0, slash + 1)}.strata-tmp-${suffix}-${path.slice(slash + 1)}`;
    const file = await Deno.open(temp, { write: true, createNew: true });
    let closed = false;
    const close = () => {
      if (!closed) {
        closed = true;
        file.close();
      }
    };
    return {
      async write(bytes) {
        let at = 0;
        while (at < bytes.length) at += await file.write(bytes.subarray(at));
      },
      async commit(finalPath = path) {
        await file.syncData();
        close();
        await Deno.rename(temp, finalPath);
      },
      async abort() {
        close();
        await Deno.remove(temp).catch(() => {});
      },
    };
  },
};
