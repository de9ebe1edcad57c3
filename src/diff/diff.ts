/**
 * `strata diff`: an unpacked directory against the image it came from. Both trees are walked
 * together in name order; every path only on disk is "added", only in the image "removed"; a
 * path in both is "modified" when its content differs and "changed" when only metadata does
 * (type, mode, owner, size, link target, device number, xattrs, hardlink grouping). mtimes are
 * not compared: unpackers need not keep them.
 *
 * Content never needs the image's blobs: the disk file is cut at the image's chunk boundaries,
 * each piece hashed with the image's digester and compared with the stored chunk digest. Quick
 * mode compares metadata and sizes only, so a same-size edit goes unnoticed.
 */
import { StrataError } from "../errors.js";
import type { EventSink } from "../events.js";
import { compareNames, kindOf, walk, type Inode } from "../fs/inode.js";
import { FixedChunker } from "../convert/chunks.js";
import type { Hasher } from "../kernels/kernel.js";
import { flatten } from "../oci/flatten.js";
import type { Image } from "../oci/types.js";
import type { TreeReadPort, TreeStat } from "../ports.js";
import type { ChunkInfo, RafsInode } from "../rafs/types.js";

export type ChangeKind = "added" | "removed" | "modified" | "changed";

/** What can differ between a path on disk and in the image. */
export type DiffField = "type" | "mode" | "uid" | "gid" | "size" | "content" | "target" | "rdev" | "xattrs" | "link";

export interface Difference {
  path: string;
  change: ChangeKind;
  /** What differs; empty for added and removed paths. */
  fields: DiffField[];
  /** The image's and the directory's values of those fields. */
  image?: Partial<Record<DiffField, unknown>>;
  disk?: Partial<Record<DiffField, unknown>>;
  /** Content differences: the indexes of the chunks whose digest differs. */
  chunks?: number[];
}

export interface DiffReport {
  identical: boolean;
  differences: Difference[];
  /** Whether xattrs were compared (the runtime may not read them). */
  xattrs: boolean;
  quick: boolean;
  counts: { paths: number; hashedFiles: number; hashedBytes: number };
}

/** The image side: its tree, where regular files carry their chunk digests (unless quick). */
export interface DiffImage {
  root: RafsInode;
  /** The digester the chunk digests were made with. */
  hasher: Hasher;
}

export interface DiffOptions {
  quick?: boolean;
  events?: EventSink;
}

/**
 * The diff side of a plain OCI image: its flattened tree, with each regular file chunked
 * (1 MiB) and hashed as its layer streams by, unless `quick` (then only metadata is kept).
 */
export async function ociDiffImage(image: Image, hasher: Hasher, quick = false): Promise<DiffImage> {
  const chunker = new FixedChunker(OCI_CHUNK_SIZE);
  const root = await flatten(image, {
    onFile: quick
      ? undefined
      : async (inode, entry) => {
          const chunks: ChunkInfo[] = [];
          await chunker.file(entry.body(), async (chunk, fileOffset) => {
            chunks.push({ digest: hasher.digest(chunk), fileOffset, uncompressedSize: chunk.length, blobIndex: 0, flags: 0, compressedOffset: 0, compressedSize: 0, uncompressedOffset: 0, index: chunks.length, crc32: 0 });
          });
          (inode as RafsInode).chunks = chunks;
        },
  });
  return { root: root as RafsInode, hasher };
}

const OCI_CHUNK_SIZE = 1 << 20;

