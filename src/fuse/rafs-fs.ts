/**
 * A RAFS tree as a ReadOnlyFs: node ids are assigned once by walking the bootstrap (the root is
 * FUSE_ROOT_ID), st_ino is the inode's RAFS v6 nid (v5: its inode number), and file content
 * comes from a FileContent that hands out verified bytes only.
 */
import { StrataError } from "../errors.js";
import { S_IFDIR, S_IFLNK, S_IFMT, S_IFREG } from "../fs/inode.js";
import type { RafsImage, RafsInode } from "../rafs/types.js";
import type { DirEntry, ReadOnlyFs } from "./fs.js";
import type { Attr } from "./protocol.js";

/**
 * Where file bytes come from: bytes [offset, offset + length) of a regular file, clamped to its
 * end, every chunk checked against its digest first (LazyImage.readInode), so a bad chunk can only
 * ever be an error.
 */
export interface FileContent {
  readInode(inode: RafsInode, path: string, offset: number, length: number): Promise<Uint8Array>;
}

interface Node {
  inode: RafsInode;
  path: string;
  parent: number;
  attr: Attr;
  entries?: DirEntry[];
  byName?: Map<string, number>;
}

const utf8 = new TextEncoder();

export function rafsFs(image: RafsImage, content: FileContent): ReadOnlyFs {
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
      return content.readInode(inode, path, offset, size);
    },
  };
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
