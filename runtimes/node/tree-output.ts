// Unpack output for Node: a hidden temporary sibling of the destination, written without ever
// following a symlink. Node has no openat(), so the discipline is kept by bookkeeping: an entry
// is only created inside a directory this output made itself (and lstat'ed as a directory right
// after), with exclusive creates (O_EXCL | O_NOFOLLOW, symlink, link and mknod fail on anything
// already there), and metadata is changed with the l* calls or after an lstat refusing symlinks.
// Node has no xattr API: xattrs are restored in one `setfattr -h --restore` run (Debian's attr).
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { constants, lstatSync } from "node:fs";
import { chmod, lchown, link, lstat, lutimes, mkdir, open, readdir, rename, rm, symlink, writeFile as writeWhole } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, dirname, join, resolve } from "node:path";
import { promisify } from "node:util";
import { StrataError } from "../../src/errors.js";
import type { SpecialKind, TreeOutput, TreeOutputPort, TreePath } from "../../src/ports.js";
import { showPath, unsafeName } from "../../src/unpack/plan.js";

const run = promisify(execFile);

function io(what: string, path: string, e: unknown): StrataError {
  const code = (e as NodeJS.ErrnoException).code;
  return new StrataError("IO", `${what} ${path}: ${(e as Error).message}`, { path, ...(code ? { errno: code } : {}) }, { cause: e });
}

export const nodeTreeOutput: TreeOutputPort = {
  async begin(dir, { replace }) {
    const dest = resolve(dir);
    const existing = await lstat(dest).catch((e: NodeJS.ErrnoException) => {
      if (e.code === "ENOENT") return undefined;
      throw io("cannot inspect", dest, e);
    });
    if (existing && !existing.isDirectory()) throw new StrataError("INVALID_ARGUMENT", `${dest} exists and is not a directory`, { path: dest });
    if (existing && !replace && (await readdir(dest)).length > 0) {
      throw new StrataError("INVALID_ARGUMENT", `${dest} is not empty (use --force to replace it)`, { path: dest });
    }
    const temp = join(dirname(dest), `.${basename(dest)}.strata-unpack-${randomBytes(6).toString("hex")}`);
    try {
      await mkdir(temp, { mode: 0o700 });
    } catch (e) {
      throw io("cannot create", temp, e);
    }
    return new NodeTree(dest, temp, replace, process.getuid?.() === 0);
  },
};

class NodeTree implements TreeOutput {
  /** Directories this output created (relative keys; "" is the temporary root). */
  private readonly dirs = new Set<string>([""]);
  /** Non-directories this output created, the only things `link` may point at. */
  private readonly nodes = new Set<string>();

  constructor(
    private readonly dest: string,
    private readonly temp: string,
    private readonly replace: boolean,
    readonly privileged: boolean,
  ) {}

  /**
   * The absolute path of a new entry, after checking that its parent is one of our directories
   * and that every directory on the way still is one (lstat: a symlink is refused, not followed).
   */
  private async place(path: TreePath): Promise<{ abs: string; key: string }> {
    if (path.length === 0) throw new StrataError("UNSAFE_PATH", "the root cannot be created again", { path: "/" });
    for (const name of path) {
      const why = unsafeName(name);
      if (why) throw new StrataError("UNSAFE_PATH", `a name in ${showPath(path)} ${why}`, { path: showPath(path) });
    }
    const parent = path.slice(0, -1).join("/");
    if (!this.dirs.has(parent)) throw new StrataError("UNSAFE_PATH", `${showPath(path)}: its parent is not a directory this unpack created`, { path: showPath(path) });
    this.checkAncestors(path);
    return { abs: join(this.temp, ...path), key: path.join("/") };
  }

  /** The absolute path of an entry this output created (for metadata changes). */
  private async existing(path: TreePath): Promise<string> {
    const key = path.join("/");
    if (!this.dirs.has(key) && !this.nodes.has(key)) throw new StrataError("UNSAFE_PATH", `${showPath(path)} was not created by this unpack`, { path: showPath(path) });
    this.checkAncestors(path);
    return path.length ? join(this.temp, ...path) : this.temp;
  }

  /**
   * Every directory above `path` must still be a directory (lstat: symlinks are refused, not
   * followed). Synchronous: these lstats hit cached dentries, and a thread-pool round trip each
   * would cost more than the call.
   */
  private checkAncestors(path: TreePath): void {
    for (let depth = 1; depth < path.length; depth++) {
      const st = lstatSync(join(this.temp, ...path.slice(0, depth)), { throwIfNoEntry: false });
      if (!st?.isDirectory()) throw new StrataError("UNSAFE_PATH", `${showPath(path)}: ${showPath(path.slice(0, depth))} is no longer a directory`, { path: showPath(path) });
    }
  }

  async mkdir(path: TreePath): Promise<void> {
    const { abs, key } = await this.place(path);
    try {
      await mkdir(abs, { mode: 0o700 });
      if (!(await lstat(abs)).isDirectory()) throw new Error("not a directory after mkdir");
    } catch (e) {
      throw io("cannot create directory", showPath(path), e);
    }
    this.dirs.add(key);
  }

