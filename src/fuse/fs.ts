/**
 * The read-only file system a FUSE session serves: node ids (FUSE_ROOT_ID for the root),
 * metadata answered from memory, and file content read asynchronously. The RAFS tree is one
 * implementation (rafs-fs.ts); the session does not know where bytes come from.
 */
import type { Attr } from "./protocol.js";

export interface DirEntry {
  name: string;
  node: number;
}

export interface ReadOnlyFs {
  /** The child `name` of directory `parent`, or undefined. */
  lookup(parent: number, name: string): number | undefined;
  /** undefined for a node id the file system never handed out. */
  getattr(node: number): Attr | undefined;
  /** A directory's entries in a stable order (not "." or ".."). */
  readdir(node: number): readonly DirEntry[];
  /** A directory's parent (the root is its own parent). */
  parent(node: number): number;
  /** A symlink's target bytes. */
  readlink(node: number): Uint8Array;
  /** Up to `size` bytes of a regular file at `offset` (fewer only at the end); rejects when the content cannot be read verified. */
  read(node: number, offset: number, size: number): Promise<Uint8Array>;
  xattrs(node: number): ReadonlyMap<string, Uint8Array>;
  statfs(): { blocks: number; files: number };
}
