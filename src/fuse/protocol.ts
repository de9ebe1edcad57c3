/**
 * The Linux FUSE kernel protocol (include/uapi/linux/fuse.h, major 7) as plain bytes: request
 * decoding and reply encoding, little-endian as on every Linux architecture strata runs on.
 * Nothing here touches a device, so it is the same in every runtime and unit-testable.
 */
import { StrataError } from "../errors.js";

export const FUSE_KERNEL_VERSION = 7;
/** The minor version strata answers with: everything it uses (max_pages, readdirplus, cache_symlinks) exists by 7.28. */
export const FUSE_KERNEL_MINOR = 31;
export const FUSE_ROOT_ID = 1;

export const Opcode = {
  LOOKUP: 1,
  FORGET: 2,
  GETATTR: 3,
  SETATTR: 4,
  READLINK: 5,
  SYMLINK: 6,
  MKNOD: 8,
  MKDIR: 9,
  UNLINK: 10,
  RMDIR: 11,
  RENAME: 12,
  LINK: 13,
  OPEN: 14,
  READ: 15,
  WRITE: 16,
  STATFS: 17,
  RELEASE: 18,
  FSYNC: 20,
  SETXATTR: 21,
  GETXATTR: 22,
  LISTXATTR: 23,
  REMOVEXATTR: 24,
  FLUSH: 25,
  INIT: 26,
  OPENDIR: 27,
  READDIR: 28,
  RELEASEDIR: 29,
  FSYNCDIR: 30,
  ACCESS: 34,
  CREATE: 35,
  INTERRUPT: 36,
  DESTROY: 38,
  BATCH_FORGET: 42,
  FALLOCATE: 43,
  READDIRPLUS: 44,
  RENAME2: 45,
  COPY_FILE_RANGE: 47,
  TMPFILE: 51,
  COPY_FILE_RANGE_64: 53,
} as const;

/** INIT flags (fuse_init_in.flags / fuse_init_out.flags). */
export const InitFlag = {
  ASYNC_READ: 1 << 0,
  BIG_WRITES: 1 << 5,
  DO_READDIRPLUS: 1 << 13,
  READDIRPLUS_AUTO: 1 << 14,
  PARALLEL_DIROPS: 1 << 18,
  MAX_PAGES: 1 << 22,
  CACHE_SYMLINKS: 1 << 23,
} as const;

/** fuse_open_out.open_flags. */
export const OpenFlag = { KEEP_CACHE: 1 << 1, CACHE_DIR: 1 << 3 } as const;

/** The errno values the file system answers with (Linux numbering, all architectures strata targets). */
export const Errno = {
  EPERM: 1,
  ENOENT: 2,
  EIO: 5,
  EBADF: 9,
  EACCES: 13,
  ENOTDIR: 20,
  EISDIR: 21,
  EINVAL: 22,
  EROFS: 30,
  ERANGE: 34,
  ENOSYS: 38,
  ENODATA: 61,
  EPROTO: 71,
} as const;

export const IN_HEADER_SIZE = 40;
export const OUT_HEADER_SIZE = 16;
export const ATTR_SIZE = 88;
export const ENTRY_OUT_SIZE = 40 + ATTR_SIZE;
export const ATTR_OUT_SIZE = 16 + ATTR_SIZE;
export const INIT_OUT_SIZE = 64;
export const DIRENT_SIZE = 24;
/** The kernel refuses read buffers smaller than this (FUSE_MIN_READ_BUFFER). */
export const MIN_READ_BUFFER = 8192;

/** fuse_in_header, decoded. */
export interface RequestHeader {
  len: number;
  opcode: number;
  unique: bigint;
  nodeid: number;
  uid: number;
  gid: number;
  pid: number;
}

/** One request: its header and the bytes after it (the opcode's argument struct and names). */
export interface Request {
  header: RequestHeader;
  body: Uint8Array;
}

/** Splits one request read from the device; a malformed one is INVALID_ARGUMENT. */
export function decodeRequest(bytes: Uint8Array): Request {
  if (bytes.length < IN_HEADER_SIZE) throw new StrataError("INVALID_ARGUMENT", `FUSE request of ${bytes.length} bytes is shorter than its ${IN_HEADER_SIZE}-byte header`);
  const v = view(bytes);
  const len = v.getUint32(0, true);
  if (len < IN_HEADER_SIZE || len > bytes.length) throw new StrataError("INVALID_ARGUMENT", `FUSE request says it is ${len} bytes but ${bytes.length} were read`);
  const header: RequestHeader = {
    len,
    opcode: v.getUint32(4, true),
    unique: v.getBigUint64(8, true),
    nodeid: safeNumber(v.getBigUint64(16, true), "nodeid"),
    uid: v.getUint32(24, true),
    gid: v.getUint32(28, true),
    pid: v.getUint32(32, true),
  };
  return { header, body: bytes.subarray(IN_HEADER_SIZE, len) };
}

