// Streaming inflate: raw deflate (RFC 1951) inside gzip (RFC 1952, multi-member) or zlib
// (RFC 1950) framing. A resumable state machine: input arrives in pushes of any size, output
// goes to a static window the host drains after every call, and the last 32 KiB of output stay
// in front of the window as match history. The build has no runtime bounds checks: every index
// derived from input is checked here, and errors come back as negative reasons, never traps.
//
// Output window layout: [history 32 KiB | output area OUT_CAP | slack]. Wide match copies may
// write up to 15 bytes past a match; the slack keeps that inside memory this kernel owns.

import { reserve } from "./lib/window";
import { crc32Byte, crc32Update } from "./lib/crc32";

const IN_CAP: u32 = 256 << 10;
const HIST: usize = 32768;
const OUT_CAP: usize = 512 << 10;
const SLACK: usize = 64;
const MAX_MATCH: usize = 258;

const inBuf = reserve(IN_CAP + 16);
const outBuf = reserve(HIST + OUT_CAP + SLACK);
const OUT_END: usize = outBuf + HIST + OUT_CAP;

// ---------------------------------------------------------------------------------------------
// Results: >= 0 statuses, < 0 the negated reason of a failure (mirrored in src/kernels/inflate.ts).

const NEED_INPUT: i32 = 0;
const OUTPUT_FULL: i32 = 1;
const STREAM_END: i32 = 2;
// Internal to the decoder loops.
const CONTINUE: i32 = 3;
const BLOCK_END: i32 = 4;

const E_BLOCK_TYPE: i32 = 1;
const E_STORED_LENGTH: i32 = 2;
const E_TOO_MANY_SYMBOLS: i32 = 3;
const E_CODE_LENGTHS_CODE: i32 = 4;
const E_REPEAT_NO_PREVIOUS: i32 = 5;
const E_REPEAT_OVERFLOW: i32 = 6;
const E_NO_END_OF_BLOCK: i32 = 7;
const E_LITLEN_TABLE: i32 = 8;
const E_DIST_TABLE: i32 = 9;
const E_LITLEN_CODE: i32 = 10;
const E_DIST_CODE: i32 = 11;
const E_DIST_TOO_FAR: i32 = 12;
const E_GZIP_MAGIC: i32 = 13;
const E_METHOD: i32 = 14;
const E_GZIP_FLAGS: i32 = 15;
const E_HEADER_CRC: i32 = 16;
const E_ZLIB_CHECK: i32 = 17;
const E_ZLIB_WINDOW: i32 = 18;
const E_ZLIB_DICT: i32 = 19;
const E_CRC: i32 = 20;
const E_SIZE: i32 = 21;
const E_ADLER: i32 = 22;
const E_TRAILING: i32 = 23;
const E_TRUNCATED: i32 = 24;

// ---------------------------------------------------------------------------------------------
// Decoding tables. Entry layout (u32):
//   bits 0-3   code length in bits (for subtable entries: the whole code, root bits included)
//   bit 4      literal          bit 5  subtable pointer
//   bit 6      end of block     bit 7  invalid code
//   bits 8-15  code length plus the extra bits that follow (length/distance), or a subtable's
//              index bits
//   bits 16-31 literal byte, length or distance base, or subtable start index

const LIT: u32 = 0x10;
const SUB: u32 = 0x20;
const EOB: u32 = 0x40;
const INVALID: u32 = 0x80;
/** Unused code space: its length is the maximum so that it is only reported once 15 bits are read. */
const UNUSED: u32 = INVALID | 15;

const LIT_BITS: u32 = 11;
const DIST_BITS: u32 = 8;
const CL_BITS: u32 = 7;
const LIT_CAP: u32 = 4096;
const DIST_CAP: u32 = 1024;

const fixedLit = reserve(LIT_CAP << 2);
const fixedDist = reserve(DIST_CAP << 2);
const dynLit = reserve(LIT_CAP << 2);
const dynDist = reserve(DIST_CAP << 2);
const clTable = reserve(1 << (CL_BITS + 2));

// Scratch for table building and the code lengths of a dynamic block.
const lens = reserve(320);
const counts = reserve(16 * 2);
const offsets = reserve(16 * 2);
const sorted = reserve(320 * 2);

const KIND_CL: i32 = 0;
const KIND_LIT: i32 = 1;
const KIND_DIST: i32 = 2;

