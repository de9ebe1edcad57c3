/**
 * Streaming tar reader: ustar, pax (per-entry and global) and GNU long names, with base-256
 * numbers. Memory stays bounded by the input's chunk size: bodies are streamed as views of the
 * input chunks or skipped (seeked over when the input is random-access). Only pax and GNU
 * long-name records, capped at MAX_META_SIZE, are buffered whole.
 */
import { StrataError } from "../errors.js";
import { concat } from "../kernels/stream.js";
import { ByteCursor, type TarInput } from "./bytes.js";

export type { RandomAccessSource, TarInput } from "./bytes.js";

export type TarEntryType = "file" | "hardlink" | "symlink" | "chardev" | "blockdev" | "dir" | "fifo";

export interface TarHeader {
  /** The member name as stored (after pax/GNU overrides): may start with "./", dirs may end in "/". */
  path: string;
  type: TarEntryType;
  /** Permission bits with setuid/setgid/sticky (mode & 0o7777). */
  mode: number;
  uid: number;
  gid: number;
  uname: string;
  gname: string;
  /** Body length in bytes; 0 for every type but "file". */
  size: number;
  /** Seconds since the epoch (may be negative) and the nanoseconds part from pax. */
  mtime: number;
  mtimeNsec: number;
  /** Hardlink target path or symlink target. */
  linkname: string;
  devmajor: number;
  devminor: number;
  /** From pax SCHILY.xattr.NAME records: NAME → raw value bytes. */
  xattrs: Map<string, Uint8Array>;
  /** Byte offset of this entry's first header block (including pax/GNU records) in the tar. */
  headerOffset: number;
  /** Byte offset of the body in the tar: the file's bytes are [offset, offset + size). */
  offset: number;
}

export interface TarEntry extends TarHeader {
  /** Streams the body as views valid until the next entry is requested. Once, before moving on. */
  body(): AsyncIterableIterator<Uint8Array>;
  /** The whole body in one buffer (for small members: manifests, configs). */
  bytes(): Promise<Uint8Array>;
}

export interface TarReadOptions {
  /** Read the input to its end after the end-of-archive blocks (default true) so that wrapping streams that verify digests at their end get to do so. */
  drain?: boolean;
}

const BLOCK = 512;
/** Largest pax or GNU long-name record accepted (as Go's archive/tar does). */
export const MAX_META_SIZE = 1 << 20;
const BODY_CHUNK = 1 << 20;

const latin1 = new TextDecoder("latin1");
const utf8 = new TextDecoder("utf-8");

function corrupt(message: string, offset: number, extra: Record<string, unknown> = {}): StrataError {
  return new StrataError("TAR_CORRUPT", `${message} (tar offset ${offset})`, { offset, ...extra });
}

/** A NUL-terminated string field. */
function field(block: Uint8Array, start: number, length: number): string {
  let end = start;
  while (end < start + length && block[end] !== 0) end++;
  return utf8.decode(block.subarray(start, end));
}

/** An octal or base-256 number field. */
function number(block: Uint8Array, start: number, length: number, name: string, offset: number): number {
  const first = block[start]!;
  if (first & 0x80) {
    if (first === 0xff) throw corrupt(`negative ${name} in tar header`, offset);
    let value = first & 0x7f;
    for (let i = start + 1; i < start + length; i++) {
      value = value * 256 + block[i]!;
      if (value > Number.MAX_SAFE_INTEGER) throw corrupt(`${name} too large in tar header`, offset);
    }
    return value;
  }
  let i = start;
  const end = start + length;
  while (i < end && block[i] === 0x20) i++;
  let value = 0;
  let digits = 0;
  for (; i < end; i++) {
    const c = block[i]!;
    if (c === 0 || c === 0x20) break;
    if (c < 0x30 || c > 0x37) throw corrupt(`${name} is not an octal number in tar header`, offset);
    value = value * 8 + (c - 0x30);
    digits++;
  }
  // Anything after the terminator must be padding.
  for (; i < end; i++) if (block[i] !== 0 && block[i] !== 0x20) throw corrupt(`${name} is not an octal number in tar header`, offset);
  if (value > Number.MAX_SAFE_INTEGER) throw corrupt(`${name} too large in tar header`, offset);
  return digits === 0 ? 0 : value;
}

