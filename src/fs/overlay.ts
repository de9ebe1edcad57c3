/**
 * The overlay merge: applies OCI layer tar entries in order to one inode tree, as an unpacker
 * writing them to disk would, but without touching a disk. Regular files record where their bytes
 * live ({layer, offset} in that layer's uncompressed tar) instead of holding them.
 *
 * Whiteouts follow the OCI image spec: `.wh.NAME` hides NAME from lower layers and `.wh..wh..opq`
 * hides all lower-layer entries of its directory; neither hides what its own layer adds, whatever
 * the order inside the layer. A whiteout for a path that does not exist is ignored, as containerd
 * and umoci do (both remove with RemoveAll semantics). Symlinks met in a parent path are followed
 * inside the root, as containerd's and umoci's root-confined joins do.
 */
import { StrataError } from "../errors.js";
import type { TarEntry, TarHeader } from "../tar/reader.js";
import { S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFREG, makedev, type Inode } from "./inode.js";
import { childPath, pathComponents } from "./path.js";

const WHITEOUT = ".wh.";
const OPAQUE = ".wh..wh..opq";
/** `.wh..wh.*` names other than the opaque marker are AUFS bookkeeping: never part of the tree. */
const WHITEOUT_META = ".wh..wh.";
/** Linux's limit on symlinks followed while resolving one path. */
const MAX_SYMLINKS = 40;

const utf8 = new TextEncoder();

const IFMT_BY_TYPE = {
  file: S_IFREG,
  dir: S_IFDIR,
  symlink: S_IFLNK,
  chardev: S_IFCHR,
  blockdev: S_IFBLK,
  fifo: S_IFIFO,
} as const;

export function newDirectory(mode = 0o755): Inode {
  return { mode: S_IFDIR | mode, uid: 0, gid: 0, mtime: 0, mtimeNsec: 0, size: 0, rdev: 0, xattrs: new Map(), entries: new Map() };
}

interface Located {
  dir: Inode;
  /** Canonical path of `dir` (symlinks resolved). */
  path: string;
}

export class Overlay {
  readonly root: Inode = newDirectory();
  private layer = -1;
  /** Canonical paths this layer created or entered: whiteouts in the same layer leave them. */
  private touched = new Set<string>();

  /** Starts layer `index` (layers are applied lowest first). */
  beginLayer(index: number): void {
    this.layer = index;
    this.touched.clear();
  }

  /**
   * Applies every entry of one layer. `onFile` sees each regular file whose body is still
   * unread (to hash or copy it); the overlay itself never reads bodies.
   */
  async applyLayer(index: number, entries: AsyncIterable<TarEntry>, onFile?: (inode: Inode, entry: TarEntry) => Promise<void> | void): Promise<void> {
    this.beginLayer(index);
    for await (const entry of entries) {
      const inode = this.apply(entry);
      if (inode && onFile) await onFile(inode, entry);
    }
  }

  /** Applies one entry of the current layer. Returns the new inode of a regular file, if one was made. */
  apply(entry: TarHeader): Inode | undefined {
    if (this.layer < 0) throw new StrataError("INVALID_ARGUMENT", "Overlay.apply called before beginLayer");
    const parts = pathComponents(entry.path, `tar entry in layer ${this.layer}`);
    if (parts.length === 0) {
      if (entry.type !== "dir") throw this.corrupt(entry, "the image root must be a directory");
      this.updateDirectory(this.root, entry);
      return undefined;
    }
    const name = parts[parts.length - 1]!;
    const parentParts = parts.slice(0, -1);

    if (name.startsWith(WHITEOUT)) {
      if (name === OPAQUE) {
        const at = this.resolveDirectory(parentParts, true, entry)!;
        this.touch(at.path);
        this.hideLower(at.dir, at.path);
      } else if (!name.startsWith(WHITEOUT_META)) {
        const hidden = name.slice(WHITEOUT.length);
        if (hidden === "." || hidden === "..") throw this.corrupt(entry, `whiteout names ${JSON.stringify(hidden)}`);
        const at = this.resolveDirectory(parentParts, false, entry);
        if (at) this.whiteout(at, hidden);
      }
      return undefined;
    }

    const at = this.resolveDirectory(parentParts, true, entry)!;
    const entries = at.dir.entries!;
    const path = childPath(at.path, name);
    this.touch(path);
    const existing = entries.get(name);

    switch (entry.type) {
      case "dir":
        if (existing?.entries) this.updateDirectory(existing, entry);
        else entries.set(name, this.updateDirectory(newDirectory(), entry));
        return undefined;
      case "hardlink": {
        // Extractors remove what is at the path before linking, so a target inside (or equal to)
        // the replaced entry is gone, as umoci and containerd find it.
        entries.delete(name);
        const target = this.lookup(pathComponents(entry.linkname, `hardlink target of ${entry.path}`), entry);
        if (!target) {
          throw new StrataError("NOT_FOUND", `hardlink ${entry.path} in layer ${this.layer} points to missing ${entry.linkname}`, {
            layer: this.layer,
            path: entry.path,
            target: entry.linkname,
          });
        }
        if (target.entries) throw this.corrupt(entry, `hardlink target ${entry.linkname} is a directory`);
        entries.set(name, target);
        return undefined;
      }
      default: {
        const inode = this.leaf(entry);
        entries.set(name, inode);
        return entry.type === "file" ? inode : undefined;
      }
    }
  }

