// diff as a property: random trees, randomly mutated, compared through an in-memory TreeReadPort.
// diffTree, which sees only the image's chunk digests, must agree with a plain oracle that
// compares the two trees byte for byte; quick mode must agree with the oracle minus same-size
// content edits.
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { diffTree, type DiffImage } from "../../src/diff/diff.js";
import { isStrataError } from "../../src/errors.js";
import { S_IFDIR, S_IFLNK, S_IFREG } from "../../src/fs/inode.js";
import type { Hasher } from "../../src/kernels/kernel.js";
import type { TreeReadPort, TreeStat } from "../../src/ports.js";
import type { ChunkInfo, RafsInode } from "../../src/rafs/types.js";
import { rafsKernels } from "../helpers/rafs-kernels.js";

interface Node {
  kind: "file" | "dir" | "symlink";
  perm: number;
  uid: number;
  gid: number;
  data?: Uint8Array;
  target?: string;
  xattrs: Map<string, Uint8Array>;
  children?: Map<string, Node>;
}

const CHUNK = 8;
const TYPE = { file: S_IFREG, dir: S_IFDIR, symlink: S_IFLNK } as const;

function clone(n: Node): Node {
  return { ...n, data: n.data?.slice(), xattrs: new Map(n.xattrs), children: n.children && new Map([...n.children].map(([k, v]) => [k, clone(v)])) };
}

/** The image side: the model as a RAFS tree whose files carry chunk digests (CHUNK bytes each). */
function toRafs(n: Node, hasher: Hasher): RafsInode {
  const inode: RafsInode = { mode: TYPE[n.kind] | n.perm, uid: n.uid, gid: n.gid, mtime: 0, mtimeNsec: 0, size: 0, rdev: 0, xattrs: new Map(n.xattrs) };
  if (n.kind === "file") {
    inode.size = n.data!.length;
    inode.chunks = [];
    for (let at = 0; at < n.data!.length; at += CHUNK) {
      const piece = n.data!.subarray(at, at + CHUNK);
      inode.chunks.push({ digest: hasher.digest(piece), fileOffset: at, uncompressedSize: piece.length } as ChunkInfo);
    }
  }
  if (n.kind === "symlink") {
    inode.target = n.target;
    inode.size = n.target!.length;
  }
  if (n.children) inode.entries = new Map([...n.children].map(([k, v]) => [k, toRafs(v, hasher)]));
  return inode;
}

/** The disk side: the model behind a TreeReadPort rooted at /root. */
function memoryTree(root: Node): TreeReadPort {
  const ids = new Map<Node, number>();
  const find = (path: string): Node | undefined => {
    if (path !== "/root" && !path.startsWith("/root/")) return undefined;
    let node: Node | undefined = root;
    for (const name of path.slice(5).split("/").filter(Boolean)) node = node?.children?.get(name);
    return node;
  };
  const stat = (n: Node): TreeStat => {
    if (!ids.has(n)) ids.set(n, ids.size);
    return { mode: TYPE[n.kind] | (n.kind === "symlink" ? 0o777 : n.perm), uid: n.uid, gid: n.gid, size: n.kind === "file" ? n.data!.length : n.kind === "symlink" ? n.target!.length : 4096, rdev: 0, nlink: 1, id: `m:${ids.get(n)}` };
  };
  const xattrs = new Map<string, Map<string, Uint8Array>>();
  const collect = (n: Node, path: string) => {
    if (n.xattrs.size) xattrs.set(path, n.xattrs);
    for (const [k, v] of n.children ?? []) collect(v, `${path}/${k}`);
  };
  collect(root, "/root");
  return {
    lstat: async (path) => {
      const n = find(path);
      return n && stat(n);
    },
    list: async (dir) => [...find(dir)!.children!].map(([name, n]) => ({ name, stat: stat(n) })),
    readlink: async (path) => find(path)!.target!,
    async *read(path) {
      // Uneven pieces, so chunks straddle them.
      const data = find(path)!.data!;
      for (let at = 0; at < data.length; at += 5) yield data.slice(at, at + 5);
    },
    xattrs: async () => xattrs,
  };
}

