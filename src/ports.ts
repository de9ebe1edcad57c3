/**
 * What the runtime-free core asks of its host. Each runtimes/<name> adapter supplies these and
 * nothing else; src/ never imports a runtime module.
 */

import type { FusePort } from "./fuse/port.js";

/** Names of the wasm kernel modules built from assembly/ (wasm/<name>.wasm). */
export type KernelName = "blake3" | "sha256" | "chunker" | "inflate" | "zstd" | "lz4" | "zstdenc";

/** Build variant: "simd" uses v128; "scalar" exists only for kernels that need a fallback. */
export type KernelVariant = "simd" | "scalar";

/**
 * Supplies compiled modules. Workers can only import wasm as modules, so the core never compiles
 * bytes itself: the adapter compiles (Node, Deno, Bun, browser) or imports (workerd) them.
 */
export interface WasmPort {
  module(name: KernelName, variant: KernelVariant): Promise<WebAssembly.Module>;
}

/** A native streaming SHA-256 the runtime may offer (node:crypto, crypto.DigestStream). */
export interface NativeSha256 {
  create(): { update(data: Uint8Array): void; digest(): Uint8Array | Promise<Uint8Array> };
}

/** An open file read by byte ranges (archives are read member by member without unpacking). */
export interface FileHandle {
  readonly size: number;
  /** Up to `length` bytes at `offset` (fewer only at the end of the file). */
  read(offset: number, length: number): Promise<Uint8Array>;
  close(): Promise<void>;
}

/** Read access to local files, for image layouts and archives. Paths use "/"; missing files are NOT_FOUND. */
export interface FilesPort {
  open(path: string): Promise<FileHandle>;
  readFile(path: string): Promise<Uint8Array>;
  /** undefined when nothing exists at `path`. */
  stat(path: string): Promise<{ kind: "file" | "dir" | "other"; size: number } | undefined>;
}

/** A file being written under a temporary name: nothing appears at its path until commit(). */
export interface PendingFile {
  /** Appends `bytes`, which the caller may reuse once this settles. */
  write(bytes: Uint8Array): Promise<void>;
  /** Renames the finished file into place (replacing what was there), at `path` when given (content-addressed names known only at the end). */
  commit(path?: string): Promise<void>;
  /** Removes the temporary file; safe to call after a failed write. */
  abort(): Promise<void>;
}

/** Write access to local files, for output image layouts. Paths use "/". */
export interface OutputPort {
  mkdir(path: string): Promise<void>;
  create(path: string): Promise<PendingFile>;
}

/** A path below an unpack root as its names (each validated: no "/", NUL, ".", ".." or ""); [] is the root. */
export type TreePath = readonly string[];

/** Node types created with mknod. */
export type SpecialKind = "chardev" | "blockdev" | "fifo";

/**
 * A tree being written into a hidden temporary sibling of its destination. Every operation names
 * its path from the root, creates only what does not exist yet, and never follows a symlink
 * (parents must be directories this output created itself). Nothing appears at the destination
 * until commit(); abort() removes everything written.
 */
export interface TreeOutput {
  /** Whether ownership and device nodes can be restored (root). */
  readonly privileged: boolean;
  mkdir(path: TreePath): Promise<void>;
  /** Creates a regular file with `content`; returns the number of bytes written. */
  writeFile(path: TreePath, content: AsyncIterable<Uint8Array>): Promise<number>;
  symlink(path: TreePath, target: string): Promise<void>;
  /** A hardlink at `path` to the non-directory this output created at `existing`. */
  link(existing: TreePath, path: TreePath): Promise<void>;
  mknod(path: TreePath, kind: SpecialKind, major: number, minor: number): Promise<void>;
  /** lchown: never follows a symlink. */
  chown(path: TreePath, uid: number, gid: number): Promise<void>;
  /** Permission bits incl. setuid/setgid/sticky; refuses symlinks. */
  chmod(path: TreePath, mode: number): Promise<void>;
  /** lutimes: atime and mtime both set to the given time. */
  utimes(path: TreePath, seconds: number, nanoseconds: number): Promise<void>;
  /** Sets extended attributes of many paths in one batch (not following symlinks). */
  setXattrs(entries: readonly { path: TreePath; xattrs: ReadonlyMap<string, Uint8Array> }[]): Promise<void>;
  /** Renames the finished tree to its destination (replacing an empty directory, or any directory when allowed). */
  commit(): Promise<void>;
  /** Removes the temporary tree; safe after any failure. */
  abort(): Promise<void>;
}

/** Local directory trees for unpack. */
export interface TreeOutputPort {
  /**
   * Starts a tree for `dir`: refuses (INVALID_ARGUMENT) when `dir` is not a directory or is a
   * non-empty one and `replace` is false.
   */
  begin(dir: string, options: { replace: boolean }): Promise<TreeOutput>;
}

/**
 * HTTP for the registry transport: the runtime's global fetch. Node's ignores HTTP(S)_PROXY;
 * Deno's and Bun's honour them; browsers use the system's.
 */
export type FetchPort = (url: string, init?: RequestInit) => Promise<Response>;

/**
 * A content-addressed store of verified chunks shared across runs (and processes): keys are
 * `[a-z0-9-]+` names derived from the content's digest. Readers re-verify what get() returns.
 */
export interface ChunkCachePort {
  /** The bytes stored under `key`, or undefined when there are none. */
  get(key: string): Promise<Uint8Array | undefined>;
  /** Stores `bytes` under `key` atomically: a concurrent get() sees all of them or nothing. */
  put(key: string, bytes: Uint8Array): Promise<void>;
}