const LEN_BASE: StaticArray<u16> = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258];
const LEN_EXTRA: StaticArray<u8> = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0];
const DIST_BASE: StaticArray<u16> = [
  1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289,
  16385, 24577,
];
const DIST_EXTRA: StaticArray<u8> = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13];
/** Order in which a dynamic block sends the code-length code's lengths. */
const CL_ORDER: StaticArray<u8> = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15];

function symbolEntry(kind: i32, sym: u32, len: u32): u32 {
  if (kind == KIND_CL) return (sym << 16) | len;
  if (kind == KIND_LIT) {
    if (sym < 256) return (sym << 16) | LIT | len;
    if (sym == 256) return EOB | len;
    if (sym > 285) return INVALID | len;
    const i = sym - 257;
    return (<u32>unchecked(LEN_BASE[i]) << 16) | ((len + <u32>unchecked(LEN_EXTRA[i])) << 8) | len;
  }
  if (sym > 29) return INVALID | len;
  return (<u32>unchecked(DIST_BASE[sym]) << 16) | ((len + <u32>unchecked(DIST_EXTRA[sym])) << 8) | len;
}

@inline function reverseBits(code: u32, len: u32): u32 {
  let r: u32 = 0;
  for (let i: u32 = 0; i < len; i++) {
    r = (r << 1) | (code & 1);
    code >>= 1;
  }
  return r;
}

/**
 * Builds the canonical Huffman decoding table for the `n` code lengths at `lengths`: a primary
 * table indexed by `root` bits, with subtables for longer codes. Returns 0, or -1 when the lengths
 * are over-subscribed or incomplete (a lone code of length 1 and an empty distance code are
 * allowed, as zlib allows them).
 */
function buildTable(lengths: usize, n: u32, table: usize, root: u32, cap: u32, kind: i32): i32 {
  memory.fill(counts, 0, 32);
  for (let i: u32 = 0; i < n; i++) {
    const l = <usize>load<u8>(lengths + i);
    store<u16>(counts + (l << 1), load<u16>(counts + (l << 1)) + 1);
  }
  let max: u32 = 15;
  while (max > 0 && load<u16>(counts + (<usize>max << 1)) == 0) max--;
  const size: u32 = 1 << root;
  for (let i: u32 = 0; i < size; i++) store<u32>(table + (<usize>i << 2), UNUSED);
  if (max == 0) return kind == KIND_DIST ? 0 : -1;

  let left: i32 = 1;
  for (let l: usize = 1; l <= 15; l++) {
    left = (left << 1) - <i32>load<u16>(counts + (l << 1));
    if (left < 0) return -1;
  }
  if (left > 0 && (kind == KIND_CL || max != 1)) return -1;

  store<u16>(offsets + 2, 0);
  for (let l: usize = 1; l < 15; l++) store<u16>(offsets + ((l + 1) << 1), load<u16>(offsets + (l << 1)) + load<u16>(counts + (l << 1)));
  for (let sym: u32 = 0; sym < n; sym++) {
    const l = <usize>load<u8>(lengths + sym);
    if (l == 0) continue;
    const at = <usize>load<u16>(offsets + (l << 1));
    store<u16>(sorted + (at << 1), <u16>sym);
    store<u16>(offsets + (l << 1), <u16>(at + 1));
  }

  // Walk the codes in canonical order; `counts` becomes the number of codes of each length not yet placed.
  const rootMask: u32 = size - 1;
  let code: u32 = 0;
  let idx: usize = 0;
  let next: u32 = size;
  let subPrefix: u32 = 0xffffffff;
  let subStart: u32 = 0;
  for (let len: u32 = 1; len <= max; len++) {
    let c = <u32>load<u16>(counts + (<usize>len << 1));
    for (; c > 0; c--) {
      const sym = <u32>load<u16>(sorted + (idx << 1));
      idx++;
      store<u16>(counts + (<usize>len << 1), <u16>(c - 1));
      const entry = symbolEntry(kind, sym, len);
      const rev = reverseBits(code, len);
      if (len <= root) {
        for (let j = rev; j < size; j += 1 << len) store<u32>(table + (<usize>j << 2), entry);
      } else {
        const prefix = rev & rootMask;
        if (prefix != subPrefix) {
          // A new subtable: wide enough for every remaining code that shares this prefix.
          let bits = len - root;
          let room: i32 = 1 << bits;
          while (bits + root < max) {
            room -= <i32>load<u16>(counts + (<usize>(bits + root) << 1)) + (bits + root == len ? 1 : 0);
            if (room <= 0) break;
            bits++;
            room <<= 1;
          }
          const subSize: u32 = 1 << bits;
          if (next + subSize > cap) return -1;
          for (let j: u32 = 0; j < subSize; j++) store<u32>(table + (<usize>(next + j) << 2), UNUSED);
          store<u32>(table + (<usize>prefix << 2), (next << 16) | (bits << 8) | SUB);
          subPrefix = prefix;
          subStart = next;
          next += subSize;
        }
        const subBits = (load<u32>(table + (<usize>prefix << 2)) >> 8) & 0xff;
        for (let j = rev >> root; j < (<u32>1 << subBits); j += 1 << (len - root)) {
          store<u32>(table + (<usize>(subStart + j) << 2), entry);
        }
      }
      code++;
    }
    code <<= 1;
  }
  return 0;
}