/** What diff should say, from the models themselves, byte for byte. */
function oracle(image: Node, disk: Node, quick: boolean): string[] {
  const out: string[] = [];
  const all = (n: Node, path: string, change: string) => {
    out.push(`${change} ${path}`);
    for (const [k, v] of n.children ?? []) all(v, `${path}/${k}`, change);
  };
  const visit = (a: Node, b: Node, path: string) => {
    const fields: string[] = [];
    if (a.kind !== b.kind) fields.push("type");
    else {
      if (a.kind !== "symlink" && a.perm !== b.perm) fields.push("mode");
      if (a.kind === "file" && a.data!.length !== b.data!.length) fields.push("size");
      if (a.kind === "symlink" && a.target !== b.target) fields.push("target");
    }
    if (a.uid !== b.uid) fields.push("uid");
    if (a.gid !== b.gid) fields.push("gid");
    const sameX = a.xattrs.size === b.xattrs.size && [...a.xattrs].every(([k, v]) => b.xattrs.get(k)?.join() === v.join());
    if (!sameX) fields.push("xattrs");
    if (a.kind === "file" && b.kind === "file") {
      const sizeDiffers = a.data!.length !== b.data!.length;
      if (sizeDiffers || (!quick && a.data!.join() !== b.data!.join())) fields.push("content");
    }
    if (fields.length) out.push(`${fields.includes("content") ? "modified" : "changed"} ${path} ${fields.sort().join(",")}`);
    const names = new Set([...(a.kind === "dir" ? a.children!.keys() : []), ...(b.kind === "dir" ? b.children!.keys() : [])]);
    for (const name of names) {
      const child = `${path === "/" ? "" : path}/${name}`;
      const x = a.kind === "dir" ? a.children!.get(name) : undefined;
      const y = b.kind === "dir" ? b.children!.get(name) : undefined;
      if (x && y) visit(x, y, child);
      else if (x) all(x, child, "removed");
      else all(y!, child, "added");
    }
  };
  visit(image, disk, "/");
  return out.sort();
}

const bytes = fc.uint8Array({ minLength: 0, maxLength: 40 });
const meta = { perm: fc.constantFrom(0o644, 0o755, 0o4755, 0o600), uid: fc.constantFrom(0, 1000), gid: fc.constantFrom(0, 100) };
const xattrMap = fc.array(fc.tuple(fc.constantFrom("user.a", "user.b", "security.capability"), fc.uint8Array({ maxLength: 3 })), { maxLength: 2 }).map((l) => new Map(l));
const name = fc.constantFrom("a", "b", "c", "d", "é", "a b", "Z");
const leaf: fc.Arbitrary<Node> = fc.oneof(
  fc.record({ kind: fc.constant("file" as const), ...meta, data: bytes, xattrs: xattrMap }),
  fc.record({ kind: fc.constant("symlink" as const), ...meta, target: fc.constantFrom("x", "../y", "/abs/z"), xattrs: fc.constant(new Map()) }),
);
const { tree } = fc.letrec<{ tree: Node; node: Node }>((tie) => ({
  node: fc.oneof({ depthSize: "small", withCrossShrink: true }, leaf, tie("tree")),
  tree: fc.record({
    kind: fc.constant("dir" as const),
    ...meta,
    xattrs: xattrMap,
    children: fc.array(fc.tuple(name, tie("node")), { maxLength: 4 }).map((l) => new Map(l)),
  }),
}));

type Op = { op: "flip" | "append" | "remove" | "add" | "chmod" | "chown" | "retarget" | "xattr" | "retype"; pick: number; value: number };
const ops = fc.array(
  fc.record({ op: fc.constantFrom("flip", "append", "remove", "add", "chmod", "chown", "retarget", "xattr", "retype"), pick: fc.nat(), value: fc.nat(255) }) as fc.Arbitrary<Op>,
  { maxLength: 6 },
);

function mutate(root: Node, list: Op[]): void {
  for (const { op, pick, value } of list) {
    const entries: [Node, string, Node][] = [];
    const visit = (dir: Node) => {
      for (const [k, v] of dir.children!) {
        entries.push([dir, k, v]);
        if (v.kind === "dir") visit(v);
      }
    };
    visit(root);
    const dirs = [root, ...entries.map((e) => e[2]).filter((n) => n.kind === "dir")];
    if (op === "add") {
      dirs[pick % dirs.length]!.children!.set(`new${value}`, { kind: "file", perm: 0o644, uid: 0, gid: 0, data: new Uint8Array([value]), xattrs: new Map() });
      continue;
    }
    if (entries.length === 0) continue;
    const [parent, key, node] = entries[pick % entries.length]!;
    switch (op) {
      case "flip":
        if (node.kind === "file" && node.data!.length) node.data![value % node.data!.length] ^= 1;
        break;
      case "append":
        if (node.kind === "file") node.data = new Uint8Array([...node.data!, value]);
        break;
      case "remove":
        parent.children!.delete(key);
        break;
      case "chmod":
        node.perm ^= 0o010;
        break;
      case "chown":
        node.uid += 1;
        break;
      case "retarget":
        if (node.kind === "symlink") node.target += "x";
        break;
      case "xattr":
        node.xattrs.set("user.added", new Uint8Array([value]));
        break;
      case "retype":
        parent.children!.set(key, node.kind === "dir" ? { ...node, kind: "file", data: new Uint8Array(0), children: undefined } : { ...node, kind: "dir", data: undefined, target: undefined, children: new Map() });
        break;
    }
  }
}

