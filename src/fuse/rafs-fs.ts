/**
 * A RAFS tree as a ReadOnlyFs: node ids are assigned once by walking the bootstrap (the root is
 * FUSE_ROOT_ID), st_ino is the inode's RAFS v6 nid (v5: its inode number), and file content
 * comes chunk by chunk from a ChunkSource that hands out verified bytes only.
 */
import { StrataError } from "../errors.js";
import { S_IFDIR, S_IFLNK, S_IFMT, S_IFREG } from "../fs/inode.js";
import type { ChunkInfo, RafsImage, RafsInode } from "../rafs/types.js";
import type { DirEntry, ReadOnlyFs } from "./fs.js";
import type { Attr } from "./protocol.js";

/**
 * One chunk's uncompressed bytes, already checked against its digest: the only way content
 * reaches the file system, so a bad chunk can only ever be an error.
 */
export type ChunkSource = (chunk: ChunkInfo, where: { path: string; chunk: number }) => Promise<Uint8Array>;

interface Node {
  inode: RafsInode;
  path: string;
  parent: number;
  attr: Attr;
  entries?: DirEntry[];
  byName?: Map<string, number>;
}

const utf8 = new TextEncoder();

export function rafsFs(image: RafsImage, chunks: ChunkSource): ReadOnlyFs {
  const nodes = indexTree(image);
  const get = (node: number): Node => {
    const n = nodes[node];
    if (!n) throw new StrataError("NOT_FOUND", `no node ${node} in the mounted image`, { node });
    return n;
  };
  let totalBytes = 0;
  for (const n of nodes) if (n) totalBytes += n.attr.size;

  return {
    lookup: (parent, name) => get(parent).byName?.get(name),
    getattr: (node) => nodes[node]?.attr,
    readdir: (node) => get(node).entries ?? [],
    parent: (node) => get(node).parent,
    readlink: (node) => utf8.encode(get(node).inode.target ?? ""),
    xattrs: (node) => get(node).inode.xattrs,
    statfs: () => ({ blocks: Math.ceil(totalBytes / 4096), files: nodes.length - 1 }),
    async read(node, offset, size) {
      const { inode, path } = get(node);
      if ((inode.mode & S_IFMT) !== S_IFREG) throw new StrataError("INVALID_ARGUMENT", `${path} is not a regular file`, { path });
      const end = Math.min(inode.size, offset + size);
      if (offset >= end) return new Uint8Array(0);
      const out = new Uint8Array(end - offset); // holes (v5 sparse files) stay zero
      const list = inode.chunks ?? [];
      const touched: Promise<void>[] = [];
      for (let i = firstChunkEndingAfter(list, offset); i < list.length && list[i]!.fileOffset < end; i++) {
        const chunk = list[i]!;
        touched.push(
          chunks(chunk, { path, chunk: i }).then((data) => {
            if (data.length !== chunk.uncompressedSize) throw new StrataError("BAD_BOOTSTRAP", `${path}: chunk ${i} has ${data.length} bytes, not ${chunk.uncompressedSize}`, { path, chunk: i });
            const from = Math.max(offset, chunk.fileOffset);
            const to = Math.min(end, chunk.fileOffset + data.length);
            out.set(data.subarray(from - chunk.fileOffset, to - chunk.fileOffset), from - offset);
          }),
        );
      }
      await Promise.all(touched);
      return out;
    },
  };
}

/** Chunks are in file order: the first whose end lies past `offset`, by binary search. */
function firstChunkEndingAfter(list: readonly ChunkInfo[], offset: number): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const c = list[mid]!;
    if (c.fileOffset + c.uncompressedSize <= offset) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Node ids by walking the tree: index 0 unused, 1 the root; a hardlinked inode gets one id. */
function indexTree(image: RafsImage): (Node | undefined)[] {
  const nodes: (Node | undefined)[] = [undefined];
  const ids = new Map<RafsInode, number>();
  const links = new Map<number, number>();
  const add = (inode: RafsInode, path: string, parent: number): number => {
    const known = ids.get(inode);
    if (known !== undefined) {
      links.set(known, (links.get(known) ?? 1) + 1);
      return known;
    }
    const id = nodes.length;
    ids.set(inode, id);
    nodes.push({ inode, path, parent: parent || id, attr: attrOf(inode) });
    return id;
  };
  const pending: number[] = [add(image.root, "/", 0)];
  while (pending.length > 0) {
    const id = pending.pop()!;
    const node = nodes[id]!;
    const children = node.inode.entries;
    if (!children) continue;
    node.entries = [];
    node.byName = new Map();
    let subdirs = 0;
    for (const [name, child] of children) {
      const childId = add(child, node.path === "/" ? `/${name}` : `${node.path}/${name}`, id);
      node.entries.push({ name, node: childId });
      node.byName.set(name, childId);
      if (child.entries) {
        subdirs++;
        pending.push(childId);
      }
    }
    node.attr.nlink = 2 + subdirs;
  }
  for (const [id, count] of links) nodes[id]!.attr.nlink = count;
  return nodes;
}

function attrOf(inode: RafsInode): Attr {
  const type = inode.mode & S_IFMT;
  const size = type === S_IFREG ? inode.size : type === S_IFLNK ? utf8.encode(inode.target ?? "").length : type === S_IFDIR ? 4096 : 0;
  return {
    ino: inode.nid ?? inode.ino ?? 0,
    size,
    blocks: type === S_IFREG ? Math.ceil(size / 512) : 0,
    mtime: inode.mtime,
    mtimeNsec: inode.mtimeNsec,
    mode: inode.mode,
    nlink: 1,
    uid: inode.uid,
    gid: inode.gid,
    rdev: inode.rdev,
  };
}
