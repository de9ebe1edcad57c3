/**
 * Tar writer: ustar headers, with a pax record set in front of an entry whenever a value does
 * not fit ustar (long names and links, big ids and sizes, sub-second or negative mtimes,
 * xattrs). Produces what readTar reads.
 */
import { StrataError } from "../errors.js";
import { concat } from "../kernels/stream.js";
import type { TarEntryType } from "./reader.js";

export interface TarWriteHeader {
  path: string;
  type: TarEntryType;
  /** Body size; regular files only. */
  size?: number;
  mode?: number;
  uid?: number;
  gid?: number;
  uname?: string;
  gname?: string;
  mtime?: number;
  mtimeNsec?: number;
  linkname?: string;
  devmajor?: number;
  devminor?: number;
  xattrs?: ReadonlyMap<string, Uint8Array>;
}

export interface TarWriteEntry extends TarWriteHeader {
  data?: Uint8Array;
}

const BLOCK = 512;
const utf8 = new TextEncoder();

const TYPEFLAG: Record<TarEntryType, string> = {
  file: "0",
  hardlink: "1",
  symlink: "2",
  chardev: "3",
  blockdev: "4",
  dir: "5",
  fifo: "6",
};

/** Largest value an octal field of `width` bytes holds (width - 1 digits and a NUL). */
function octalMax(width: number): number {
  return 8 ** (width - 1) - 1;
}

function putString(block: Uint8Array, at: number, width: number, bytes: Uint8Array): void {
  block.set(bytes.subarray(0, width), at);
}

function putOctal(block: Uint8Array, at: number, width: number, value: number): void {
  putString(block, at, width, utf8.encode(value.toString(8).padStart(width - 1, "0")));
}

/** Splits a name into ustar prefix and name fields, or undefined when it cannot fit. */
function splitUstar(path: Uint8Array): [Uint8Array, Uint8Array] | undefined {
  if (path.length <= 100) return [new Uint8Array(0), path];
  for (let i = Math.min(path.length - 1, 155); i > 0; i--) {
    if (path[i] === 0x2f && path.length - i - 1 <= 100 && path.length - i - 1 > 0) return [path.subarray(0, i), path.subarray(i + 1)];
  }
  return undefined;
}

function paxRecord(key: string, value: Uint8Array): Uint8Array {
  const k = utf8.encode(key);
  const base = k.length + value.length + 3; // " ", "=", "\n"
  let length = base + 1;
  while (String(length).length + base !== length) length = String(length).length + base;
  return concat([utf8.encode(`${length} `), k, utf8.encode("="), value, utf8.encode("\n")]);
}

function ustarBlock(h: TarWriteHeader, typeflag: string, name: Uint8Array, prefix: Uint8Array, size: number, linkname: Uint8Array): Uint8Array {
  const block = new Uint8Array(BLOCK);
  putString(block, 0, 100, name);
  putOctal(block, 100, 8, (h.mode ?? (h.type === "dir" ? 0o755 : 0o644)) & 0o7777);
  putOctal(block, 108, 8, Math.min(h.uid ?? 0, octalMax(8)));
  putOctal(block, 116, 8, Math.min(h.gid ?? 0, octalMax(8)));
  putOctal(block, 124, 12, size);
  putOctal(block, 136, 12, Math.max(0, Math.min(h.mtime ?? 0, octalMax(12))));
  block.fill(0x20, 148, 156);
  block[156] = typeflag.charCodeAt(0);
  putString(block, 157, 100, linkname);
  putString(block, 257, 8, utf8.encode("ustar\u000000"));
  putString(block, 265, 32, utf8.encode(h.uname ?? ""));
  putString(block, 297, 32, utf8.encode(h.gname ?? ""));
  putOctal(block, 329, 8, h.devmajor ?? 0);
  putOctal(block, 337, 8, h.devminor ?? 0);
  putString(block, 345, 155, prefix);
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += block[i]!;
  putString(block, 148, 8, utf8.encode(`${sum.toString(8).padStart(6, "0")}\0 `));
  return block;
}

/** The header blocks of one entry (a pax header first when needed). The body follows, then tarPadding(size). */
export function tarHeader(h: TarWriteHeader): Uint8Array {
  const size = h.type === "file" ? (h.size ?? 0) : 0;
  if (!Number.isSafeInteger(size) || size < 0) throw new StrataError("INVALID_ARGUMENT", `tar entry ${h.path} has an invalid size ${size}`);
  const path = utf8.encode(h.path);
  const link = utf8.encode(h.linkname ?? "");
  const pax: Uint8Array[] = [];
  let split = splitUstar(path);
  if (!split) {
    pax.push(paxRecord("path", path));
    split = [new Uint8Array(0), path.subarray(0, 100)];
  }
  if (link.length > 100) pax.push(paxRecord("linkpath", link));
  if (size > octalMax(12)) pax.push(paxRecord("size", utf8.encode(String(size))));
  if ((h.uid ?? 0) > octalMax(8)) pax.push(paxRecord("uid", utf8.encode(String(h.uid))));
  if ((h.gid ?? 0) > octalMax(8)) pax.push(paxRecord("gid", utf8.encode(String(h.gid))));
  if (utf8.encode(h.uname ?? "").length > 32) pax.push(paxRecord("uname", utf8.encode(h.uname!)));
  if (utf8.encode(h.gname ?? "").length > 32) pax.push(paxRecord("gname", utf8.encode(h.gname!)));
  const mtime = h.mtime ?? 0;
  const nsec = h.mtimeNsec ?? 0;
  if (nsec !== 0 || mtime < 0 || mtime > octalMax(12)) pax.push(paxRecord("mtime", utf8.encode(formatTime(mtime, nsec))));
  for (const [name, value] of h.xattrs ?? []) pax.push(paxRecord(`SCHILY.xattr.${name}`, value));

  const entry = ustarBlock(h, TYPEFLAG[h.type], split[1], split[0], size > octalMax(12) ? 0 : size, link.subarray(0, 100));
  if (pax.length === 0) return entry;
  const records = concat(pax);
  const paxHeader = ustarBlock({ path: "", type: "file", mode: 0o644 }, "x", utf8.encode("././@PaxHeader"), new Uint8Array(0), records.length, new Uint8Array(0));
  return concat([paxHeader, records, tarPadding(records.length), entry]);
}

function formatTime(seconds: number, nsec: number): string {
  if (nsec === 0) return String(seconds);
  // pax times are a decimal fraction: negative times count back from the seconds part.
  if (seconds >= 0) return `${seconds}.${String(nsec).padStart(9, "0")}`;
  return `-${-(seconds + 1)}.${String(1e9 - nsec).padStart(9, "0")}`;
}

/** Zero bytes completing a body of `size` bytes to a whole block. */
export function tarPadding(size: number): Uint8Array {
  return new Uint8Array((BLOCK - (size % BLOCK)) % BLOCK);
}

/** The end-of-archive marker: two zero blocks. */
export function tarEnd(): Uint8Array {
  return new Uint8Array(2 * BLOCK);
}

/** A whole archive in memory (tests, small exports). */
export function writeTar(entries: Iterable<TarWriteEntry>): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const e of entries) {
    const data = e.type === "file" ? (e.data ?? new Uint8Array(0)) : new Uint8Array(0);
    parts.push(tarHeader({ ...e, size: data.length }), data, tarPadding(data.length));
  }
  parts.push(tarEnd());
  return concat(parts);
}
