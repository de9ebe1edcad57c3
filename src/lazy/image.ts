/**
 * Lazy reads of a Nydus image: only the bootstrap is held; a file read fetches just the chunks the
 * byte range overlaps. Missing chunks that lie end to end in one blob are fetched by one range
 * request (up to `maxRequestBytes`), concurrent requests for a chunk share one fetch, and every
 * chunk is decompressed and checked against its digest before any byte of it is returned or
 * cached. Verified chunks are kept in a bounded memory cache and, where the runtime has files, in
 * a content-addressed disk cache (re-verified when read back).
 *
 * This is the API `strata cat` and the FUSE mount build on: lookup/list/resolve paths, read a byte
 * range (or one chunk), warm() the prefetch table, stats().
 */
import { StrataError } from "../errors.js";
import { S_IFLNK, S_IFMT } from "../fs/inode.js";
import type { BlobRange } from "../oci/blob.js";
import { hex } from "../oci/verify.js";
import { requireRafs, type NydusImage } from "../nydus/image.js";
import type { ChunkCachePort } from "../ports.js";
import { CHUNK_SIZE_MAX } from "../rafs/layout.js";
import { decodeChunk, lookup, MAX_IN_MEMORY_FILE, type RafsKernels } from "../rafs/read.js";
import type { BlobInfo, ChunkInfo, RafsImage, RafsInode } from "../rafs/types.js";
import { MemoryChunkCache } from "./memory-cache.js";
import { coalesce, eachLimited } from "./plan.js";

export interface LazyOptions {
  kernels: RafsKernels;
  /** The longest range request coalesced chunks make (default 4 MiB; a larger chunk is fetched alone). */
  maxRequestBytes?: number;
  /** Bytes of verified chunks kept in memory (default 64 MiB). */
  memoryCacheBytes?: number;
  /** Range requests in flight at once (default 8). */
  concurrency?: number;
  /** A persistent cache shared across runs and processes (Ports.chunkCache). */
  diskCache?: ChunkCachePort;
}

export const DEFAULT_MAX_REQUEST = 4 << 20;
export const DEFAULT_MEMORY_CACHE = 64 << 20;
const DEFAULT_CONCURRENCY = 8;
/** Stored chunks larger than this are refused: a chunk is at most 16 MiB, and stored no larger than twice that. */
const MAX_STORED_CHUNK = 2 * CHUNK_SIZE_MAX;
/** Symlinks followed while resolving one path, as Linux's MAXSYMLINKS. */
const MAX_SYMLINKS = 40;

export interface LazyStats {
  /** Range requests made to the image's blobs. */
  requests: number;
  /** Stored bytes those requests returned. */
  bytesFetched: number;
  /** Chunks fetched from blobs (each verified). */
  chunksFetched: number;
  /** Chunks served from the memory cache, and from the disk cache. */
  memoryHits: number;
  diskHits: number;
  /** Disk-cache entries that failed verification and were fetched again. */
  diskRejected: number;
  /** Disk-cache writes that failed (the read itself succeeds). */
  diskWriteErrors: number;
}

/** Where a chunk is needed: names it in errors (DIGEST_MISMATCH details). */
export interface ChunkWhere {
  path: string;
  chunk: number;
}

/** What warm() fetched. */
export interface WarmResult {
  files: number;
  chunks: number;
  /** Uncompressed bytes of those chunks. */
  bytes: number;
}

interface Pending {
  key: string;
  info: BlobInfo;
  chunk: ChunkInfo;
  where: ChunkWhere;
  resolve(data: Uint8Array): void;
  reject(error: unknown): void;
}

/**
 * A lazily read image; `image` supplies the bootstrap and its blobs as BlobRanges. The bootstrap
 * holds every chunk digest, so an OCI image's bootstrap layer must match the manifest's digest.
 */
export function openLazy(image: NydusImage, options: LazyOptions): LazyImage {
  const layer = image.oci?.bootstrapLayer;
  if (layer?.storedDigest !== undefined && layer.storedDigest !== layer.descriptor.digest) {
    throw new StrataError("DIGEST_MISMATCH", `${image.name}: bootstrap layer ${layer.index} has digest ${layer.storedDigest}, the manifest says ${layer.descriptor.digest}`, {
      layer: layer.index,
      digest: layer.descriptor.digest,
      actual: layer.storedDigest,
    });
  }
  return new LazyImage(image, requireRafs(image), options);
}

