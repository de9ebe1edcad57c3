/**
 * The flattened-tree listing of `strata inspect SRC --json`: one row per path with its type,
 * metadata and the SHA-256 of regular file content, hashed while the layers stream (files are
 * never held in memory).
 */
import { kindOf, walk, devMajor, devMinor, type Inode, type InodeKind } from "../fs/inode.js";
import type { OciKernels } from "./decompress.js";
import { flatten } from "./flatten.js";
import type { Image } from "./types.js";
import { hex } from "./verify.js";

export interface InspectEntry {
  /** "/" for the root, else "/a/b". */
  path: string;
  type: InodeKind;
  /** Permission bits with setuid/setgid/sticky (no type bits). */
  mode: number;
  uid: number;
  gid: number;
  /** Regular files: content bytes; symlinks: target bytes; others 0. */
  size: number;
  mtime: number;
  /** Regular files: hex SHA-256 of the content. */
  sha256?: string;
  /** Symlinks: the target. */
  target?: string;
  /** Hardlinked files after the first: the path they share an inode with. */
  linkTo?: string;
  /** Character and block devices. */
  major?: number;
  minor?: number;
  /** Extended attributes, values in base64. */
  xattrs?: Record<string, string>;
}

export async function inspectImage(image: Image, kernels: Pick<OciKernels, "sha256">): Promise<InspectEntry[]> {
  const hasher = await kernels.sha256();
  const digests = new Map<Inode, string>();
  const root = await flatten(image, {
    async onFile(inode, entry) {
      hasher.init();
      for await (const bytes of entry.body()) hasher.update(bytes);
      digests.set(inode, hex(hasher.final()));
    },
  });
  return listTree(root, digests);
}

function base64(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}

/** Rows for every path of a tree, in walk order; `digests` gives file content hashes. */
export function listTree(root: Inode, digests: ReadonlyMap<Inode, string>): InspectEntry[] {
  const firstPath = new Map<Inode, string>();
  const rows: InspectEntry[] = [];
  for (const [path, inode] of walk(root)) {
    const type = kindOf(inode.mode)!;
    const row: InspectEntry = { path, type, mode: inode.mode & 0o7777, uid: inode.uid, gid: inode.gid, size: inode.size, mtime: inode.mtime };
    if (type === "file") {
      const sha = digests.get(inode);
      if (sha !== undefined) row.sha256 = sha;
      const first = firstPath.get(inode);
      if (first === undefined) firstPath.set(inode, path);
      else row.linkTo = first;
    }
    if (inode.target !== undefined) row.target = inode.target;
    if (type === "chardev" || type === "blockdev") {
      row.major = devMajor(inode.rdev);
      row.minor = devMinor(inode.rdev);
    }
    if (inode.xattrs.size) row.xattrs = Object.fromEntries([...inode.xattrs].map(([k, v]) => [k, base64(v)]));
    rows.push(row);
  }
  return rows;
}
