// LZ4 block codec (raw blocks as Nydus stores lz4_block chunks: no frame, no size prefix).
// The build has no runtime bounds checks: every index derived from input is checked here.
// Wide copies may write up to WILD bytes past the logical end of the output; the windows carry
// that much slack so the overrun always lands in memory this kernel owns.

import { reserve } from "./lib/window";

/** Largest chunk (RAFS maximum chunk size). */
const MAX_INPUT: u32 = 16 << 20;
const WILD: u32 = 32;
const MIN_MATCH: u32 = 4;
/** The last match must start at least this far from the end of the block. */
const MF_LIMIT: u32 = 12;
/** The block always ends with at least this many literals. */
const LAST_LITERALS: u32 = 5;
const MAX_OFFSET: u32 = 65535;
const HASH_LOG_MAX: u32 = 12;
const HASH_LOG_MIN: u32 = 10;

// Error results (negative) of decompress.
const ERR_CORRUPT: i32 = -1;
const ERR_ARGUMENT: i32 = -2;

/** Worst-case compressed size of `n` bytes (incompressible data: literals plus length bytes). */
export function compressBound(n: u32): u32 {
  return n + n / 255 + 16;
}

const WINDOW_SIZE: u32 = compressBound(MAX_INPUT) + WILD;
const inputWindow = reserve(WINDOW_SIZE);
const outputWindow = reserve(WINDOW_SIZE);
const hashTable = reserve(4 << HASH_LOG_MAX);

export function inputPtr(): usize {
  return inputWindow;
}
export function outputPtr(): usize {
  return outputWindow;
}
/** Largest input either direction accepts. */
export function maxInput(): u32 {
  return MAX_INPUT;
}
/** Largest compressed input decompress accepts. */
export function maxCompressed(): u32 {
  return compressBound(MAX_INPUT);
}

// ---------------------------------------------------------------------------------------------
// Decompression

@inline function copy16(dst: usize, src: usize): void {
  if (ASC_FEATURE_SIMD) {
    v128.store(dst, v128.load(src));
  } else {
    store<u64>(dst, load<u64>(src));
    store<u64>(dst, load<u64>(src, 8), 8);
  }
}

/** Copies `len` bytes forward in 16-byte steps; may write up to 15 bytes past dst + len. */
@inline function wildCopy(dst: usize, src: usize, len: usize): void {
  const end = dst + len;
  do {
    copy16(dst, src);
    dst += 16;
    src += 16;
  } while (dst < end);
}

/** Copies a match of `len` bytes from `offset` back; overlapping sources repeat the pattern. */
@inline function copyMatch(op: usize, offset: usize, len: usize): void {
  let src = op - offset;
  if (offset >= 16) {
    wildCopy(op, src, len);
  } else if (offset == 1) {
    memory.fill(op, load<u8>(src), len);
  } else if (offset >= 8) {
    const end = op + len;
    do {
      store<u64>(op, load<u64>(src));
      op += 8;
      src += 8;
    } while (op < end);
  } else {
    const end = op + len;
    while (op < end) {
      store<u8>(op, load<u8>(src));
      op++;
      src++;
    }
  }
}

/**
 * Decodes the block of `srcLen` bytes at inputPtr() into exactly `dstLen` bytes at outputPtr().
 * Returns dstLen, or a negative error: ERR_CORRUPT for malformed input, ERR_ARGUMENT for sizes
 * beyond the windows.
 */
export function decompress(srcLen: u32, dstLen: u32): i32 {
  if (srcLen > maxCompressed() || dstLen > MAX_INPUT) return ERR_ARGUMENT;
  const src = inputWindow;
  const dst = outputWindow;
  const srcEnd = src + srcLen;
  const dstEnd = dst + dstLen;
  let ip = src;
  let op = dst;
  while (true) {
    if (ip >= srcEnd) return ERR_CORRUPT;
    const token = <u32>load<u8>(ip++);

    // Literals.
    let litLen = <usize>(token >> 4);
    if (litLen == 15) {
      let b: u32;
      do {
        if (ip >= srcEnd) return ERR_CORRUPT;
        b = load<u8>(ip++);
        litLen += b;
        if (litLen > <usize>dstLen) return ERR_CORRUPT; // also keeps the sum from wrapping
      } while (b == 255);
    }
    if (litLen > <usize>(srcEnd - ip) || litLen > <usize>(dstEnd - op)) return ERR_CORRUPT;
    if (litLen > 0) wildCopy(op, ip, litLen);
    ip += litLen;
    op += litLen;

    // The block ends after the literals of its last sequence.
    if (ip == srcEnd) return op == dstEnd ? <i32>dstLen : ERR_CORRUPT;

    // Match.
    if (srcEnd - ip < 2) return ERR_CORRUPT;
    const offset = <usize>load<u16>(ip);
    ip += 2;
    if (offset == 0 || offset > <usize>(op - dst)) return ERR_CORRUPT;
    let matchLen = <usize>(token & 15);
    if (matchLen == 15) {
      let b: u32;
      do {
        if (ip >= srcEnd) return ERR_CORRUPT;
        b = load<u8>(ip++);
        matchLen += b;
        if (matchLen > <usize>dstLen) return ERR_CORRUPT;
      } while (b == 255);
    }
    matchLen += MIN_MATCH;
    if (matchLen > <usize>(dstEnd - op)) return ERR_CORRUPT;
    copyMatch(op, offset, matchLen);
    op += matchLen;
  }
}