/** lstat of one path in a directory tree (symlinks are not followed). */
export interface TreeStat {
  /** Full st_mode: type bits | setuid/setgid/sticky | permissions. */
  mode: number;
  uid: number;
  gid: number;
  size: number;
  /** Devices: Linux dev_t. */
  rdev: number;
  nlink: number;
  /** Names the inode within the tree (device and inode number): equal ids are hardlinks. */
  id: string;
}

/** Read access to a directory tree on disk, for `strata diff`. Paths use "/". */
export interface TreeReadPort {
  lstat(path: string): Promise<TreeStat | undefined>;
  /** The entries of a directory, lstat'ed, in no particular order. */
  list(dir: string): Promise<{ name: string; stat: TreeStat }[]>;
  readlink(path: string): Promise<string>;
  /**
   * A regular file's bytes, in pieces. A piece is valid only until the next one is requested or
   * the iteration ends: ports reuse their buffers (diff hashes thousands of files).
   */
  read(path: string): AsyncIterable<Uint8Array>;
  /**
   * The extended attributes of every path under `root` (root included, symlinks not followed),
   * in one call: path → name → value; paths without any are absent. undefined when the runtime
   * cannot read xattrs.
   */
  xattrs(root: string): Promise<Map<string, Map<string, Uint8Array>> | undefined>;
}

/** Listing, dates and removal of files, for caches that collect their garbage. Paths use "/". */
export interface CacheDirPort {
  /** Names in a directory; [] when it does not exist. */
  list(dir: string): Promise<string[]>;
  /** A file's size and last modification (ms since the epoch); undefined when nothing is there. */
  stat(path: string): Promise<{ size: number; mtimeMs: number } | undefined>;
  /** Removes a file; nothing happens when it is already gone. */
  remove(path: string): Promise<void>;
  /** Sets a file's modification time to now (a cache entry was used). */
  touch(path: string): Promise<void>;
  /** Gives the file `existing` the further name `path` (a hardlink); IO when the file system cannot. */
  link(existing: string, path: string): Promise<void>;
}

/** Loop devices and mounts that kernel mounts (`strata mount`) made, as recorded for umount. */
export interface KernelMount {
  mountpoint: string;
  bootstrapLoop: string;
  /** One per blob device, in blob-table order. */
  deviceLoops: string[];
}

/**
 * Kernel EROFS mounts over read-only loop devices (Linux, root). Each call releases every loop
 * device and mount it made when it fails or the process is interrupted part-way.
 */
export interface MountPort {
  /** Attaches the files and mounts EROFS at `mountpoint` with one device= per blob device, in order. */
  mount(request: { bootstrap: string; devices: readonly string[]; mountpoint: string }): Promise<KernelMount>;
  /** Unmounts what mount() mounted at `mountpoint` and detaches exactly its loop devices; NOT_FOUND when it mounted nothing there. */
  umount(mountpoint: string): Promise<KernelMount>;
}

/**
 * Compresses chunks on other cores, one chunk per call, with the same bytes as the in-thread
 * ChunkCodec: `output` is undefined when compression does not shrink the chunk. `chunk` is handed
 * over (it may be detached) and comes back as `input`; the caller keeps the order of results itself.
 */
/** Chunks compressed by a pool: views of the pool's buffers, valid until release(). */
export interface PooledChunks {
  /** Each chunk's stored bytes: compressed where that shrinks it, else the chunk itself. */
  readonly data: readonly Uint8Array[];
  readonly compressed: readonly boolean[];
  /** Hands the buffers back to the pool, to carry later chunks. */
  release(): void;
}

export interface ChunkCompressPool {
  /** How many chunks it compresses at once: callers keep about twice that many in flight. */
  readonly threads: number;
  /** Compresses copies of `chunks`, as one message (the caller may reuse `chunks` at once). */
  compress(chunks: readonly Uint8Array[]): Promise<PooledChunks>;
  close(): Promise<void>;
}

export interface CodecPoolPort {
  /** Workers the runtime would use when not told (0: compress in the calling thread). */
  defaultThreads(): number;
  /** A pool of `threads` workers (default: defaultThreads(), at least one) for one compressor. */
  open(compressor: "zstd" | "lz4_block", options?: { level?: number; threads?: number }): Promise<ChunkCompressPool>;
}

export interface Ports {
  wasm: WasmPort;
  /** Chunk compression on other threads (convert); without it chunks are compressed in this one. */
  codecPool?: CodecPoolPort;
  /** FUSE file systems served by this process (`strata mount --lazy`; Node on Linux). */
  fuse?: FusePort;
  /** Kernel mounts, where the runtime can make them (Node on Linux). */
  mount?: MountPort;
  cacheDir?: CacheDirPort;
  tree?: TreeReadPort;
  /** Opens (creating it if needed) the chunk cache in directory `dir`, where the runtime has files. */
  chunkCache?: (dir: string) => Promise<ChunkCachePort>;
  fetch?: FetchPort;
  /** Environment variables where the runtime has them (DOCKER_CONFIG, HOME for the Docker auth file). */
  env?: (name: string) => string | undefined;
  output?: OutputPort;
  /** Directory trees written safely (unpack). */
  treeOutput?: TreeOutputPort;
  sha256?: NativeSha256;
  files?: FilesPort;
}