export class LazyImage {
  private readonly kernels: RafsKernels;
  private readonly maxRequest: number;
  private readonly concurrency: number;
  private readonly disk?: ChunkCachePort;
  private readonly memory: MemoryChunkCache;
  private readonly inFlight = new Map<string, Promise<Uint8Array>>();
  private readonly checked = new WeakSet<RafsInode>();
  private readonly counters: LazyStats = { requests: 0, bytesFetched: 0, chunksFetched: 0, memoryHits: 0, diskHits: 0, diskRejected: 0, diskWriteErrors: 0 };

  constructor(
    readonly image: NydusImage,
    readonly rafs: RafsImage,
    options: LazyOptions,
  ) {
    this.kernels = options.kernels;
    this.maxRequest = count(options.maxRequestBytes ?? DEFAULT_MAX_REQUEST, "maxRequestBytes", 1);
    this.concurrency = count(options.concurrency ?? DEFAULT_CONCURRENCY, "concurrency", 1);
    this.memory = new MemoryChunkCache(count(options.memoryCacheBytes ?? DEFAULT_MEMORY_CACHE, "memoryCacheBytes", 0));
    this.disk = options.diskCache;
  }

  /** The inode at `path`, symlinks not followed; NOT_FOUND if absent. */
  lookup(path: string): RafsInode {
    return lookup(this.rafs, path);
  }

  /** The entries of the directory at `path`, in stored order. */
  list(path: string): [name: string, inode: RafsInode][] {
    const dir = this.lookup(path);
    if (!dir.entries) throw new StrataError("INVALID_ARGUMENT", `${path} is not a directory`, { path });
    return [...dir.entries];
  }

  /** `path` with every symlink in it followed (targets resolve inside the image), and its inode. */
  resolve(path: string): { path: string; inode: RafsInode } {
    const pending = path.split("/").filter((n) => n !== "" && n !== ".");
    const stack: [string, RafsInode][] = [];
    let hops = 0;
    while (pending.length > 0) {
      const name = pending.shift()!;
      if (name === "..") {
        stack.pop();
        continue;
      }
      const dir = stack.length > 0 ? stack[stack.length - 1]![1] : this.rafs.root;
      const here = `/${[...stack.map(([n]) => n), name].join("/")}`;
      const node = dir.entries?.get(name);
      if (!node) throw new StrataError("NOT_FOUND", `no ${here} in the image (resolving ${path})`, { path });
      if ((node.mode & S_IFMT) !== S_IFLNK) {
        stack.push([name, node]);
        continue;
      }
      if (++hops > MAX_SYMLINKS) throw new StrataError("INVALID_ARGUMENT", `${path}: more than ${MAX_SYMLINKS} symlinks`, { path });
      const target = node.target ?? "";
      if (target.startsWith("/")) stack.length = 0;
      pending.unshift(...target.split("/").filter((n) => n !== "" && n !== "."));
    }
    return { path: `/${stack.map(([n]) => n).join("/")}`, inode: stack.length > 0 ? stack[stack.length - 1]![1] : this.rafs.root };
  }

  /**
   * Bytes [offset, offset + length) of the regular file at `path` (symlinks not followed),
   * clamped to its end; holes read as zeros.
   */
  async read(path: string, offset = 0, length = Infinity): Promise<Uint8Array> {
    return this.readInode(this.lookup(path), path, offset, length);
  }

  /** As read(), for an inode already looked up (`path` names it in errors). */
  async readInode(inode: RafsInode, path: string, offset = 0, length = Infinity): Promise<Uint8Array> {
    const chunks = this.regularChunks(inode, path);
    if (!Number.isSafeInteger(offset) || offset < 0 || !(length >= 0)) {
      throw new StrataError("INVALID_ARGUMENT", `${path}: cannot read ${length} bytes at offset ${offset}`, { path, offset, length });
    }
    const start = Math.min(offset, inode.size);
    const end = Math.min(inode.size, start + length);
    if (end - start > MAX_IN_MEMORY_FILE) {
      throw new StrataError("OUTPUT_LIMIT", `${path}: a read of ${end - start} bytes is more than one read returns (${MAX_IN_MEMORY_FILE})`, { path, limit: MAX_IN_MEMORY_FILE });
    }
    const out = new Uint8Array(end - start);
    const wanted: { chunk: ChunkInfo; where: ChunkWhere }[] = [];
    chunks.forEach((chunk, i) => {
      if (chunk.fileOffset < end && chunk.fileOffset + chunk.uncompressedSize > start) wanted.push({ chunk, where: { path, chunk: i } });
    });
    const data = await Promise.all(this.chunks(wanted));
    wanted.forEach(({ chunk }, i) => {
      const from = Math.max(start, chunk.fileOffset);
      const to = Math.min(end, chunk.fileOffset + chunk.uncompressedSize);
      out.set(data[i]!.subarray(from - chunk.fileOffset, to - chunk.fileOffset), from - start);
    });
    return out;
  }