function buildFixedTables(): void {
  for (let i: usize = 0; i < 288; i++) store<u8>(lens + i, i < 144 ? 8 : i < 256 ? 9 : i < 280 ? 7 : 8);
  buildTable(lens, 288, fixedLit, LIT_BITS, LIT_CAP, KIND_LIT);
  for (let i: usize = 0; i < 32; i++) store<u8>(lens + i, 5);
  buildTable(lens, 32, fixedDist, DIST_BITS, DIST_CAP, KIND_DIST);
}
buildFixedTables();

@inline function lookup(table: usize, rootBits: u32, bits: u64): u32 {
  let e = load<u32>(table + ((<usize>bits & ((<usize>1 << rootBits) - 1)) << 2));
  if (e & SUB) {
    const sub = <usize>(bits >> rootBits) & ((<usize>1 << ((e >> 8) & 0xff)) - 1);
    e = load<u32>(table + ((<usize>(e >> 16) + sub) << 2));
  }
  return e;
}

// ---------------------------------------------------------------------------------------------
// Stream state

const FORMAT_RAW: i32 = 0;
const FORMAT_ZLIB: i32 = 1;
const FORMAT_GZIP: i32 = 2;

const M_GZIP_MAGIC: i32 = 0;
const M_GZIP_METHOD: i32 = 1;
const M_GZIP_MTIME: i32 = 2;
const M_GZIP_XFL_OS: i32 = 3;
const M_GZIP_XLEN: i32 = 4;
const M_GZIP_EXTRA: i32 = 5;
const M_GZIP_NAME: i32 = 6;
const M_GZIP_COMMENT: i32 = 7;
const M_GZIP_HCRC: i32 = 8;
const M_ZLIB_HEADER: i32 = 9;
const M_BLOCK_HEADER: i32 = 10;
const M_STORED_HEADER: i32 = 11;
const M_STORED_COPY: i32 = 12;
const M_DYN_COUNTS: i32 = 13;
const M_DYN_CL: i32 = 14;
const M_DYN_LENS: i32 = 15;
const M_DECODE: i32 = 16;
const M_TRAILER: i32 = 17;
const M_GZIP_NEXT: i32 = 18;
const M_GZIP_ZEROS: i32 = 19;
const M_DONE: i32 = 20;
const M_FAILED: i32 = 21;

const FHCRC: u32 = 2;
const FEXTRA: u32 = 4;
const FNAME: u32 = 8;
const FCOMMENT: u32 = 16;

let format = FORMAT_GZIP;
let mode = M_GZIP_MAGIC;
let failure: i32 = 0;
let bitbuf: u64 = 0;
/** Valid bits in bitbuf; bits above it are always zero outside decodeFast. */
let bitcnt: u32 = 0;
let inPos: usize = inBuf;
let inEnd: usize = inBuf;
let outPos: usize = outBuf;
/** Where the current member's output starts: matches may not reach before it. */
let memberBase: usize = outBuf;
let maxDist: u32 = 32768;
/** Output before this has been folded into `check`. */
let checkPos: usize = outBuf;
let callStart: usize = outBuf;
let check: u32 = 0;
let outSize: u32 = 0;
let lastBlock = false;
let members: u32 = 0;
let gzipFlags: u32 = 0;
let headerCrc: u32 = 0;
let remaining: u32 = 0;
let nlen: u32 = 0;
let ndist: u32 = 0;
let ncl: u32 = 0;
let index: u32 = 0;
let litTable: usize = fixedLit;
let distTable: usize = fixedDist;