/** Compares the directory `dir` (through `tree`) with `image`. */
export async function diffTree(tree: TreeReadPort, dir: string, image: DiffImage, options: DiffOptions = {}): Promise<DiffReport> {
  const rootStat = await tree.lstat(dir);
  if (!rootStat) throw new StrataError("NOT_FOUND", `no directory at ${dir}`, { path: dir });
  if (kindOf(rootStat.mode) !== "dir") throw new StrataError("INVALID_ARGUMENT", `${dir} is not a directory`, { path: dir });
  const base = dir.replace(/\/+$/, "");
  const diskXattrs = await tree.xattrs(base || "/");
  const xattrsOf = (path: string) => diskXattrs?.get(path === "/" ? base || "/" : base + path);
  const walker = new Walker(tree, base, image.hasher, options, xattrsOf, diskXattrs !== undefined, options.events ? [...walk(image.root)].length : 0);
  await walker.both("/", image.root, rootStat);
  await walker.settle();
  const differences = walker.finish();
  for (const d of differences) await options.events?.emit({ type: "diff", source: "diff", path: d.path, change: d.change, fields: d.fields });
  return { identical: differences.length === 0, differences, xattrs: diskXattrs !== undefined, quick: options.quick === true, counts: walker.counts };
}

const PROGRESS_EVERY = 256;
/** Files read and hashed at once. */
const CONCURRENT_FILES = 8;

class Walker {
  readonly counts = { paths: 0, hashedFiles: 0, hashedBytes: 0 };
  private readonly found = new Map<string, Difference>();
  /** Hardlink grouping, per side: the paths of each inode, in tree order. */
  private readonly imageGroups = new Map<Inode, string[]>();
  private readonly diskGroups = new Map<string, string[]>();
  private readonly common: { path: string; image: string[]; disk: string[] }[] = [];
  /** Content comparisons in flight, and chunk buffers free for them. */
  private readonly running = new Set<Promise<void>>();
  private readonly buffers: Uint8Array[] = [];
  private failure: { error: unknown } | undefined;

  constructor(
    private readonly tree: TreeReadPort,
    private readonly base: string,
    private readonly hasher: Hasher,
    private readonly options: DiffOptions,
    private readonly xattrsOf: (path: string) => Map<string, Uint8Array> | undefined,
    private readonly compareXattrs: boolean,
    /** Paths in the image, for progress events. */
    private readonly total: number,
  ) {}

  /** A path present on both sides. */
  async both(path: string, node: RafsInode, stat: TreeStat): Promise<void> {
    await this.visited(path, stat);
    const abs = this.abs(path);
    const imageKind = kindOf(node.mode);
    const diskKind = kindOf(stat.mode);
    const d: Difference = { path, change: "changed", fields: [], image: {}, disk: {} };
    const note = (field: DiffField, imageValue: unknown, diskValue: unknown) => {
      d.fields.push(field);
      d.image![field] = imageValue;
      d.disk![field] = diskValue;
    };
    if (imageKind !== diskKind) {
      note("type", imageKind, diskKind);
    } else {
      // Linux gives every symlink 0777, whatever the image says.
      if (imageKind !== "symlink" && (node.mode & 0o7777) !== (stat.mode & 0o7777)) note("mode", octal(node.mode), octal(stat.mode));
      if (imageKind === "file" && node.size !== stat.size) note("size", node.size, stat.size);
      if (imageKind === "symlink") {
        const target = await this.tree.readlink(abs);
        if (target !== node.target) note("target", node.target, target);
      }
      if ((imageKind === "chardev" || imageKind === "blockdev") && node.rdev !== stat.rdev) note("rdev", node.rdev, stat.rdev);
    }
    if (node.uid !== stat.uid) note("uid", node.uid, stat.uid);
    if (node.gid !== stat.gid) note("gid", node.gid, stat.gid);
    if (this.compareXattrs) {
      const disk = this.xattrsOf(path) ?? new Map<string, Uint8Array>();
      if (!sameXattrs(node.xattrs, disk)) note("xattrs", xattrNames(node.xattrs), xattrNames(disk));
    }
    if (imageKind === "file" && diskKind === "file") {
      // Content has no values to show; `chunks` names the differing chunks.
      if (node.size !== stat.size) d.fields.push("content");
      else if (!this.options.quick && node.chunks) {
        const chunks = node.chunks;
        // Hashed while the walk goes on: reads overlap each other and the hashing.
        await this.schedule(async () => {
          const { differing, covered } = await this.compareContent(abs, chunks, stat.size);
          if (differing.length === 0 && covered) return;
          d.fields.push("content");
          d.change = "modified";
          if (differing.length > 0) d.chunks = differing;
          this.found.set(path, d);
        });
      }
    }
    if (d.fields.includes("content")) d.change = "modified";
    if (d.fields.length > 0) this.found.set(path, d);
    if (imageKind !== "dir") this.common.push({ path, image: this.imageGroup(node, path), disk: this.diskGroup(stat, path) });

    const imageEntries = imageKind === "dir" ? (node.entries ?? new Map<string, RafsInode>()) : undefined;
    const diskEntries = diskKind === "dir" ? new Map((await this.tree.list(abs)).map((e) => [e.name, e.stat])) : undefined;
    const names = [...new Set([...(imageEntries?.keys() ?? []), ...(diskEntries?.keys() ?? [])])].sort(compareNames);
    for (const name of names) {
      const child = `${path === "/" ? "" : path}/${name}`;
      const inImage = imageEntries?.get(name);
      const onDisk = diskEntries?.get(name);
      if (inImage && onDisk) await this.both(child, inImage, onDisk);
      else if (inImage) this.removed(child, inImage);
      else await this.added(child, onDisk!);
    }
  }

