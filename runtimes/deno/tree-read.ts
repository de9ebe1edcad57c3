import { GETFATTR_ARGS, parseGetfattr } from "../../src/diff/getfattr.ts";
import { StrataError } from "../../src/errors.ts";
import type { TreeReadPort, TreeStat } from "../../src/ports.ts";

const PIECE = 1 << 20;
/** Read buffers free for reuse: one per file being read at once, not one per file. */
const free: Uint8Array[] = [];

function treeStat(st: Deno.FileInfo): TreeStat {
  return { mode: st.mode ?? 0, uid: st.uid ?? 0, gid: st.gid ?? 0, size: st.size, rdev: st.rdev ?? 0, nlink: st.nlink ?? 1, id: `${st.dev}:${st.ino}` };
}

function ioError(e: unknown, path: string): StrataError {
  const code = e instanceof Deno.errors.NotFound ? "NOT_FOUND" : "IO";
  return new StrataError(code, `${path}: ${(e as Error).message}`, { path }, { cause: e });
}

/**
 * Directory trees through Deno's file APIs (--allow-read). xattrs through Debian's getfattr,
 * one run per tree, which needs --allow-run=getfattr: without it (or without getfattr) xattrs
 * are reported as unreadable and not compared.
 */
export const denoTreeRead: TreeReadPort = {
  async lstat(path) {
    try {
      return treeStat(await Deno.lstat(path));
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return undefined;
      throw ioError(e, path);
    }
  },
  async list(dir) {
    try {
      const names: string[] = [];
      for await (const entry of Deno.readDir(dir)) names.push(entry.name);
      return await Promise.all(names.map(async (name) => ({ name, stat: treeStat(await Deno.lstat(`${dir}/${name}`)) })));
    } catch (e) {
      throw ioError(e, dir);
    }
  },
  async readlink(path) {
    try {
      return await Deno.readLink(path);
    } catch (e) {
      throw ioError(e, path);
    }
  },
  async *read(path) {
    const file = await Deno.open(path, { read: true }).catch((e) => {
      throw ioError(e, path);
    });
    const buffer = free.pop() ?? new Uint8Array(PIECE);
    try {
      for (;;) {
        const n = await file.read(buffer);
        if (n === null) return;
        yield buffer.subarray(0, n);
      }
    } finally {
      free.push(buffer);
      file.close();
    }
  },
  async xattrs(root) {
    let output: Deno.CommandOutput;
    try {
      output = await new Deno.Command("getfattr", { args: [...GETFATTR_ARGS, root], stdout: "piped", stderr: "piped" }).output();
    } catch (e) {
      if (e instanceof Deno.errors.NotFound || e instanceof Deno.errors.NotCapable || e instanceof Deno.errors.PermissionDenied) return undefined;
      throw ioError(e, root);
    }
    if (!output.success) throw new StrataError("IO", `getfattr on ${root} failed: ${new TextDecoder().decode(output.stderr).trim()}`, { path: root });
    return parseGetfattr(output.stdout);
  },
};