// ---------------------------------------------------------------------------------------------
// Compression: greedy, one hash table of recent positions, skipping faster through data that
// does not match (as LZ4's fast mode does).

/** Hash of the 5 bytes at p (5 rather than 4 bytes: fewer false candidates to reject). */
@inline function hash5(p: usize, shift: u32): u32 {
  return <u32>(((load<u64>(p) << 24) * 889523592379) >> (<u64>shift + 32));
}

/** Bytes equal at a and b, comparing up to `limit` (the end of a). */
@inline function matchLength(a: usize, b: usize, limit: usize): usize {
  const start = a;
  while (a + 8 <= limit) {
    const diff = load<u64>(a) ^ load<u64>(b);
    if (diff != 0) return a - start + <usize>(ctz(diff) >> 3);
    a += 8;
    b += 8;
  }
  while (a < limit && load<u8>(a) == load<u8>(b)) {
    a++;
    b++;
  }
  return a - start;
}

/** Writes a length continuation (the part beyond the 4-bit token field). */
@inline function putLength(op: usize, rest: usize): usize {
  while (rest >= 255) {
    store<u8>(op++, 255);
    rest -= 255;
  }
  store<u8>(op++, <u8>rest);
  return op;
}

/** Emits literals [anchor, anchor + litLen) and, when matchLen > 0, a match. Returns new op. */
@inline function emitSequence(op: usize, anchor: usize, litLen: usize, offset: usize, matchLen: usize): usize {
  const tokenAt = op++;
  let token: u32 = 0;
  if (litLen >= 15) {
    token = 15 << 4;
    op = putLength(op, litLen - 15);
  } else {
    token = <u32>litLen << 4;
  }
  if (litLen > 0) wildCopy(op, anchor, litLen); // the output window has slack for the overrun
  op += litLen;
  if (matchLen > 0) {
    store<u16>(op, <u16>offset);
    op += 2;
    const m = matchLen - MIN_MATCH;
    if (m >= 15) {
      token |= 15;
      op = putLength(op, m - 15);
    } else {
      token |= <u32>m;
    }
  }
  store<u8>(tokenAt, <u8>token);
  return op;
}

/**
 * Compresses `srcLen` bytes at inputPtr() into one block at outputPtr(). Returns the block size
 * (at most compressBound(srcLen)), or ERR_ARGUMENT when srcLen exceeds the window.
 */
export function compress(srcLen: u32): i32 {
  if (srcLen > MAX_INPUT) return ERR_ARGUMENT;
  const src = inputWindow;
  const srcEnd = src + srcLen;
  let op = outputWindow;
  let anchor = src;

  if (srcLen >= MF_LIMIT + 1) {
    // Small inputs use a small table: clearing it dominates otherwise.
    let hashLog = HASH_LOG_MIN;
    while (hashLog < HASH_LOG_MAX && (<u32>1 << hashLog) < srcLen) hashLog++;
    const shift = 32 - hashLog;
    memory.fill(hashTable, 0, <usize>4 << hashLog);

    const matchLimit = srcEnd - LAST_LITERALS;
    const searchLimit = srcEnd - MF_LIMIT;
    let ip = src + 1;
    let misses: u32 = 0;
    while (ip <= searchLimit) {
      const seq = load<u32>(ip);
      const slot = hashTable + (<usize>hash5(ip, shift) << 2);
      const candidate = src + <usize>load<u32>(slot);
      store<u32>(slot, <u32>(ip - src));
      if (candidate >= ip || ip - candidate > MAX_OFFSET || load<u32>(candidate) != seq) {
        ip += 1 + <usize>(misses++ >> 6);
        continue;
      }
      misses = 0;
      // Extend backwards over literals, then forwards up to the last-literals limit.
      let start = ip;
      let ref = candidate;
      while (start > anchor && ref > src && load<u8>(start - 1) == load<u8>(ref - 1)) {
        start--;
        ref--;
      }
      const len = MIN_MATCH + matchLength(ip + MIN_MATCH, candidate + MIN_MATCH, matchLimit);
      const end = ip + len;
      op = emitSequence(op, anchor, start - anchor, start - ref, end - start);
      anchor = end;
      ip = end;
      // Index a position inside the match so the next sequence can refer back into it.
      if (end - 2 > src && end <= searchLimit) {
        store<u32>(hashTable + (<usize>hash5(end - 2, shift) << 2), <u32>(end - 2 - src));
      }
    }
  }
  op = emitSequence(op, anchor, srcEnd - anchor, 0, 0);
  return <i32>(op - outputWindow);
}