function isZeroBlock(block: Uint8Array): boolean {
  for (let i = 0; i < BLOCK; i++) if (block[i] !== 0) return false;
  return true;
}

function verifyChecksum(block: Uint8Array, offset: number): void {
  const stored = number(block, 148, 8, "checksum", offset);
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const b = i >= 148 && i < 156 ? 0x20 : block[i]!;
    unsigned += b;
    signed += b > 127 ? b - 256 : b;
  }
  if (stored !== unsigned && stored !== signed) {
    throw corrupt(`tar header checksum mismatch: stored ${stored}, computed ${unsigned}`, offset);
  }
}

/** Pax extended header records: "LEN key=value\n", LEN counting the whole record. */
export function parsePax(data: Uint8Array, offset: number): Map<string, Uint8Array> {
  const records = new Map<string, Uint8Array>();
  let at = 0;
  while (at < data.length) {
    // Trailing NUL padding after the last record is tolerated (some writers emit it).
    if (data[at] === 0) {
      for (let i = at; i < data.length; i++) if (data[i] !== 0) throw corrupt("pax record padding is not NUL", offset);
      break;
    }
    let i = at;
    let length = 0;
    while (i < data.length && data[i]! >= 0x30 && data[i]! <= 0x39 && i - at < 16) length = length * 10 + (data[i++]! - 0x30);
    if (i === at || data[i] !== 0x20) throw corrupt("pax record length is malformed", offset);
    const end = at + length;
    if (length <= i - at + 1 || end > data.length || data[end - 1] !== 0x0a) {
      throw corrupt(`pax record length ${length} does not match its contents`, offset);
    }
    const kv = data.subarray(i + 1, end - 1);
    const eq = kv.indexOf(0x3d);
    if (eq <= 0) throw corrupt("pax record has no key", offset);
    records.set(utf8.decode(kv.subarray(0, eq)), kv.slice(eq + 1));
    at = end;
  }
  return records;
}

function paxDecimal(value: string, key: string, offset: number): number {
  if (!/^[0-9]{1,16}$/.test(value) || Number(value) > Number.MAX_SAFE_INTEGER) {
    throw corrupt(`pax ${key} is not a valid number: ${JSON.stringify(value.slice(0, 40))}`, offset);
  }
  return Number(value);
}

/** pax mtime "SECONDS[.FRACTION]" → seconds and nanoseconds (floor semantics for negatives). */
function paxTime(value: string, offset: number): [number, number] {
  const m = /^(-?)([0-9]{1,16})(?:\.([0-9]*))?$/.exec(value);
  if (!m) throw corrupt(`pax mtime is malformed: ${JSON.stringify(value.slice(0, 40))}`, offset);
  let seconds = Number(m[2]);
  let nsec = Number((m[3] ?? "").slice(0, 9).padEnd(9, "0"));
  if (m[1] === "-") {
    seconds = -seconds;
    if (nsec > 0) {
      seconds -= 1;
      nsec = 1e9 - nsec;
    }
  }
  return [seconds, nsec];
}

function checkName(name: string, what: string, offset: number): string {
  if (name.includes("\0")) throw new StrataError("UNSAFE_PATH", `${what} contains NUL (tar offset ${offset})`, { offset, path: name });
  return name;
}

const TYPES: Record<string, TarEntryType> = {
  "0": "file",
  "\0": "file",
  "7": "file",
  "1": "hardlink",
  "2": "symlink",
  "3": "chardev",
  "4": "blockdev",
  "5": "dir",
  "6": "fifo",
};

/** Pending metadata from pax ("x") and GNU ("L", "K") records that apply to the next entry. */
interface Pending {
  pax?: Map<string, Uint8Array>;
  longName?: string;
  longLink?: string;
  start: number;
}

/**
 * Yields the entries of a tar archive. A body left unread is skipped when the next entry is
 * requested. Breaking out of the loop cancels the input.
 */