export function inputPtr(): usize {
  return inBuf;
}
export function inputCap(): u32 {
  return IN_CAP;
}
/** The output of the last call: chunkLen() bytes at chunkPtr(). */
export function chunkPtr(): usize {
  return callStart;
}
export function chunkLen(): u32 {
  return <u32>(outPos - callStart);
}
/** Input bytes not yet consumed (the host turns this into the offset of a failure). */
export function unconsumed(): u32 {
  return <u32>(inEnd - inPos) + (bitcnt >> 3);
}

/** Starts a new stream: 0 raw deflate, 1 zlib, 2 gzip. */
export function reset(streamFormat: i32): void {
  format = streamFormat;
  mode = format == FORMAT_GZIP ? M_GZIP_MAGIC : format == FORMAT_ZLIB ? M_ZLIB_HEADER : M_BLOCK_HEADER;
  failure = 0;
  bitbuf = 0;
  bitcnt = 0;
  inPos = inEnd = inBuf;
  outPos = memberBase = checkPos = callStart = outBuf;
  maxDist = 32768;
  check = format == FORMAT_ZLIB ? 1 : 0;
  outSize = 0;
  lastBlock = false;
  members = 0;
}

/** Decodes the `len` bytes just written at inputPtr(). */
export function push(len: u32): i32 {
  if (mode == M_FAILED) return -failure;
  inPos = inBuf;
  inEnd = inBuf + <usize>min(len, IN_CAP);
  return run();
}

/** Continues after OUTPUT_FULL with the input left from the last push. */
export function resume(): i32 {
  return run();
}

/** Ends the stream: 0, or the negated reason why it is incomplete. */
export function finish(): i32 {
  if (mode == M_FAILED) return -failure;
  if (mode == M_DONE || mode == M_GZIP_NEXT || mode == M_GZIP_ZEROS) return 0;
  return -E_TRUNCATED;
}

function run(): i32 {
  if (mode == M_FAILED) return -failure;
  if (outPos - outBuf >= HIST + OUT_CAP / 2) slide();
  callStart = outPos;
  const result = step();
  foldCheck();
  if (result < 0) {
    failure = -result;
    mode = M_FAILED;
  }
  return result;
}

/** Moves the last 32 KiB of output to the front of the window to make room. */
function slide(): void {
  const shift = outPos - HIST - outBuf;
  memory.copy(outBuf, outPos - HIST, HIST);
  memberBase = memberBase - outBuf > shift ? memberBase - shift : outBuf;
  outPos -= shift;
  checkPos = outPos;
}

/** Folds the output produced since the last fold into the member's checksum. */
function foldCheck(): void {
  const n = outPos - checkPos;
  if (n == 0) return;
  if (format == FORMAT_GZIP) {
    check = crc32Update(check, checkPos, n);
    outSize += <u32>n;
  } else if (format == FORMAT_ZLIB) {
    check = adler32(check, checkPos, n);
  }
  checkPos = outPos;
}

function adler32(adler: u32, ptr: usize, len: usize): u32 {
  let a = adler & 0xffff;
  let b = adler >>> 16;
  const end = ptr + len;
  while (ptr < end) {
    // 5552 is the most bytes before b can overflow 32 bits.
    const blockEnd = ptr + min<usize>(end - ptr, 5552);
    while (blockEnd - ptr >= 8) {
      const v = load<u64>(ptr);
      a += <u32>(v & 0xff);
      b += a;
      a += <u32>((v >> 8) & 0xff);
      b += a;
      a += <u32>((v >> 16) & 0xff);
      b += a;
      a += <u32>((v >> 24) & 0xff);
      b += a;
      a += <u32>((v >> 32) & 0xff);
      b += a;
      a += <u32>((v >> 40) & 0xff);
      b += a;
      a += <u32>((v >> 48) & 0xff);
      b += a;
      a += <u32>(v >> 56);
      b += a;
      ptr += 8;
    }
    while (ptr < blockEnd) {
      a += load<u8>(ptr);
      b += a;
      ptr++;
    }
    a %= 65521;
    b %= 65521;
  }
  return (b << 16) | a;
}

// ---------------------------------------------------------------------------------------------
// Bit input for the slow paths

/** Makes at least `n` (<= 64) bits available; false when the input runs out first. */
@inline function need(n: u32): bool {
  while (bitcnt < n) {
    if (inPos >= inEnd) return false;
    bitbuf |= <u64>load<u8>(inPos) << bitcnt;
    inPos++;
    bitcnt += 8;
  }
  return true;
}