  /**
   * One chunk's verified bytes (a ChunkSource for the FUSE layer). The array may be shared with
   * the cache: do not modify it.
   */
  chunk(chunk: ChunkInfo, where: ChunkWhere): Promise<Uint8Array> {
    return this.chunks([{ chunk, where }])[0]!;
  }

  /** Fetches every chunk of the files in the bootstrap's prefetch table, coalesced across files. */
  async warm(): Promise<WarmResult> {
    const wanted: { chunk: ChunkInfo; where: ChunkWhere }[] = [];
    let files = 0;
    for (const path of this.rafs.prefetch) {
      const inode = this.lookup(path);
      if (!inode.chunks) continue;
      files++;
      this.regularChunks(inode, path).forEach((chunk, i) => wanted.push({ chunk, where: { path, chunk: i } }));
    }
    // Only sizes are kept: the bytes stay in the caches (a prefetch list can exceed memory).
    const sizes = await Promise.all(this.chunks(wanted).map((p) => p.then((d) => d.length)));
    return { files, chunks: sizes.length, bytes: sizes.reduce((n, s) => n + s, 0) };
  }

  /** A snapshot of the counters. */
  stats(): LazyStats {
    return { ...this.counters };
  }

  /** The file's chunks, checked once to be in order and inside the file. */
  private regularChunks(inode: RafsInode, path: string): readonly ChunkInfo[] {
    if (!inode.chunks) throw new StrataError("INVALID_ARGUMENT", `${path} is not a regular file`, { path });
    if (!this.checked.has(inode)) {
      let end = 0;
      for (const [i, c] of inode.chunks.entries()) {
        if (c.fileOffset < end || c.fileOffset + c.uncompressedSize > inode.size) {
          throw new StrataError("BAD_BOOTSTRAP", `${path}: chunk ${i} at file offset ${c.fileOffset} overlaps or runs past the file`, { path, chunk: i });
        }
        end = c.fileOffset + c.uncompressedSize;
      }
      this.checked.add(inode);
    }
    return inode.chunks;
  }

  /**
   * The verified bytes of each wanted chunk: from memory, from a fetch already in flight, or by
   * one load of all the others (disk cache, then coalesced range requests).
   */
  private chunks(wanted: readonly { chunk: ChunkInfo; where: ChunkWhere }[]): Promise<Uint8Array>[] {
    const toLoad = new Map<string, Pending>();
    const results = wanted.map(({ chunk, where }) => {
      const info = this.rafs.blobs[chunk.blobIndex];
      if (!info) {
        return Promise.reject(new StrataError("BAD_BOOTSTRAP", `${where.path}: chunk ${where.chunk} names blob ${chunk.blobIndex}, not in the blob table`, { ...where }));
      }
      const key = `${info.digester}-${hex(chunk.digest)}`;
      const cached = this.memory.get(key);
      if (cached) {
        this.counters.memoryHits++;
        return Promise.resolve(cached);
      }
      let pending = this.inFlight.get(key);
      if (!pending) {
        pending = new Promise<Uint8Array>((resolve, reject) => toLoad.set(key, { key, info, chunk, where, resolve, reject }));
        this.inFlight.set(key, pending);
        const settled = () => this.inFlight.delete(key);
        pending.then(settled, settled);
      }
      return pending;
    });
    if (toLoad.size > 0) void this.load([...toLoad.values()]);
    return results;
  }