export async function* readTar(input: TarInput, options: TarReadOptions = {}): AsyncGenerator<TarEntry> {
  const cursor = new ByteCursor(input);
  const globals = new Map<string, Uint8Array>();
  let pending: Pending | undefined;
  let finished = false;
  try {
    for (;;) {
      const headerOffset = cursor.position;
      const block = await cursor.readExact(BLOCK, "a tar header");
      if (!block) {
        if (pending) throw new StrataError("TRUNCATED", `tar ended after a pax or GNU header at offset ${pending.start}`, { offset: pending.start });
        break; // EOF without end-of-archive blocks: tolerated.
      }
      if (isZeroBlock(block)) {
        if (pending) throw corrupt("pax or GNU header not followed by an entry", pending.start);
        const second = await cursor.readExact(BLOCK, "the end-of-archive blocks");
        if (second && !isZeroBlock(second)) throw corrupt("a single zero block is followed by data", headerOffset);
        break;
      }
      verifyChecksum(block, headerOffset);
      const typeflag = String.fromCharCode(block[156]!);
      const size = number(block, 124, 12, "size", headerOffset);

      if (typeflag === "x" || typeflag === "g" || typeflag === "L" || typeflag === "K") {
        if (size > MAX_META_SIZE) throw corrupt(`${typeflag} header of ${size} bytes exceeds ${MAX_META_SIZE}`, headerOffset);
        const data = (await cursor.readExact(size, "a pax or GNU header body")) ?? truncated(cursor.position);
        await cursor.skip(padding(size), "tar padding");
        pending ??= { start: headerOffset };
        if (typeflag === "x") pending.pax = parsePax(data, headerOffset);
        else if (typeflag === "g") for (const [k, v] of parsePax(data, headerOffset)) globals.set(k, v);
        else {
          const name = checkName(utf8.decode(trimNul(data)), typeflag === "L" ? "GNU long name" : "GNU long link", headerOffset);
          if (typeflag === "L") pending.longName = name;
          else pending.longLink = name;
        }
        // A global header alone carries no entry.
        if (typeflag === "g" && !pending.pax && pending.longName === undefined && pending.longLink === undefined) pending = undefined;
        continue;
      }
      if (typeflag === "S") throw new StrataError("UNSUPPORTED", `GNU sparse file in tar at offset ${headerOffset}`, { offset: headerOffset });
      let type = TYPES[typeflag];
      if (!type) {
        throw new StrataError("UNSUPPORTED", `tar entry type '${printable(typeflag)}' at offset ${headerOffset} is not supported`, { offset: headerOffset, typeflag });
      }

      const entry = header(block, type, size, pending, globals, pending?.start ?? headerOffset, cursor.position);
      pending = undefined;
      // Pre-POSIX tars mark directories only by a trailing slash on an old-style ("\0") file entry.
      if (typeflag === "\0" && entry.path.endsWith("/")) type = entry.type = "dir";
      // Like Go's archive/tar, only regular files have bodies; other types' size fields are ignored.
      const bodySize = type === "file" ? entry.size : 0;
      if (type !== "file") entry.size = 0;

      let state: "unread" | "reading" | "done" = "unread";
      let remaining = bodySize;
      const body = async function* (): AsyncIterableIterator<Uint8Array> {
        if (state !== "unread") throw new StrataError("INVALID_ARGUMENT", `body of tar entry ${entry.path} was already read`);
        state = "reading";
        while (remaining > 0) {
          const bytes = await cursor.readSome(Math.min(remaining, BODY_CHUNK), `the body of ${entry.path}`);
          remaining -= bytes.length;
          yield bytes;
        }
        state = "done";
      };
      const full: TarEntry = Object.assign(entry, {
        body,
        async bytes() {
          // Collect first so that a size larger than the archive fails as TRUNCATED, not as a huge allocation.
          const parts: Uint8Array[] = [];
          for await (const b of body()) parts.push(b);
          return parts.length === 1 ? parts[0]!.slice() : concat(parts, bodySize);
        },
      });
      yield full;
      state = "done";
      const unread = remaining;
      remaining = 0;
      await cursor.skip(unread + padding(bodySize), `the body of ${entry.path}`);
    }
    finished = true;
    if (options.drain !== false) await cursor.drain();
  } finally {
    if (!finished) await cursor.cancel().catch(() => {});
  }
}

function truncated(offset: number): never {
  throw new StrataError("TRUNCATED", `tar ended inside a header body at offset ${offset}`, { offset });
}