@inline function peek(n: u32): u32 {
  return <u32>bitbuf & ((<u32>1 << n) - 1);
}

@inline function drop(n: u32): void {
  bitbuf >>= n;
  bitcnt -= n;
}

/** Takes one whole header byte (the stream is byte-aligned there) and folds it into the header CRC. */
@inline function headerByte(): u32 {
  const b = peek(8);
  drop(8);
  headerCrc = crc32Byte(headerCrc, b);
  return b;
}

function startMember(): void {
  memberBase = outPos;
  checkPos = outPos;
  check = format == FORMAT_ZLIB ? 1 : 0;
  outSize = 0;
  mode = M_BLOCK_HEADER;
}

// ---------------------------------------------------------------------------------------------
// The state machine

function step(): i32 {
  while (true) {
    switch (mode) {
      case M_GZIP_MAGIC: {
        if (!need(16)) return NEED_INPUT;
        headerCrc = 0;
        if (headerByte() != 0x1f || headerByte() != 0x8b) return members > 0 ? -E_TRAILING : -E_GZIP_MAGIC;
        mode = M_GZIP_METHOD;
        break;
      }
      case M_GZIP_METHOD: {
        if (!need(16)) return NEED_INPUT;
        if (headerByte() != 8) return -E_METHOD;
        gzipFlags = headerByte();
        if (gzipFlags & 0xe0) return -E_GZIP_FLAGS;
        mode = M_GZIP_MTIME;
        break;
      }
      case M_GZIP_MTIME: {
        if (!need(32)) return NEED_INPUT;
        for (let i = 0; i < 4; i++) headerByte();
        mode = M_GZIP_XFL_OS;
        break;
      }
      case M_GZIP_XFL_OS: {
        if (!need(16)) return NEED_INPUT;
        headerByte();
        headerByte();
        mode = M_GZIP_XLEN;
        break;
      }
      case M_GZIP_XLEN: {
        if (gzipFlags & FEXTRA) {
          if (!need(16)) return NEED_INPUT;
          remaining = headerByte();
          remaining |= headerByte() << 8;
        } else {
          remaining = 0;
        }
        mode = M_GZIP_EXTRA;
        break;
      }
      case M_GZIP_EXTRA: {
        while (remaining > 0) {
          if (!need(8)) return NEED_INPUT;
          headerByte();
          remaining--;
        }
        mode = M_GZIP_NAME;
        break;
      }
      case M_GZIP_NAME:
      case M_GZIP_COMMENT: {
        if (gzipFlags & (mode == M_GZIP_NAME ? FNAME : FCOMMENT)) {
          while (true) {
            if (!need(8)) return NEED_INPUT;
            if (headerByte() == 0) break;
          }
        }
        mode++;
        break;
      }
      case M_GZIP_HCRC: {
        if (gzipFlags & FHCRC) {
          if (!need(16)) return NEED_INPUT;
          if (peek(16) != (headerCrc & 0xffff)) return -E_HEADER_CRC;
          drop(16);
        }
        startMember();
        break;
      }
      case M_ZLIB_HEADER: {
        if (!need(16)) return NEED_INPUT;
        const cmf = peek(8);
        const flg = (<u32>bitbuf >> 8) & 0xff;
        if (((cmf << 8) | flg) % 31 != 0) return -E_ZLIB_CHECK;
        if ((cmf & 15) != 8) return -E_METHOD;
        if (cmf >> 4 > 7) return -E_ZLIB_WINDOW;
        if (flg & 0x20) return -E_ZLIB_DICT;
        drop(16);
        startMember();
        maxDist = <u32>1 << ((cmf >> 4) + 8);
        break;
      }
      case M_BLOCK_HEADER: {
        if (!need(3)) return NEED_INPUT;
        const header = peek(3);
        drop(3);
        lastBlock = (header & 1) != 0;
        const type = header >> 1;
        if (type == 0) {
          mode = M_STORED_HEADER;
        } else if (type == 1) {
          litTable = fixedLit;
          distTable = fixedDist;
          mode = M_DECODE;
        } else if (type == 2) {
          mode = M_DYN_COUNTS;
        } else {
          return -E_BLOCK_TYPE;
        }
        break;
      }
      case M_STORED_HEADER: {
        drop(bitcnt & 7);
        if (!need(32)) return NEED_INPUT;
        const len = peek(16);
        const nlenField = (<u32>bitbuf >> 16) & 0xffff;
        if (len != (~nlenField & 0xffff)) return -E_STORED_LENGTH;
        drop(32);
        remaining = len;
        mode = M_STORED_COPY;
        break;
      }
      case M_STORED_COPY: {
        while (remaining > 0 && bitcnt >= 8) {
          if (outPos >= OUT_END) return OUTPUT_FULL;
          store<u8>(outPos, <u8>bitbuf);
          outPos++;
          drop(8);
          remaining--;
        }
        while (remaining > 0) {
          const space = OUT_END - outPos;
          if (space == 0) return OUTPUT_FULL;
          const n = min<usize>(min<usize>(<usize>remaining, inEnd - inPos), space);
          if (n == 0) return NEED_INPUT;
          memory.copy(outPos, inPos, n);
          outPos += n;
          inPos += n;
          remaining -= <u32>n;
        }
        mode = lastBlock ? M_TRAILER : M_BLOCK_HEADER;
        break;
      }
      case M_DYN_COUNTS: {
        if (!need(14)) return NEED_INPUT;
        nlen = peek(5) + 257;
        ndist = ((<u32>bitbuf >> 5) & 31) + 1;
        ncl = ((<u32>bitbuf >> 10) & 15) + 4;
        drop(14);
        if (nlen > 286 || ndist > 30) return -E_TOO_MANY_SYMBOLS;
        memory.fill(lens, 0, 19);
        index = 0;
        mode = M_DYN_CL;
        break;
      }
      case M_DYN_CL: {
        while (index < ncl) {
          if (!need(3)) return NEED_INPUT;
          store<u8>(lens + <usize>unchecked(CL_ORDER[index]), <u8>peek(3));
          drop(3);
          index++;
        }
        if (buildTable(lens, 19, clTable, CL_BITS, 1 << CL_BITS, KIND_CL) != 0) return -E_CODE_LENGTHS_CODE;
        index = 0;
        mode = M_DYN_LENS;
        break;
      }
      case M_DYN_LENS: {
        const r = readCodeLengths();
        if (r != CONTINUE) return r;
        if (load<u8>(lens + 256) == 0) return -E_NO_END_OF_BLOCK;
        if (buildTable(lens, nlen, dynLit, LIT_BITS, LIT_CAP, KIND_LIT) != 0) return -E_LITLEN_TABLE;
        if (buildTable(lens + nlen, ndist, dynDist, DIST_BITS, DIST_CAP, KIND_DIST) != 0) return -E_DIST_TABLE;
        litTable = dynLit;
        distTable = dynDist;
        mode = M_DECODE;
        break;
      }
      case M_DECODE: {
        const r = decodeBlock();
        if (r != BLOCK_END) return r;
        mode = lastBlock ? M_TRAILER : M_BLOCK_HEADER;
        break;
      }
      case M_TRAILER: {
        drop(bitcnt & 7);
        foldCheck();
        if (format == FORMAT_RAW) {
          mode = M_DONE;
        } else if (format == FORMAT_ZLIB) {
          if (!need(32)) return NEED_INPUT;
          const stored = bswap<u32>(<u32>bitbuf);
          drop(32);
          if (stored != check) return -E_ADLER;
          mode = M_DONE;
        } else {
          if (!need(64)) return NEED_INPUT;
          const crc = <u32>bitbuf;
          const size = <u32>(bitbuf >> 32);
          drop(32);
          drop(32);
          if (crc != check) return -E_CRC;
          if (size != outSize) return -E_SIZE;
          members++;
          mode = M_GZIP_NEXT;
        }
        break;
      }
      case M_GZIP_NEXT: {
        // Another member, zero padding, or garbage.
        if (!need(8)) return NEED_INPUT;
        const b = peek(8);
        if (b == 0x1f) mode = M_GZIP_MAGIC;
        else if (b == 0) mode = M_GZIP_ZEROS;
        else return -E_TRAILING;
        break;
      }
      case M_GZIP_ZEROS: {
        while (bitcnt >= 8) {
          if (peek(8) != 0) return -E_TRAILING;
          drop(8);
        }
        while (inPos < inEnd) {
          if (load<u8>(inPos) != 0) return -E_TRAILING;
          inPos++;
        }
        return NEED_INPUT;
      }
      case M_DONE: {
        if (bitcnt >= 8 || inPos < inEnd) return -E_TRAILING;
        return STREAM_END;
      }
      default:
        return -failure;
    }
  }
  return -failure;
}

