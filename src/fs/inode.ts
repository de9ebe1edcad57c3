/**
 * The flattened filesystem tree: what the overlay merge builds from OCI layers, what the RAFS
 * writer turns into a bootstrap, and what the RAFS readers return. Hardlinks are one Inode
 * object reached from several directory entries.
 */

/** st_mode type bits (S_IFMT). */
export const S_IFMT = 0o170000;
export const S_IFSOCK = 0o140000;
export const S_IFLNK = 0o120000;
export const S_IFREG = 0o100000;
export const S_IFBLK = 0o060000;
export const S_IFDIR = 0o040000;
export const S_IFCHR = 0o020000;
export const S_IFIFO = 0o010000;

export type InodeKind = "file" | "dir" | "symlink" | "chardev" | "blockdev" | "fifo" | "socket";

const KIND_BY_IFMT: Record<number, InodeKind> = {
  [S_IFREG]: "file",
  [S_IFDIR]: "dir",
  [S_IFLNK]: "symlink",
  [S_IFCHR]: "chardev",
  [S_IFBLK]: "blockdev",
  [S_IFIFO]: "fifo",
  [S_IFSOCK]: "socket",
};

export function kindOf(mode: number): InodeKind | undefined {
  return KIND_BY_IFMT[mode & S_IFMT];
}

/** Where a regular file's bytes live in an OCI source: a byte range of a layer's uncompressed tar. */
export interface LayerDataRef {
  layer: number;
  offset: number;
}

export interface Inode {
  /** Full st_mode: type bits | setuid/setgid/sticky | permissions. */
  mode: number;
  uid: number;
  gid: number;
  /** Seconds since the epoch and the nanoseconds part. */
  mtime: number;
  mtimeNsec: number;
  /** Regular files: content length. Symlinks: target length in bytes. Others: 0. */
  size: number;
  /** Char and block devices: Linux dev_t as (major << 8) | minor, extended as makedev does. */
  rdev: number;
  /** Symlinks only. */
  target?: string;
  /** Extended attributes, name → value. */
  xattrs: Map<string, Uint8Array>;
  /** Directories only: name → child. Names never contain '/' or NUL and are never '.' or '..'. */
  entries?: Map<string, Inode>;
  /** Regular files from an OCI source: where to stream the content from. */
  data?: LayerDataRef;
}

export function makedev(major: number, minor: number): number {
  // Linux's new_encode_dev: minor low 8 bits, major 12 bits, minor high bits above.
  return ((minor & 0xff) | ((major & 0xfff) << 8) | ((minor & ~0xff) << 12)) >>> 0;
}

export function devMajor(rdev: number): number {
  return (rdev >>> 8) & 0xfff;
}

export function devMinor(rdev: number): number {
  return (rdev & 0xff) | ((rdev >>> 12) & 0xfff00);
}

/** Visits every (path, inode) in depth-first order with entries sorted by name bytes. */
export function* walk(root: Inode, prefix = ""): Generator<[string, Inode]> {
  yield [prefix === "" ? "/" : prefix, root];
  if (!root.entries) return;
  const names = [...root.entries.keys()].sort(compareNames);
  for (const name of names) {
    const child = root.entries.get(name)!;
    const path = `${prefix}/${name}`;
    if (child.entries) yield* walk(child, path);
    else yield [path, child];
  }
}

const utf8 = new TextEncoder();
/** Byte-wise comparison of UTF-8 names, the order EROFS directories use. */
export function compareNames(a: string, b: string): number {
  if (a === b) return 0;
  const x = utf8.encode(a);
  const y = utf8.encode(b);
  const n = Math.min(x.length, y.length);
  for (let i = 0; i < n; i++) if (x[i] !== y[i]) return x[i]! - y[i]!;
  return x.length - y.length;
}