let hasher: Hasher;
beforeAll(async () => {
  hasher = (await rafsKernels()).hasher("blake3");
});

describe("diffTree against a byte-for-byte oracle", () => {
  it("full and quick mode agree with the oracle on random trees and random edits", async () => {
    let changed = 0;
    let sameSizeEdits = 0;
    await fc.assert(
      fc.asyncProperty(tree, ops, async (original, edits) => {
        const disk = clone(original);
        mutate(disk, edits);
        const image: DiffImage = { root: toRafs(original, hasher), hasher };
        const port = memoryTree(disk);
        for (const quick of [false, true]) {
          const report = await diffTree(port, "/root", image, { quick });
          const got = report.differences.map((d) => `${d.change} ${d.path}${d.fields.length ? ` ${[...d.fields].sort().join(",")}` : ""}`).sort();
          expect(got).toEqual(oracle(original, disk, quick));
          expect(report.identical).toBe(got.length === 0);
          if (!quick && got.length) changed++;
          if (quick && got.length < oracle(original, disk, false).length) sameSizeEdits++;
        }
        // The untouched tree is identical.
        expect((await diffTree(memoryTree(original), "/root", image)).differences).toEqual([]);
      }),
      { numRuns: 300 },
    );
    // The generators reach the interesting cases.
    expect(changed).toBeGreaterThan(100);
    expect(sameSizeEdits).toBeGreaterThan(0);
  });

  it("a chunk list that does not tile the file is a content difference, not a crash", async () => {
    const node: Node = { kind: "dir", perm: 0o755, uid: 0, gid: 0, xattrs: new Map(), children: new Map([["f", { kind: "file", perm: 0o644, uid: 0, gid: 0, data: new Uint8Array(20).fill(1), xattrs: new Map() }]]) };
    const root = toRafs(node, hasher);
    const file = root.entries!.get("f")!;
    file.chunks = [file.chunks![0]!, file.chunks![2]!];
    const report = await diffTree(memoryTree(node), "/root", { root, hasher });
    expect(report.differences).toMatchObject([{ path: "/f", change: "modified", fields: ["content"], chunks: [1] }]);
    // Chunks that stop short of the end: nothing to name, still a content difference.
    file.chunks = [root.entries!.get("f")!.chunks![0]!];
    const short = await diffTree(memoryTree(node), "/root", { root, hasher });
    expect(short.differences).toEqual([{ path: "/f", change: "modified", fields: ["content"] }]);
  });

  it("a missing ROOTFS is NOT_FOUND; a file is INVALID_ARGUMENT", async () => {
    const node: Node = { kind: "file", perm: 0o644, uid: 0, gid: 0, data: new Uint8Array(1), xattrs: new Map() };
    const image = { root: toRafs({ kind: "dir", perm: 0o755, uid: 0, gid: 0, xattrs: new Map(), children: new Map() }, hasher), hasher };
    await expect(diffTree(memoryTree(node), "/elsewhere", image)).rejects.toSatisfy((e) => isStrataError(e, "NOT_FOUND"));
    await expect(diffTree(memoryTree(node), "/root", image)).rejects.toSatisfy((e) => isStrataError(e, "INVALID_ARGUMENT"));
  });

  it("without xattr support the report says so and xattrs are not compared", async () => {
    const node: Node = { kind: "dir", perm: 0o755, uid: 0, gid: 0, xattrs: new Map([["user.x", new Uint8Array([1])]]), children: new Map() };
    const port = { ...memoryTree({ ...node, xattrs: new Map() }), xattrs: async () => undefined };
    const report = await diffTree(port, "/root", { root: toRafs(node, hasher), hasher });
    expect(report).toMatchObject({ identical: true, xattrs: false });
  });
});
