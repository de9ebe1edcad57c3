/**
 * The unpack plan: every path of a flattened tree, validated before anything is written. Names
 * must be usable as one directory entry (no "/", NUL, "." or ".."; not empty), directories must
 * be reached once (no hardlinked directories, no cycles), and only directories may have children
 * (a symlink with entries would be a path through a symlink).
 */
import { StrataError } from "../errors.js";
import { compareNames, kindOf, type Inode, type InodeKind } from "../fs/inode.js";

export interface PlannedEntry {
  /** Names from the root; [] is the root itself. */
  path: string[];
  inode: Inode;
  kind: InodeKind;
  /** Non-directories reached again (hardlinks): the first path of the same inode. */
  linkOf?: string[];
}

/** "/a/b" for messages. */
export function showPath(path: readonly string[]): string {
  return `/${path.join("/")}`;
}

/** Why `name` cannot be one directory entry, or undefined when it can. */
export function unsafeName(name: string): string | undefined {
  if (name === "") return "is empty";
  if (name === "." || name === "..") return `is '${name}'`;
  if (name.includes("/")) return "contains '/'";
  if (name.includes("\0")) return "contains NUL";
  return undefined;
}

/** The entries of `root` in depth-first order, children sorted by name bytes. */
export function planTree(root: Inode): PlannedEntry[] {
  if (kindOf(root.mode) !== "dir") throw new StrataError("UNSAFE_PATH", `the root is not a directory (mode 0o${root.mode.toString(8)})`, { path: "/" });
  const out: PlannedEntry[] = [];
  const firstPath = new Map<Inode, string[]>();
  const stack: { path: string[]; inode: Inode }[] = [{ path: [], inode: root }];
  while (stack.length) {
    const { path, inode } = stack.pop()!;
    const kind = kindOf(inode.mode);
    if (!kind) throw new StrataError("UNSUPPORTED", `${showPath(path)} has mode 0o${inode.mode.toString(8)} with no file type`, { path: showPath(path) });
    const first = firstPath.get(inode);
    if (first && kind === "dir") {
      throw new StrataError("UNSAFE_PATH", `directory ${showPath(first)} is reached again at ${showPath(path)} (hardlinked directory or cycle)`, { path: showPath(path) });
    }
    if (kind !== "dir" && inode.entries?.size) {
      throw new StrataError("UNSAFE_PATH", `${showPath(path)} is a ${kind} with entries below it: they would be written through it`, { path: showPath(path) });
    }
    if (kind === "symlink" && inode.target === undefined) throw new StrataError("UNSUPPORTED", `symlink ${showPath(path)} has no target`, { path: showPath(path) });
    if (first) {
      out.push({ path, inode, kind, linkOf: first });
      continue;
    }
    firstPath.set(inode, path);
    out.push({ path, inode, kind });
    if (kind !== "dir" || !inode.entries) continue;
    const names = [...inode.entries.keys()].sort(compareNames);
    for (const name of names) {
      const why = unsafeName(name);
      if (why) throw new StrataError("UNSAFE_PATH", `an entry of ${showPath(path)} ${why}: ${JSON.stringify(name)}`, { path: showPath(path), name });
    }
    // Reversed onto the stack so that they come off in name order.
    for (let i = names.length - 1; i >= 0; i--) stack.push({ path: [...path, names[i]!], inode: inode.entries.get(names[i]!)! });
  }
  return out;
}