  private leaf(entry: TarHeader): Inode {
    const type = entry.type as Exclude<TarHeader["type"], "dir" | "hardlink">;
    const inode: Inode = {
      mode: IFMT_BY_TYPE[type] | entry.mode,
      uid: entry.uid,
      gid: entry.gid,
      mtime: entry.mtime,
      mtimeNsec: entry.mtimeNsec,
      size: 0,
      rdev: 0,
      xattrs: new Map(entry.xattrs),
    };
    if (type === "file") {
      inode.size = entry.size;
      inode.data = { layer: this.layer, offset: entry.offset };
    } else if (type === "symlink") {
      inode.target = entry.linkname;
      inode.size = utf8.encode(entry.linkname).length;
    } else if (type === "chardev" || type === "blockdev") {
      inode.rdev = makedev(entry.devmajor, entry.devminor);
    }
    return inode;
  }

  private updateDirectory(dir: Inode, entry: TarHeader): Inode {
    dir.mode = S_IFDIR | entry.mode;
    dir.uid = entry.uid;
    dir.gid = entry.gid;
    dir.mtime = entry.mtime;
    dir.mtimeNsec = entry.mtimeNsec;
    dir.xattrs = new Map(entry.xattrs);
    return dir;
  }

  /** `.wh.NAME`: removes NAME unless this layer made it; of a directory this layer entered, only the lower part goes. */
  private whiteout(at: Located, name: string): void {
    const victim = at.dir.entries!.get(name);
    if (!victim) return;
    const path = childPath(at.path, name);
    if (!this.touched.has(path)) at.dir.entries!.delete(name);
    else if (victim.entries) this.hideLower(victim, path);
  }

  /** Removes every entry below `dir` that the current layer did not create or enter. */
  private hideLower(dir: Inode, path: string): void {
    for (const [name, child] of dir.entries!) {
      const p = childPath(path, name);
      if (!this.touched.has(p)) dir.entries!.delete(name);
      else if (child.entries) this.hideLower(child, p);
    }
  }

  private touch(path: string): void {
    while (path !== "/" && !this.touched.has(path)) {
      this.touched.add(path);
      path = path.slice(0, Math.max(1, path.lastIndexOf("/")));
    }
  }

  /** The inode at `parts` (its own last component not followed), or undefined. */
  private lookup(parts: string[], entry: TarHeader): Inode | undefined {
    if (parts.length === 0) return this.root;
    const at = this.resolveDirectory(parts.slice(0, -1), false, entry);
    return at?.dir.entries!.get(parts[parts.length - 1]!);
  }

  /**
   * Walks to the directory at `parts`, following symlinks inside the root. Missing directories
   * are created (umoci's diff layers omit unchanged parents) when `create`, else undefined.
   */
  private resolveDirectory(parts: string[], create: boolean, entry: TarHeader): Located | undefined {
    const stack: [string, Inode][] = [];
    const queue = [...parts];
    let hops = 0;
    const current = () => (stack.length ? stack[stack.length - 1]![1] : this.root);
    const currentPath = () => `/${stack.map(([n]) => n).join("/")}`;
    while (queue.length) {
      const part = queue.shift()!;
      if (part === "" || part === ".") continue;
      if (part === "..") {
        stack.pop(); // ".." at the root stays at the root, as in a chroot.
        continue;
      }
      const dir = current();
      let child = dir.entries!.get(part);
      if (!child) {
        if (!create) return undefined;
        child = newDirectory();
        // As mkdir does on Linux (and so umoci and containerd): a setgid parent passes on its group and the bit.
        if (dir.mode & 0o2000) {
          child.mode |= 0o2000;
          child.gid = dir.gid;
        }
        dir.entries!.set(part, child);
        this.touch(childPath(currentPath(), part));
      }
      if (child.target !== undefined) {
        if (++hops > MAX_SYMLINKS) throw this.corrupt(entry, "too many levels of symbolic links in its parent path");
        if (child.target.startsWith("/")) stack.length = 0;
        queue.unshift(...child.target.split("/"));
        continue;
      }
      if (!child.entries) {
        // Nothing can exist below a file: a whiteout there has nothing to remove (umoci agrees).
        if (!create) return undefined;
        throw this.corrupt(entry, `${childPath(currentPath(), part)} is not a directory`);
      }
      stack.push([part, child]);
    }
    return { dir: current(), path: currentPath() };
  }

  private corrupt(entry: TarHeader, why: string): StrataError {
    return new StrataError("TAR_CORRUPT", `layer ${this.layer}: tar entry ${entry.path}: ${why}`, { layer: this.layer, path: entry.path, offset: entry.headerOffset });
  }
}