function padding(size: number): number {
  return (BLOCK - (size % BLOCK)) % BLOCK;
}

function trimNul(data: Uint8Array): Uint8Array {
  let end = data.length;
  while (end > 0 && data[end - 1] === 0) end--;
  return data.subarray(0, end);
}

function printable(c: string): string {
  const code = c.charCodeAt(0);
  return code >= 0x20 && code < 0x7f ? c : `\\x${code.toString(16).padStart(2, "0")}`;
}

function header(
  block: Uint8Array,
  type: TarEntryType,
  size: number,
  pending: Pending | undefined,
  globals: Map<string, Uint8Array>,
  headerOffset: number,
  offset: number,
): TarHeader {
  const magic = latin1.decode(block.subarray(257, 263));
  let path = field(block, 0, 100);
  // POSIX ustar splits long names into prefix/name; old GNU uses those bytes for atime/ctime.
  if (magic === "ustar\0") {
    const prefix = field(block, 345, 155);
    if (prefix) path = `${prefix}/${path}`;
  }
  const h: TarHeader = {
    path,
    type,
    mode: number(block, 100, 8, "mode", headerOffset) & 0o7777,
    uid: number(block, 108, 8, "uid", headerOffset),
    gid: number(block, 116, 8, "gid", headerOffset),
    uname: field(block, 265, 32),
    gname: field(block, 297, 32),
    size,
    mtime: number(block, 136, 12, "mtime", headerOffset),
    mtimeNsec: 0,
    linkname: field(block, 157, 100),
    devmajor: type === "chardev" || type === "blockdev" ? number(block, 329, 8, "devmajor", headerOffset) : 0,
    devminor: type === "chardev" || type === "blockdev" ? number(block, 337, 8, "devminor", headerOffset) : 0,
    xattrs: new Map(),
    headerOffset,
    offset,
  };
  if (pending?.longName !== undefined) h.path = pending.longName;
  if (pending?.longLink !== undefined) h.linkname = pending.longLink;
  const records = pending?.pax ? new Map([...globals, ...pending.pax]) : globals;
  for (const [key, raw] of records) applyPax(h, key, raw, headerOffset);
  return h;
}

function libarchiveXattr(key: string, raw: Uint8Array, offset: number): { key: string; value: Uint8Array } {
  try {
    const name = decodeURIComponent(key.slice("LIBARCHIVE.xattr.".length));
    const text = atob(utf8.decode(raw).trim());
    return { key: name, value: Uint8Array.from(text, (c) => c.charCodeAt(0)) };
  } catch {
    throw new StrataError("TAR_CORRUPT", `pax ${key} at offset ${offset} is not URL-encoded name = base64 value`, { offset });
  }
}

function applyPax(h: TarHeader, key: string, raw: Uint8Array, offset: number): void {
  if (key.startsWith("SCHILY.xattr.")) {
    h.xattrs.set(key.slice("SCHILY.xattr.".length), raw);
    return;
  }
  if (key.startsWith("LIBARCHIVE.xattr.")) {
    // libarchive's form (URL-encoded name, base64 value); it writes SCHILY too, which wins.
    const name = libarchiveXattr(key, raw, offset);
    if (!h.xattrs.has(name.key)) h.xattrs.set(name.key, name.value);
    return;
  }
  if (key.startsWith("GNU.sparse.")) {
    throw new StrataError("UNSUPPORTED", `GNU sparse file (pax ${key}) in tar at offset ${offset}`, { offset });
  }
  const value = utf8.decode(raw);
  switch (key) {
    case "path":
      h.path = checkName(value, "pax path", offset);
      break;
    case "linkpath":
      h.linkname = checkName(value, "pax linkpath", offset);
      break;
    case "size":
      h.size = paxDecimal(value, key, offset);
      break;
    case "uid":
      h.uid = paxDecimal(value, key, offset);
      break;
    case "gid":
      h.gid = paxDecimal(value, key, offset);
      break;
    case "uname":
      h.uname = value;
      break;
    case "gname":
      h.gname = value;
      break;
    case "mtime":
      [h.mtime, h.mtimeNsec] = paxTime(value, offset);
      break;
  }
}