  async writeFile(path: TreePath, content: AsyncIterable<Uint8Array>): Promise<number> {
    const { abs, key } = await this.place(path);
    let handle;
    try {
      handle = await open(abs, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
    } catch (e) {
      throw io("cannot create", showPath(path), e);
    }
    this.nodes.add(key);
    let size = 0;
    try {
      for await (const bytes of content) {
        for (let at = 0; at < bytes.length; ) at += (await handle.write(bytes, at, bytes.length - at)).bytesWritten;
        size += bytes.length;
      }
    } finally {
      await handle.close();
    }
    return size;
  }

  async symlink(path: TreePath, target: string): Promise<void> {
    const { abs, key } = await this.place(path);
    await symlink(target, abs).catch((e) => {
      throw io("cannot create symlink", showPath(path), e);
    });
    this.nodes.add(key);
  }

  async link(existing: TreePath, path: TreePath): Promise<void> {
    const from = await this.existing(existing);
    if (this.dirs.has(existing.join("/"))) throw new StrataError("UNSAFE_PATH", `${showPath(path)}: cannot hardlink the directory ${showPath(existing)}`, { path: showPath(path) });
    const { abs, key } = await this.place(path);
    // link(2) without AT_SYMLINK_FOLLOW links a symlink itself, never its target.
    await link(from, abs).catch((e) => {
      throw io("cannot create hardlink", showPath(path), e);
    });
    this.nodes.add(key);
  }

  async mknod(path: TreePath, kind: SpecialKind, major: number, minor: number): Promise<void> {
    const { abs, key } = await this.place(path);
    const args = kind === "fifo" ? [abs, "p"] : [abs, kind === "chardev" ? "c" : "b", String(major), String(minor)];
    await run("mknod", ["-m", "600", ...args]).catch((e) => {
      throw io(`cannot create ${kind}`, showPath(path), e);
    });
    this.nodes.add(key);
  }

  async chown(path: TreePath, uid: number, gid: number): Promise<void> {
    await lchown(await this.existing(path), uid, gid).catch((e) => {
      throw io("cannot chown", showPath(path), e);
    });
  }

  async chmod(path: TreePath, mode: number): Promise<void> {
    const abs = await this.existing(path);
    try {
      if ((await lstat(abs)).isSymbolicLink()) throw new StrataError("UNSAFE_PATH", `${showPath(path)} is a symlink: its mode is not changed`, { path: showPath(path) });
      await chmod(abs, mode);
    } catch (e) {
      if (e instanceof StrataError) throw e;
      throw io("cannot chmod", showPath(path), e);
    }
  }

  async utimes(path: TreePath, seconds: number, nanoseconds: number): Promise<void> {
    // Node takes fractional seconds: a double keeps microseconds exactly for current dates.
    const time = seconds + nanoseconds / 1e9;
    await lutimes(await this.existing(path), time, time).catch((e) => {
      throw io("cannot set times of", showPath(path), e);
    });
  }

  async setXattrs(entries: readonly { path: TreePath; xattrs: ReadonlyMap<string, Uint8Array> }[]): Promise<void> {
    // The getfattr --dump format: "# file: PATH" then NAME=0xHEX lines; PATH relative to the cwd,
    // bytes escaped as \ooo (which setfattr's unquoting reads back).
    let dump = "";
    for (const { path, xattrs } of entries) {
      await this.existing(path);
      dump += `# file: ${path.length ? quote(`./${path.join("/")}`) : "."}\n`;
      for (const [name, value] of xattrs) dump += `${quote(name)}=0x${Buffer.from(value).toString("hex")}\n`;
      dump += "\n";
    }
    const file = join(tmpdir(), `strata-xattrs-${randomBytes(6).toString("hex")}`);
    await writeWhole(file, dump, { mode: 0o600 });
    try {
      await run("setfattr", ["-h", `--restore=${file}`], { cwd: this.temp, maxBuffer: 1 << 20 });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") throw new StrataError("UNSUPPORTED", "restoring xattrs needs setfattr (Debian package attr)", { path: this.dest });
      const stderr = String((e as { stderr?: string }).stderr ?? "").trim();
      throw new StrataError("IO", `cannot set xattrs: ${stderr || (e as Error).message}`, { path: this.dest });
    } finally {
      await rm(file, { force: true });
    }
  }

  async commit(): Promise<void> {
    const existing = await lstat(this.dest).catch(() => undefined);
    const occupied = existing !== undefined && (!existing.isDirectory() || (await readdir(this.dest)).length > 0);
    if (occupied && !(this.replace && existing.isDirectory())) throw new StrataError("INVALID_ARGUMENT", `${this.dest} was filled while unpacking; not replaced`, { path: this.dest });
    try {
      if (occupied) {
        // A non-empty directory cannot be renamed over: move it aside first, remove it after.
        const old = join(dirname(this.dest), `.${basename(this.dest)}.strata-old-${randomBytes(6).toString("hex")}`);
        await rename(this.dest, old);
        await rename(this.temp, this.dest);
        await rm(old, { recursive: true, force: true });
      } else {
        await rename(this.temp, this.dest);
      }
    } catch (e) {
      throw io("cannot move the unpacked tree to", this.dest, e);
    }
  }

  async abort(): Promise<void> {
    await rm(this.temp, { recursive: true, force: true }).catch(() => {});
  }
}

/** Escapes every byte outside a safe set as \ooo. */
function quote(text: string): string {
  let out = "";
  for (const b of Buffer.from(text)) out += /[A-Za-z0-9._\/+@:-]/.test(String.fromCharCode(b)) && b < 0x80 ? String.fromCharCode(b) : `\\${b.toString(8).padStart(3, "0")}`;
  return out;
}
