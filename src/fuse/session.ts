/**
 * One FUSE connection's request handling, runtime-free: bytes of a request in, bytes of its reply
 * out. The runtime adapter reads requests from /dev/fuse, calls handle() for each without waiting
 * for the previous one (replies carry the request's `unique`, so they may go back in any order),
 * and writes every reply it gets back.
 *
 * The file system is read-only: every modifying opcode is EROFS, an unknown one ENOSYS, and a
 * failed read EIO (with the cause passed to onError), never other bytes.
 */
import { isStrataError, StrataError } from "../errors.js";
import { S_IFDIR, S_IFLNK, S_IFMT, S_IFREG } from "../fs/inode.js";
import type { ReadOnlyFs } from "./fs.js";
import {
  type Attr,
  decodeAccess,
  decodeBatchForget,
  decodeGetxattr,
  decodeInit,
  decodeName,
  decodeOpenFlags,
  decodeRead,
  decodeRequest,
  encodeAttr,
  encodeDirents,
  encodeEntry,
  encodeError,
  encodeInit,
  encodeOpen,
  encodeReply,
  encodeStatfs,
  encodeXattrSize,
  Errno,
  FUSE_KERNEL_MINOR,
  FUSE_KERNEL_VERSION,
  InitFlag,
  IN_HEADER_SIZE,
  MIN_READ_BUFFER,
  Opcode,
  OpenFlag,
  type RequestHeader,
  type Validity,
} from "./protocol.js";

export interface SessionOptions {
  /** Seconds the kernel may cache lookups and attributes (default: one hour; an image never changes). */
  validity?: Validity;
  /** Largest READ the kernel may send, in 4 KiB pages (default 256: 1 MiB, one default chunk). */
  maxPages?: number;
  /** A READ still unanswered after this long fails with EIO (default 60 s), so no reader hangs on a stalled store. */
  readTimeoutMs?: number;
  /** Told about every request that failed with EIO: what failed and why. */
  onError?(error: unknown, request: { opcode: number; nodeid: number }): void;
}

export interface FuseSession {
  /** The reply to one request, or undefined for those that get none (FORGET, INTERRUPT); never rejects. */
  handle(request: Uint8Array): Promise<Uint8Array | undefined>;
  /** How large each device read buffer must be: the largest request plus its header. */
  readonly bufferSize: number;
  /** True once the kernel sent DESTROY: the connection is ending. */
  readonly destroyed: boolean;
}

const MODIFYING = new Set<number>([
  Opcode.SETATTR,
  Opcode.SYMLINK,
  Opcode.MKNOD,
  Opcode.MKDIR,
  Opcode.UNLINK,
  Opcode.RMDIR,
  Opcode.RENAME,
  Opcode.LINK,
  Opcode.WRITE,
  Opcode.SETXATTR,
  Opcode.REMOVEXATTR,
  Opcode.CREATE,
  Opcode.FALLOCATE,
  Opcode.RENAME2,
  Opcode.COPY_FILE_RANGE,
  Opcode.TMPFILE,
  Opcode.COPY_FILE_RANGE_64,
]);
/** Nothing to flush or sync on a read-only image: these succeed. */
const NOTHING_TO_DO = new Set<number>([Opcode.FLUSH, Opcode.FSYNC, Opcode.FSYNCDIR, Opcode.RELEASE, Opcode.RELEASEDIR]);

const O_ACCMODE = 3;
const O_TRUNC = 0o1000;
const W_OK = 2;
const PAGE = 4096;
const utf8 = new TextEncoder();

/** A failure that is answered with this errno rather than EIO. */
class Reply extends Error {
  constructor(readonly errno: number) {
    super(`errno ${errno}`);
  }
}