  /** A path (and everything below it) only in the image. */
  private removed(path: string, node: RafsInode): void {
    for (const [sub, inode] of walk(node, path)) {
      this.found.set(sub, { path: sub, change: "removed", fields: [] });
      if (kindOf(inode.mode) !== "dir") this.imageGroup(inode, sub);
    }
  }

  /** A path (and everything below it) only on disk. */
  private async added(path: string, stat: TreeStat): Promise<void> {
    await this.visited(path, stat);
    this.found.set(path, { path, change: "added", fields: [] });
    if (kindOf(stat.mode) !== "dir") {
      this.diskGroup(stat, path);
      return;
    }
    const entries = await this.tree.list(this.abs(path));
    entries.sort((a, b) => compareNames(a.name, b.name));
    for (const e of entries) await this.added(`${path}/${e.name}`, e.stat);
  }

  /** Runs `task` once fewer than CONCURRENT_FILES are running; a failure is rethrown by settle(). */
  private async schedule(task: () => Promise<void>): Promise<void> {
    while (this.running.size >= CONCURRENT_FILES) await Promise.race(this.running);
    const done: Promise<void> = task()
      .catch((error: unknown) => {
        this.failure ??= { error };
      })
      .finally(() => this.running.delete(done));
    this.running.add(done);
  }

  /** Waits for every content comparison; rethrows the first failure. */
  async settle(): Promise<void> {
    await Promise.all(this.running);
    if (this.failure) throw this.failure.error;
  }

  /** The differences in tree order, with hardlink grouping changes merged in. */
  finish(): Difference[] {
    // Groups are complete now: a path whose set of hardlink partners differs has changed.
    for (const { path, image, disk } of this.common) {
      if (image.length === disk.length && image.every((p, i) => p === disk[i])) continue;
      const d = this.found.get(path) ?? { path, change: "changed" as const, fields: [], image: {}, disk: {} };
      d.fields.push("link");
      d.image!.link = image;
      d.disk!.link = disk;
      this.found.set(path, d);
    }
    const out = [...this.found.values()].sort((a, b) => comparePaths(a.path, b.path));
    for (const d of out) {
      if (d.fields.every((f) => f === "content")) {
        delete d.image;
        delete d.disk;
      }
    }
    return out;
  }

  /** Adds `path` to its inode's group; returns the group (still filling while the walk goes on). */
  private imageGroup(node: Inode, path: string): string[] {
    return group(this.imageGroups, node, path);
  }