/** Reads a dynamic block's literal/length and distance code lengths with the code-length code. */
function readCodeLengths(): i32 {
  const total = nlen + ndist;
  while (index < total) {
    const e = load<u32>(clTable + (<usize>peek(CL_BITS) << 2));
    const len = e & 15;
    if (len > bitcnt) {
      if (!need(bitcnt + 8)) return NEED_INPUT;
      continue;
    }
    const sym = e >> 16;
    if (sym < 16) {
      drop(len);
      store<u8>(lens + <usize>index, <u8>sym);
      index++;
      continue;
    }
    const extra: u32 = sym == 16 ? 2 : sym == 17 ? 3 : 7;
    if (len + extra > bitcnt) {
      if (!need(bitcnt + 8)) return NEED_INPUT;
      continue;
    }
    drop(len);
    let repeat = peek(extra);
    drop(extra);
    let value: u8 = 0;
    if (sym == 16) {
      if (index == 0) return -E_REPEAT_NO_PREVIOUS;
      value = load<u8>(lens + <usize>index - 1);
      repeat += 3;
    } else {
      repeat += sym == 17 ? 3 : 11;
    }
    if (index + repeat > total) return -E_REPEAT_OVERFLOW;
    memory.fill(lens + <usize>index, value, repeat);
    index += repeat;
  }
  return CONTINUE;
}