export function fuseSession(fs: ReadOnlyFs, options: SessionOptions = {}): FuseSession {
  const validity = options.validity ?? { entry: 3600, attr: 3600 };
  const maxPages = options.maxPages ?? 256;
  const readTimeout = options.readTimeoutMs ?? 60_000;
  let initialized = false;
  let destroyed = false;

  const attrOf = (node: number): Attr => {
    const attr = fs.getattr(node);
    if (!attr) throw new Reply(Errno.ENOENT);
    return attr;
  };
  const expect = (node: number, type: number, errno: number): Attr => {
    const attr = attrOf(node);
    if ((attr.mode & S_IFMT) !== type) throw new Reply(errno);
    return attr;
  };

  const dirents = (h: RequestHeader, body: Uint8Array, plus: boolean): Uint8Array => {
    const { offset, size } = decodeRead(body);
    const dir = expect(h.nodeid, S_IFDIR, Errno.ENOTDIR);
    const parent = fs.parent(h.nodeid);
    const entries = fs.readdir(h.nodeid);
    // Offsets: 0 ".", 1 "..", 2 + i the i-th entry; each entry carries the offset after it.
    function* from(start: number) {
      for (let i = start; i < entries.length + 2; i++) {
        if (i < 2) {
          const attr = i === 0 ? dir : attrOf(parent);
          yield { name: utf8.encode(i === 0 ? "." : ".."), ino: attr.ino, mode: attr.mode, next: i + 1 };
          continue;
        }
        const { name, node } = entries[i - 2]!;
        const attr = attrOf(node);
        yield { name: utf8.encode(name), ino: attr.ino, mode: attr.mode, next: i + 1, nodeid: node, attr };
      }
    }
    return encodeDirents(from(offset), size, plus, validity);
  };

  const getxattr = (h: RequestHeader, body: Uint8Array): Uint8Array => {
    const { size, name } = decodeGetxattr(body);
    attrOf(h.nodeid);
    const value = fs.xattrs(h.nodeid).get(name);
    if (!value) throw new Reply(Errno.ENODATA);
    return sized(value, size);
  };

  const listxattr = (h: RequestHeader, body: Uint8Array): Uint8Array => {
    const { size } = decodeGetxattr(body);
    attrOf(h.nodeid);
    const names = [...fs.xattrs(h.nodeid).keys()].map((n) => utf8.encode(n + "\0"));
    const list = new Uint8Array(names.reduce((n, b) => n + b.length, 0));
    let at = 0;
    for (const b of names) {
      list.set(b, at);
      at += b.length;
    }
    return sized(list, size);
  };

  const access = (h: RequestHeader, body: Uint8Array): void => {
    const mask = decodeAccess(body);
    const attr = attrOf(h.nodeid);
    if (mask & W_OK) throw new Reply(Errno.EROFS);
    if (!permits(attr, h, mask)) throw new Reply(Errno.EACCES);
  };

  const read = async (h: RequestHeader, body: Uint8Array): Promise<Uint8Array> => {
    const { offset, size } = decodeRead(body);
    expect(h.nodeid, S_IFREG, Errno.EISDIR);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new StrataError("IO", `read of node ${h.nodeid} at offset ${offset} took longer than ${readTimeout} ms`, { node: h.nodeid, offset })), readTimeout);
    });
    try {
      return await Promise.race([fs.read(h.nodeid, offset, size), deadline]);
    } finally {
      clearTimeout(timer);
    }
  };

  async function answer(h: RequestHeader, body: Uint8Array): Promise<Uint8Array | undefined> {
    switch (h.opcode) {
      case Opcode.INIT: {
        const init = decodeInit(body);
        if (init.major !== FUSE_KERNEL_VERSION) throw new Reply(Errno.EPROTO);
        initialized = true;
        const wanted = InitFlag.ASYNC_READ | InitFlag.DO_READDIRPLUS | InitFlag.READDIRPLUS_AUTO | InitFlag.PARALLEL_DIROPS | InitFlag.MAX_PAGES | InitFlag.CACHE_SYMLINKS;
        return encodeInit({
          minor: Math.min(init.minor, FUSE_KERNEL_MINOR),
          maxReadahead: init.maxReadahead,
          flags: init.flags & wanted,
          maxBackground: 64,
          maxWrite: maxPages * PAGE,
          maxPages,
        });
      }
      case Opcode.DESTROY:
        destroyed = true;
        return new Uint8Array(0);
      case Opcode.LOOKUP: {
        expect(h.nodeid, S_IFDIR, Errno.ENOTDIR);
        const node = fs.lookup(h.nodeid, decodeName(body));
        // A negative entry (node id 0) lets the kernel cache the absence: programs probe a lot.
        return node === undefined ? encodeEntry(0, undefined, validity) : encodeEntry(node, attrOf(node), validity);
      }
      case Opcode.GETATTR:
        return encodeAttr(attrOf(h.nodeid), validity);
      case Opcode.READLINK:
        expect(h.nodeid, S_IFLNK, Errno.EINVAL);
        return fs.readlink(h.nodeid);
      case Opcode.OPEN: {
        const flags = decodeOpenFlags(body);
        if ((flags & O_ACCMODE) !== 0 || flags & O_TRUNC) throw new Reply(Errno.EROFS);
        expect(h.nodeid, S_IFREG, Errno.EISDIR);
        return encodeOpen(0, OpenFlag.KEEP_CACHE);
      }
      case Opcode.OPENDIR:
        expect(h.nodeid, S_IFDIR, Errno.ENOTDIR);
        return encodeOpen(0, OpenFlag.KEEP_CACHE | OpenFlag.CACHE_DIR);
      case Opcode.READ:
        return read(h, body);
      case Opcode.READDIR:
        return dirents(h, body, false);
      case Opcode.READDIRPLUS:
        return dirents(h, body, true);
      case Opcode.STATFS: {
        const s = fs.statfs();
        return encodeStatfs({ blocks: s.blocks, files: s.files, blockSize: PAGE, nameMax: 255 });
      }
      case Opcode.GETXATTR:
        return getxattr(h, body);
      case Opcode.LISTXATTR:
        return listxattr(h, body);
      case Opcode.ACCESS:
        access(h, body);
        return new Uint8Array(0);
      default:
        if (NOTHING_TO_DO.has(h.opcode)) return new Uint8Array(0);
        throw new Reply(MODIFYING.has(h.opcode) ? Errno.EROFS : Errno.ENOSYS);
    }
  }

  return {
    bufferSize: Math.max(MIN_READ_BUFFER, IN_HEADER_SIZE + 4096 + maxPages * PAGE),
    get destroyed() {
      return destroyed;
    },
    async handle(bytes) {
      let request: ReturnType<typeof decodeRequest>;
      try {
        request = decodeRequest(bytes);
      } catch (e) {
        // Still answer when the header's `unique` is there: an unanswered request blocks its caller.
        options.onError?.(e, { opcode: bytes.length >= 8 ? new DataView(bytes.buffer, bytes.byteOffset).getUint32(4, true) : -1, nodeid: 0 });
        return bytes.length >= 16 ? encodeError(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(8, true), Errno.EIO) : undefined;
      }
      const { header, body } = request;
      if (header.opcode === Opcode.FORGET || header.opcode === Opcode.INTERRUPT) return undefined;
      if (header.opcode === Opcode.BATCH_FORGET) {
        try {
          decodeBatchForget(body);
        } catch (e) {
          options.onError?.(e, { opcode: header.opcode, nodeid: header.nodeid });
        }
        return undefined;
      }
      if (!initialized && header.opcode !== Opcode.INIT) return encodeError(header.unique, Errno.EIO);
      try {
        return encodeReply(header.unique, await answer(header, body));
      } catch (e) {
        if (e instanceof Reply) return encodeError(header.unique, e.errno);
        options.onError?.(e, { opcode: header.opcode, nodeid: header.nodeid });
        return encodeError(header.unique, isStrataError(e, "INVALID_ARGUMENT") && header.opcode !== Opcode.READ ? Errno.EINVAL : Errno.EIO);
      }
    },
  };
}

/** An xattr value or name list for a caller that offered `size` bytes (0: just tell the size). */
function sized(value: Uint8Array, size: number): Uint8Array {
  if (size === 0) return encodeXattrSize(value.length);
  if (size < value.length) throw new Reply(Errno.ERANGE);
  return value;
}

/** The permission bits check of access(2): root may read anything and execute what anyone may. */
function permits(attr: Attr, h: RequestHeader, mask: number): boolean {
  const want = mask & 7;
  if (h.uid === 0) return !(want & 1) || (attr.mode & S_IFMT) === S_IFDIR || (attr.mode & 0o111) !== 0;
  const bits = h.uid === attr.uid ? (attr.mode >> 6) & 7 : h.gid === attr.gid ? (attr.mode >> 3) & 7 : attr.mode & 7;
  return (bits & want) === want;
}