  private diskGroup(stat: TreeStat, path: string): string[] {
    return stat.nlink < 2 ? [path] : group(this.diskGroups, stat.id, path);
  }

  private async visited(path: string, stat: TreeStat): Promise<void> {
    const n = ++this.counts.paths;
    const events = this.options.events;
    if (!events) return;
    await events.emit({ type: "file", source: "diff", path, kind: kindOf(stat.mode) ?? "file", mode: stat.mode, uid: stat.uid, gid: stat.gid, size: stat.size });
    if (n % PROGRESS_EVERY === 0) await events.emit({ type: "progress", source: "diff", phase: "paths", done: n, total: this.total });
  }

  /**
   * Indexes of the chunks whose digest differs from the disk file's bytes at the same offsets, and
   * whether the chunks covered the whole file (bytes past them have no digest to match).
   */
  private async compareContent(abs: string, chunks: readonly ChunkInfo[], size: number): Promise<{ differing: number[]; covered: boolean }> {
    this.counts.hashedFiles++;
    const differing: number[] = [];
    const pieces = this.tree.read(abs)[Symbol.asyncIterator]();
    let buffer = this.buffers.pop() ?? new Uint8Array(0);
    let piece: Uint8Array = new Uint8Array(0);
    let at = 0;
    try {
      for (const [i, chunk] of chunks.entries()) {
        const want = chunk.uncompressedSize;
        // Chunks must tile the file in order; one that does not cannot match.
        if (chunk.fileOffset !== at || chunk.fileOffset + want > size) {
          differing.push(i);
          continue;
        }
        if (piece.length === 0) {
          const next = await pieces.next();
          if (!next.done) piece = next.value;
        }
        let bytes: Uint8Array;
        if (piece.length >= want) {
          // The whole chunk is in the piece read: hashed in place.
          bytes = piece.subarray(0, want);
          piece = piece.subarray(want);
        } else {
          if (buffer.length < want) buffer = new Uint8Array(want);
          let filled = 0;
          while (filled < want) {
            if (piece.length === 0) {
              const next = await pieces.next();
              if (next.done) break;
              piece = next.value;
            }
            const take = Math.min(piece.length, want - filled);
            buffer.set(piece.subarray(0, take), filled);
            piece = piece.subarray(take);
            filled += take;
          }
          bytes = buffer.subarray(0, filled);
        }
        at += bytes.length;
        this.counts.hashedBytes += bytes.length;
        if (bytes.length !== want || !equal(this.hasher.digest(bytes), chunk.digest)) differing.push(i);
      }
    } finally {
      this.buffers.push(buffer);
      await pieces.return?.();
    }
    return { differing, covered: at === size };
  }


  private abs(path: string): string {
    return path === "/" ? this.base || "/" : this.base + path;
  }
}

function group<K>(groups: Map<K, string[]>, key: K, path: string): string[] {
  const paths = groups.get(key);
  if (paths) {
    paths.push(path);
    return paths;
  }
  const fresh = [path];
  groups.set(key, fresh);
  return fresh;
}

function octal(mode: number): string {
  return (mode & 0o7777).toString(8).padStart(4, "0");
}

function xattrNames(xattrs: ReadonlyMap<string, Uint8Array>): string[] {
  return [...xattrs.keys()].sort();
}

function sameXattrs(a: ReadonlyMap<string, Uint8Array>, b: ReadonlyMap<string, Uint8Array>): boolean {
  if (a.size !== b.size) return false;
  for (const [name, value] of a) {
    const other = b.get(name);
    if (!other || !equal(value, other)) return false;
  }
  return true;
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Tree order: a directory's entries follow it, names compared bytewise component by component. */
function comparePaths(a: string, b: string): number {
  const x = a.split("/");
  const y = b.split("/");
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const c = compareNames(x[i]!, y[i]!);
    if (c !== 0) return c;
  }
  return x.length - y.length;
}