/** The opcode's argument struct, checked to be at least `size` bytes. */
function args(body: Uint8Array, size: number, what: string): DataView {
  if (body.length < size) throw new StrataError("INVALID_ARGUMENT", `FUSE ${what} argument of ${body.length} bytes, expected ${size}`);
  return view(body);
}

const utf8 = new TextDecoder();

/** A NUL-terminated name starting at `offset` of the body (LOOKUP, GETXATTR). */
export function decodeName(body: Uint8Array, offset = 0): string {
  const end = body.indexOf(0, offset);
  return utf8.decode(body.subarray(offset, end < 0 ? body.length : end));
}

export interface InitIn {
  major: number;
  minor: number;
  maxReadahead: number;
  flags: number;
}

export function decodeInit(body: Uint8Array): InitIn {
  const v = args(body, 16, "INIT");
  return { major: v.getUint32(0, true), minor: v.getUint32(4, true), maxReadahead: v.getUint32(8, true), flags: v.getUint32(12, true) };
}

/** fuse_read_in (READ, READDIR, READDIRPLUS). */
export interface ReadIn {
  fh: number;
  offset: number;
  size: number;
}

export function decodeRead(body: Uint8Array): ReadIn {
  const v = args(body, 24, "READ");
  return { fh: safeNumber(v.getBigUint64(0, true), "fh"), offset: safeNumber(v.getBigUint64(8, true), "offset"), size: v.getUint32(16, true) };
}

/** fuse_open_in.flags (the open(2) flags). */
export function decodeOpenFlags(body: Uint8Array): number {
  return args(body, 8, "OPEN").getUint32(0, true);
}

/** fuse_getxattr_in.size (LISTXATTR too), then the name for GETXATTR. */
export function decodeGetxattr(body: Uint8Array): { size: number; name: string } {
  const size = args(body, 8, "GETXATTR").getUint32(0, true);
  return { size, name: decodeName(body, 8) };
}

/** fuse_access_in.mask. */
export function decodeAccess(body: Uint8Array): number {
  return args(body, 8, "ACCESS").getUint32(0, true);
}

/** BATCH_FORGET: how many nodes it names (nothing to do for an immutable tree, but it is checked). */
export function decodeBatchForget(body: Uint8Array): number {
  const count = args(body, 8, "BATCH_FORGET").getUint32(0, true);
  if (body.length < 8 + count * 16) throw new StrataError("INVALID_ARGUMENT", `FUSE BATCH_FORGET names ${count} nodes in ${body.length} bytes`);
  return count;
}

/** What the file system says about one node: the fields of fuse_attr. */
export interface Attr {
  ino: number;
  size: number;
  blocks: number;
  mtime: number;
  mtimeNsec: number;
  mode: number;
  nlink: number;
  uid: number;
  gid: number;
  rdev: number;
}

/** How long the kernel may cache entries and attributes (seconds); an image never changes. */
export interface Validity {
  entry: number;
  attr: number;
}

function writeAttr(v: DataView, at: number, a: Attr): void {
  v.setBigUint64(at, BigInt(a.ino), true);
  v.setBigUint64(at + 8, BigInt(a.size), true);
  v.setBigUint64(at + 16, BigInt(a.blocks), true);
  // atime, mtime and ctime are all the image's mtime: nothing ever changes them.
  for (const t of [24, 32, 40]) v.setBigUint64(at + t, BigInt(a.mtime), true);
  for (const t of [48, 52, 56]) v.setUint32(at + t, a.mtimeNsec, true);
  v.setUint32(at + 60, a.mode, true);
  v.setUint32(at + 64, a.nlink, true);
  v.setUint32(at + 68, a.uid, true);
  v.setUint32(at + 72, a.gid, true);
  v.setUint32(at + 76, a.rdev, true);
  v.setUint32(at + 80, 4096, true); // blksize
  v.setUint32(at + 84, 0, true); // flags
}

/** fuse_entry_out at `at`: nodeid 0 is a negative entry (the kernel caches the absence). */
function writeEntry(v: DataView, at: number, nodeid: number, attr: Attr | undefined, valid: Validity): void {
  v.setBigUint64(at, BigInt(nodeid), true);
  v.setBigUint64(at + 8, 0n, true); // generation: node ids are never reused
  v.setBigUint64(at + 16, BigInt(valid.entry), true);
  v.setBigUint64(at + 24, BigInt(valid.attr), true);
  if (attr) writeAttr(v, at + 40, attr);
}

/** A reply: fuse_out_header then the payload. */
export function encodeReply(unique: bigint, payload: Uint8Array = EMPTY): Uint8Array {
  const out = new Uint8Array(OUT_HEADER_SIZE + payload.length);
  const v = view(out);
  v.setUint32(0, out.length, true);
  v.setInt32(4, 0, true);
  v.setBigUint64(8, unique, true);
  out.set(payload, OUT_HEADER_SIZE);
  return out;
}

/** An error reply: only the header, with -errno. */
export function encodeError(unique: bigint, errno: number): Uint8Array {
  const out = new Uint8Array(OUT_HEADER_SIZE);
  const v = view(out);
  v.setUint32(0, OUT_HEADER_SIZE, true);
  v.setInt32(4, -errno, true);
  v.setBigUint64(8, unique, true);
  return out;
}