// ---------------------------------------------------------------------------------------------
// Huffman-coded data

/** Input bytes and output room the fast loop needs for one step without checks. */
const FAST_IN: usize = 8;
const FAST_OUT: usize = MAX_MATCH + 16;

function decodeBlock(): i32 {
  while (true) {
    if (inEnd - inPos >= FAST_IN && OUT_END - outPos >= FAST_OUT) {
      const r = decodeFast();
      if (r != CONTINUE) return r;
    }
    const r = decodeSlow();
    if (r != CONTINUE) return r;
  }
  return CONTINUE;
}

/**
 * Copies a `len`-byte match from `dist` bytes back to `op`, forward, so that overlapping sources
 * repeat their pattern. May write up to 15 bytes past op + len (len >= 3).
 */
@inline function copyMatch(op: usize, dist: usize, len: usize): void {
  let src = op - dist;
  const end = op + len;
  if (dist >= 16) {
    do {
      v128.store(op, v128.load(src));
      op += 16;
      src += 16;
    } while (op < end);
  } else if (dist == 1) {
    const v = i8x16.splat(load<u8>(src));
    do {
      v128.store(op, v);
      op += 16;
    } while (op < end);
  } else if (dist >= 8) {
    do {
      store<u64>(op, load<u64>(src));
      op += 8;
      src += 8;
    } while (op < end);
  } else {
    // Periods 2-7: lay down 8 bytes one at a time, then copy words from the nearest multiple of
    // the period at least 8 back, which is already written and holds the same bytes.
    for (let i: usize = 0; i < 8; i++) store<u8>(op + i, load<u8>(src + i));
    const step: usize = dist < 5 ? (dist == 3 ? 9 : 8) : dist << 1;
    op += 8;
    while (op < end) {
      store<u64>(op, load<u64>(op - step));
      op += 8;
    }
  }
}

/**
 * The hot loop: runs while at least FAST_IN input bytes and FAST_OUT output bytes are left, so
 * that one refill covers a whole length/distance pair (at most 48 bits) and no copy can overrun
 * the window. Refills read 8 bytes and count only whole bytes, so the bits above the count are
 * the next input bytes: after a refill all 64 bits are real, and since a step consumes at most 48,
 * the next symbol's entry (at most 15 bits) can be looked up before the next refill, overlapping
 * the table load with the match copy. The uncounted bits are masked off on exit.
 */