  /** Settles every pending chunk: never throws. */
  private async load(pending: Pending[]): Promise<void> {
    const missing = this.disk ? (await Promise.all(pending.map((p) => this.fromDisk(p)))).filter((p): p is Pending => p !== undefined) : pending;
    const byBlob = new Map<BlobRange, Pending[]>();
    for (const p of missing) {
      let blob: BlobRange;
      try {
        blob = this.storedIn(p);
      } catch (e) {
        // A chunk the bootstrap misplaces fails alone, not the chunks it would share a request with.
        p.reject(e);
        continue;
      }
      const list = byBlob.get(blob) ?? [];
      list.push(p);
      byBlob.set(blob, list);
    }
    const runs: { blob: BlobRange; run: Pending[] }[] = [];
    for (const [blob, list] of byBlob) {
      const spans = list.map((p) => ({ offset: p.chunk.compressedOffset, size: p.chunk.compressedSize, pending: p }));
      for (const run of coalesce(spans, this.maxRequest)) runs.push({ blob, run: run.map((s) => s.pending) });
    }
    await eachLimited(runs, this.concurrency, ({ blob, run }) => this.fetchRun(blob, run));
  }

  /** Settles `p` from the disk cache if it holds verified bytes for it; else returns `p`. */
  private async fromDisk(p: Pending): Promise<Pending | undefined> {
    let bytes: Uint8Array | undefined;
    try {
      bytes = await this.disk!.get(p.key);
    } catch {
      // An unreadable cache entry is a miss: the chunk is fetched (and the entry rewritten).
    }
    if (!bytes) return p;
    if (bytes.length !== p.chunk.uncompressedSize || !sameBytes(this.kernels.hasher(p.info.digester).digest(bytes), p.chunk.digest)) {
      this.counters.diskRejected++;
      return p;
    }
    this.counters.diskHits++;
    this.memory.put(p.key, bytes);
    p.resolve(bytes);
    return undefined;
  }

  /** One range request for chunks lying end to end in one blob; each verified on its own. */
  private async fetchRun(blob: BlobRange, run: Pending[]): Promise<void> {
    try {
      const first = run[0]!;
      const start = first.chunk.compressedOffset;
      const last = run[run.length - 1]!.chunk;
      const length = last.compressedOffset + last.compressedSize - start;
      this.counters.requests++;
      const stored = await blob.read(start, length);
      this.counters.bytesFetched += stored.length;
      if (stored.length !== length) {
        throw new StrataError("TRUNCATED", `blob ${first.info.blobId}: ${stored.length} of ${length} bytes at offset ${start}`, { blobId: first.info.blobId, offset: start });
      }
      for (const p of run) {
        const at = p.chunk.compressedOffset - start;
        let data: Uint8Array;
        try {
          data = decodeChunk(p.info, p.chunk, stored.subarray(at, at + p.chunk.compressedSize), this.kernels, p.where);
        } catch (e) {
          p.reject(e);
          continue;
        }
        this.counters.chunksFetched++;
        this.memory.put(p.key, data);
        if (this.disk) await this.disk.put(p.key, data).catch(() => this.counters.diskWriteErrors++);
        p.resolve(data);
      }
    } catch (e) {
      // Settling twice is a no-op: chunks already resolved keep their bytes.
      for (const p of run) p.reject(e);
    }
  }

  /** The blob holding `p`'s stored bytes, once they are known to lie inside it. */
  private storedIn(p: Pending): BlobRange {
    const { chunk, where, info } = p;
    const blob = this.image.blobs.get(info.blobId);
    if (!blob) throw new StrataError("NOT_FOUND", `${this.image.name}: blob ${info.blobId} (needed by ${where.path}) is not in the image`, { ...where, blobId: info.blobId });
    if (chunk.compressedSize <= 0 || chunk.compressedSize > MAX_STORED_CHUNK || chunk.compressedOffset + chunk.compressedSize > blob.size) {
      throw new StrataError("BAD_BOOTSTRAP", `${where.path}: chunk ${where.chunk} (${chunk.compressedSize} bytes at ${chunk.compressedOffset}) lies outside blob ${info.blobId} of ${blob.size} bytes`, {
        ...where,
        blobId: info.blobId,
        offset: chunk.compressedOffset,
      });
    }
    return blob;
  }
}

function count(n: number, name: string, min: number): number {
  if (!Number.isSafeInteger(n) || n < min) throw new StrataError("INVALID_ARGUMENT", `${name} must be an integer of at least ${min}, not ${n}`, { [name]: n });
  return n;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