export interface InitOut {
  minor: number;
  maxReadahead: number;
  flags: number;
  maxBackground: number;
  maxWrite: number;
  maxPages: number;
}

export function encodeInit(o: InitOut): Uint8Array {
  const out = new Uint8Array(INIT_OUT_SIZE);
  const v = view(out);
  v.setUint32(0, FUSE_KERNEL_VERSION, true);
  v.setUint32(4, o.minor, true);
  v.setUint32(8, o.maxReadahead, true);
  v.setUint32(12, o.flags, true);
  v.setUint16(16, o.maxBackground, true);
  v.setUint16(18, Math.floor((o.maxBackground * 3) / 4), true); // congestion threshold, as the kernel's default ratio
  v.setUint32(20, o.maxWrite, true);
  v.setUint32(24, 1, true); // time_gran: nanoseconds
  v.setUint16(28, o.maxPages, true);
  return out;
}

export function encodeEntry(nodeid: number, attr: Attr | undefined, valid: Validity): Uint8Array {
  const out = new Uint8Array(ENTRY_OUT_SIZE);
  writeEntry(view(out), 0, nodeid, attr, valid);
  return out;
}

export function encodeAttr(attr: Attr, valid: Validity): Uint8Array {
  const out = new Uint8Array(ATTR_OUT_SIZE);
  const v = view(out);
  v.setBigUint64(0, BigInt(valid.attr), true);
  writeAttr(v, 16, attr);
  return out;
}

/** fuse_open_out: the file handle and FOPEN_* flags. */
export function encodeOpen(fh: number, openFlags: number): Uint8Array {
  const out = new Uint8Array(16);
  const v = view(out);
  v.setBigUint64(0, BigInt(fh), true);
  v.setUint32(8, openFlags, true);
  return out;
}

export interface StatfsOut {
  blocks: number;
  files: number;
  blockSize: number;
  nameMax: number;
}

/** fuse_statfs_out: nothing is ever free on a read-only image. */
export function encodeStatfs(s: StatfsOut): Uint8Array {
  const out = new Uint8Array(80);
  const v = view(out);
  v.setBigUint64(0, BigInt(s.blocks), true);
  v.setBigUint64(24, BigInt(s.files), true);
  v.setUint32(40, s.blockSize, true);
  v.setUint32(44, s.nameMax, true);
  v.setUint32(48, s.blockSize, true); // frsize
  return out;
}

/** fuse_getxattr_out: the size a value (or the name list) needs, for callers that passed size 0. */
export function encodeXattrSize(size: number): Uint8Array {
  const out = new Uint8Array(8);
  view(out).setUint32(0, size, true);
  return out;
}

/** One directory entry for READDIR (plus: READDIRPLUS, with its lookup result in front). */
export interface DirentIn {
  name: Uint8Array;
  ino: number;
  /** st_mode of the entry; its type bits become d_type. */
  mode: number;
  /** The offset of the entry after this one: where the next READDIR resumes. */
  next: number;
  /** READDIRPLUS only: the node id and attributes (nodeid 0 for "." and "..", which the kernel does not link). */
  nodeid?: number;
  attr?: Attr;
}

const align8 = (n: number) => (n + 7) & ~7;

/** The bytes one entry takes in a READDIR (plus) reply. */
export function direntSize(nameLength: number, plus: boolean): number {
  return (plus ? ENTRY_OUT_SIZE : 0) + align8(DIRENT_SIZE + nameLength);
}

/**
 * Packs entries into a reply payload of at most `max` bytes, each aligned to 8 bytes; stops at
 * the first that does not fit (the kernel asks again from its `next` offset).
 */
export function encodeDirents(entries: Iterable<DirentIn>, max: number, plus: boolean, valid: Validity): Uint8Array {
  const parts: DirentIn[] = [];
  let total = 0;
  for (const e of entries) {
    const size = direntSize(e.name.length, plus);
    if (total + size > max) break;
    parts.push(e);
    total += size;
  }
  const out = new Uint8Array(total);
  const v = view(out);
  let at = 0;
  for (const e of parts) {
    if (plus) {
      writeEntry(v, at, e.nodeid ?? 0, e.attr, valid);
      at += ENTRY_OUT_SIZE;
    }
    v.setBigUint64(at, BigInt(e.ino), true);
    v.setBigUint64(at + 8, BigInt(e.next), true);
    v.setUint32(at + 16, e.name.length, true);
    v.setUint32(at + 20, (e.mode >>> 12) & 0o17, true); // DT_* = S_IFMT >> 12
    out.set(e.name, at + DIRENT_SIZE);
    at += align8(DIRENT_SIZE + e.name.length);
  }
  return out;
}

const EMPTY = new Uint8Array(0);

function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function safeNumber(value: bigint, what: string): number {
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw new StrataError("INVALID_ARGUMENT", `FUSE ${what} ${value} is out of range`);
  return Number(value);
}