function decodeFast(): i32 {
  let ip = inPos;
  let op = outPos;
  const inLimit = inEnd - FAST_IN;
  const outLimit = OUT_END - FAST_OUT;
  if (ip > inLimit || op > outLimit) return CONTINUE;
  let bb = bitbuf;
  let bc = <u64>bitcnt;
  const lit = litTable;
  const dist = distTable;
  const base = memberBase;
  const farthest = <usize>maxDist;
  let result = CONTINUE;
  bb |= load<u64>(ip) << bc;
  ip += <usize>((63 - bc) >> 3);
  bc |= 56;
  let e = lookup(lit, LIT_BITS, bb);
  while (true) {
    if (e & LIT) {
      // Up to three literals per refill (3 x 15 bits).
      bb >>= <u64>(e & 15);
      bc -= <u64>(e & 15);
      store<u8>(op, <u8>(e >> 16));
      op++;
      e = lookup(lit, LIT_BITS, bb);
      if (e & LIT) {
        bb >>= <u64>(e & 15);
        bc -= <u64>(e & 15);
        store<u8>(op, <u8>(e >> 16));
        op++;
        e = lookup(lit, LIT_BITS, bb);
        if (e & LIT) {
          bb >>= <u64>(e & 15);
          bc -= <u64>(e & 15);
          store<u8>(op, <u8>(e >> 16));
          op++;
          e = lookup(lit, LIT_BITS, bb);
        }
      }
    } else if (e & (EOB | INVALID)) {
      if (e & INVALID) {
        result = -E_LITLEN_CODE;
      } else {
        bb >>= <u64>(e & 15);
        bc -= <u64>(e & 15);
        result = BLOCK_END;
      }
      break;
    } else {
      let total = (e >> 8) & 0xff;
      const len = <usize>((e >> 16) + ((<u32>bb & ((<u32>1 << total) - 1)) >> (e & 15)));
      bb >>= <u64>total;
      bc -= <u64>total;
      const d = lookup(dist, DIST_BITS, bb);
      if (d & INVALID) {
        result = -E_DIST_CODE;
        break;
      }
      total = (d >> 8) & 0xff;
      const distance = <usize>((d >> 16) + ((<u32>bb & ((<u32>1 << total) - 1)) >> (d & 15)));
      bb >>= <u64>total;
      bc -= <u64>total;
      if (distance > op - base || distance > farthest) {
        result = -E_DIST_TOO_FAR;
        break;
      }
      e = lookup(lit, LIT_BITS, bb);
      copyMatch(op, distance, len);
      op += len;
    }
    if (ip > inLimit || op > outLimit) break;
    bb |= load<u64>(ip) << bc;
    ip += <usize>((63 - bc) >> 3);
    bc |= 56;
  }
  bitbuf = bb & ((<u64>1 << bc) - 1);
  bitcnt = <u32>bc;
  inPos = ip;
  outPos = op;
  return result;
}

/** Decodes one symbol with exact input accounting, pulling bytes one at a time. */
function decodeSlow(): i32 {
  if (OUT_END - outPos < MAX_MATCH) return OUTPUT_FULL;
  while (true) {
    const e = lookup(litTable, LIT_BITS, bitbuf);
    const n = e & 15;
    if (n > bitcnt) {
      if (!need(bitcnt + 8)) return NEED_INPUT;
      continue;
    }
    if (e & LIT) {
      drop(n);
      store<u8>(outPos, <u8>(e >> 16));
      outPos++;
      return CONTINUE;
    }
    if (e & EOB) {
      drop(n);
      return BLOCK_END;
    }
    if (e & INVALID) return -E_LITLEN_CODE;
    const lenBits = (e >> 8) & 0xff;
    if (lenBits > bitcnt) {
      if (!need(bitcnt + 8)) return NEED_INPUT;
      continue;
    }
    const d = lookup(distTable, DIST_BITS, bitbuf >> lenBits);
    const dn = d & 15;
    if (lenBits + dn > bitcnt) {
      if (!need(bitcnt + 8)) return NEED_INPUT;
      continue;
    }
    if (d & INVALID) return -E_DIST_CODE;
    const allBits = lenBits + ((d >> 8) & 0xff);
    if (allBits > bitcnt) {
      if (!need(bitcnt + 8)) return NEED_INPUT;
      continue;
    }
    const len = (e >> 16) + (<u32>(bitbuf >> n) & ((<u32>1 << (lenBits - n)) - 1));
    const distance = (d >> 16) + (<u32>(bitbuf >> (lenBits + dn)) & ((<u32>1 << (allBits - lenBits - dn)) - 1));
    if (<usize>distance > outPos - memberBase || distance > maxDist) return -E_DIST_TOO_FAR;
    drop(allBits);
    copyMatch(outPos, <usize>distance, <usize>len);
    outPos += <usize>len;
    return CONTINUE;
  }
  return CONTINUE;
}
