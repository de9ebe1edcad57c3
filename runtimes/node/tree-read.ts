import { execFile } from "node:child_process";
import { lstat, open, readdir, readlink } from "node:fs/promises";
import type { BigIntStats } from "node:fs";
import { StrataError } from "../../src/errors.js";
import type { TreeReadPort, TreeStat } from "../../src/ports.js";

const PIECE = 1 << 20;

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
    try {
      for (;;) {
        const { bytesRead, buffer } = await handle.read({ buffer: Buffer.allocUnsafe(PIECE) });
        if (bytesRead === 0) return;
        yield new Uint8Array(buffer.buffer, buffer.byteOffset, bytesRead);
      }
    } finally {
      await handle.close();
    }
  },
  async xattrs(root) {
    const args = ["--recursive", "--physical", "--dump", "--match=-", "--no-dereference", "--absolute-names", "--encoding=hex", root];
    const out = await new Promise<Buffer | undefined>((resolve, reject) => {
      execFile("getfattr", args, { encoding: "buffer", maxBuffer: 1 << 30 }, (error, stdout, stderr) => {
        if (!error) return resolve(stdout);
        if ((error as NodeJS.ErrnoException).code === "ENOENT") return resolve(undefined);
        reject(new StrataError("IO", `getfattr on ${root} failed: ${stderr.toString().trim() || error.message}`, { path: root }));
      });
    });
    return out && parseGetfattr(out);
  },
};

/**
 * Reads `getfattr --dump --encoding=hex` output: "# file: PATH" then NAME=0xHEX lines, blank
 * line between files. getfattr writes bytes it will not print (newline, backslash...) as \ooo.
 */
export function parseGetfattr(out: Uint8Array): Map<string, Map<string, Uint8Array>> {
  const result = new Map<string, Map<string, Uint8Array>>();
  let current: Map<string, Uint8Array> | undefined;
  for (const line of Buffer.from(out.buffer, out.byteOffset, out.length).toString("latin1").split("\n")) {
    if (line.startsWith("# file: ")) {
      current = new Map();
      result.set(unescape(line.slice(8)), current);
    } else if (line !== "" && current) {
      const eq = line.lastIndexOf("=");
      if (eq < 0 || !line.startsWith("0x", eq + 1)) throw new StrataError("IO", `getfattr printed an unexpected line: ${JSON.stringify(line)}`);
      current.set(unescape(line.slice(0, eq)), new Uint8Array(Buffer.from(line.slice(eq + 3), "hex")));
    }
  }
  return result;
}

/** Undoes getfattr's \ooo escapes; the text was read as latin1, so each char is one byte. */
function unescape(text: string): string {
  const bytes = Buffer.from(text.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))), "latin1");
  return bytes.toString("utf8");
}
