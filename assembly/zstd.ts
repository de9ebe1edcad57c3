// Zstandard frame decoder (RFC 8878): streaming with a bounded history window, and a one-shot
// path for chunks whose size is known.
// The build has no runtime bounds checks: every size, offset and table index derived from input
// is checked here. Wide copies may read and write up to WILD bytes past their logical ends; every
// buffer carries that much slack so the overrun stays in memory this kernel owns.
//
// Memory: static windows (input, literals, tables) come first; the output buffer (history plus
// room for new blocks) and, in chunk mode, the chunk's compressed bytes live in the tail of
// linear memory, grown on demand. Nothing is reserved after `tail`.

import { reserve } from "./lib/window";
import { XXH64_STATE_SIZE, xxh64Digest, xxh64Reset, xxh64Update } from "./lib/xxhash64";

const BLOCK_MAX: u32 = 128 << 10;
const WILD: u32 = 32;
const IN_CAP: u32 = 2 * BLOCK_MAX;
const MAGIC: u32 = 0xfd2fb528;
const SKIPPABLE_MAGIC: u32 = 0x184d2a50; // low 4 bits are free
const MAX_ROOM: u32 = 64 << 20;
const MIN_ROOM: u32 = 1 << 20;

// Results of run() / chunkDecode(). Errors are negative; JS maps them to StrataError codes.
const NEED_INPUT: i32 = 0;
const OUTPUT: i32 = 1;
const ERR_MAGIC: i32 = -1;
const ERR_RESERVED: i32 = -2;
const ERR_DICTIONARY: i32 = -3;
const ERR_WINDOW: i32 = -4;
const ERR_BLOCK_SIZE: i32 = -5;
const ERR_LITERALS: i32 = -6;
const ERR_HUFFMAN: i32 = -7;
const ERR_FSE: i32 = -8;
const ERR_SEQUENCES: i32 = -9;
const ERR_OFFSET: i32 = -10;
const ERR_CONTENT_SIZE: i32 = -11;
const ERR_CHECKSUM: i32 = -12;
const ERR_MEMORY: i32 = -13;
const ERR_SIZE: i32 = -14;
const ERR_TRUNCATED: i32 = -15;

// Input states.
const ST_FRAME: u32 = 0; // expecting a frame's magic number
const ST_SKIP: u32 = 1; // inside a skippable frame
const ST_BLOCK: u32 = 2; // expecting a block header
const ST_CHECKSUM: u32 = 3; // expecting the content checksum

// FSE table kinds: what a decoded symbol means.
const KIND_LL: u32 = 0;
const KIND_ML: u32 = 1;
const KIND_OF: u32 = 2;
const KIND_WEIGHT: u32 = 3;

const LL_MAX_SYMBOL: u32 = 35;
const ML_MAX_SYMBOL: u32 = 52;
const OF_MAX_SYMBOL: u32 = 31;
const LL_MAX_LOG: u32 = 9;
const ML_MAX_LOG: u32 = 9;
const OF_MAX_LOG: u32 = 8;
const WEIGHT_MAX_LOG: u32 = 6;
const HUF_MAX_BITS: u32 = 11;

// Literal length and match length codes: baseline and extra bits (RFC 8878 3.1.1.3.2.1.1).
const LL_BASE = memory.data<u32>([
  0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 18, 20, 22, 24, 28, 32, 40, 48, 64, 0x80, 0x100, 0x200,
  0x400, 0x800, 0x1000, 0x2000, 0x4000, 0x8000, 0x10000,
]);
const LL_BITS = memory.data<u8>([
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 3, 3, 4, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
]);
const ML_BASE = memory.data<u32>([
  3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33,
  34, 35, 37, 39, 41, 43, 47, 51, 59, 67, 83, 99, 0x83, 0x103, 0x203, 0x403, 0x803, 0x1003, 0x2003, 0x4003, 0x8003,
  0x10003,
]);
const ML_BITS = memory.data<u8>([
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 3,
  3, 4, 4, 5, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
]);
// Predefined distributions (RFC 8878 3.1.1.3.2.2).
const LL_DEFAULT = memory.data<i16>([
  4, 3, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 3, 2, 1, 1, 1, 1, 1, -1, -1, -1, -1,
]);
const ML_DEFAULT = memory.data<i16>([
  1, 4, 3, 2, 2, 2, 2, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
  1, 1, 1, 1, 1, 1, 1, -1, -1, -1, -1, -1, -1, -1,
]);
const OF_DEFAULT = memory.data<i16>([
  1, 1, 1, 1, 1, 1, 2, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, -1, -1, -1, -1, -1,
]);

// Static windows.
const inBuf = reserve(IN_CAP + WILD);
const litBuf = reserve(BLOCK_MAX + WILD);
const hufTable = reserve(2 << HUF_MAX_BITS); // u16 entries: symbol << 8 | code length
const weights = reserve(256);
const rankStart = reserve(4 * 16);
// FSE decoding tables, 8-byte entries: next state base (16) | bits (8) | extra bits (8) | base value (32).
const llSlot = reserve(8 << LL_MAX_LOG);
const mlSlot = reserve(8 << ML_MAX_LOG);
const ofSlot = reserve(8 << OF_MAX_LOG);
const llPredefined = reserve(8 << 6);
const mlPredefined = reserve(8 << 6);
const ofPredefined = reserve(8 << 5);
const weightTable = reserve(8 << WEIGHT_MAX_LOG);
const norm = reserve(2 * 256); // i16 normalized counts
const symbolNext = reserve(2 * 256);
const spread = reserve(1 << LL_MAX_LOG); // symbol of each state while building a table
const checksumState = reserve(XXH64_STATE_SIZE);
/** Start of the growable tail: the output buffer, then (chunk mode) the compressed chunk. */
const tail = reserve(16);

// ---------------------------------------------------------------------------------------------
// Decoder state

let state: u32 = ST_FRAME;
let chunkMode = false;
let maxWindow: u64 = 128 << 20;

// Input: bytes [inPos, inEnd) of the buffer starting at inStart are available.
let inStart: usize = inBuf;
let inPos: usize = inBuf;
let inEnd: usize = inBuf;
/** Stream offset of inPos. */
let consumed: u64 = 0;
/** Stream offset of the frame, block or checksum being decoded (for error details). */
let unitOffset: u64 = 0;
let skipRemaining: u32 = 0;

// Output: [outBase, outBase + outCap) holds the history and room for new blocks.
let outBase: usize = tail;
let outCap: usize = 0;
let pos: usize = tail;
let emitStart: usize = tail;
let histStart: usize = tail;
let outPtrValue: usize = 0;
let outLenValue: u32 = 0;

// Frame.
let windowSize: u64 = 0;
let contentSize: u64 = 0;
let hasContentSize = false;
let hasChecksum = false;
let frameDecoded: u64 = 0;
let blockMax: u32 = 0;
let rep1: u32 = 1;
let rep2: u32 = 4;
let rep3: u32 = 8;
let hufValid = false;
let hufBits: u32 = 0;
let llTable: usize = 0;
let mlTable: usize = 0;
let ofTable: usize = 0;
let llLog: u32 = 0;
let mlLog: u32 = 0;
let ofLog: u32 = 0;

// ---------------------------------------------------------------------------------------------
// Exports for the TS side

export function inputPtr(): usize {
  return inEnd;
}
/** Moves unread input to the front of the input window; returns how many bytes may be written at inputPtr(). */
export function inputSpace(): u32 {
  const pending = inEnd - inPos;
  if (inPos != inStart) {
    memory.copy(inStart, inPos, pending);
    inPos = inStart;
    inEnd = inStart + pending;
  }
  return IN_CAP - <u32>pending;
}
export function pushed(n: u32): void {
  if (n <= IN_CAP - <u32>(inEnd - inStart)) inEnd += n;
}
export function outputPtr(): usize {
  return outPtrValue;
}
export function outputLen(): u32 {
  return outLenValue;
}
/** Stream offset where the failing frame/block starts. */
export function errorOffset(): f64 {
  return <f64>unitOffset;
}
/** Bytes received so far (consumed plus buffered). */
export function receivedBytes(): f64 {
  return <f64>(consumed + <u64>(inEnd - inPos));
}
/** Whether the stream ended cleanly: between frames with no partial input. */
export function atFrameBoundary(): bool {
  return state == ST_FRAME && inPos == inEnd;
}

/** Starts a new stream that accepts windows up to `limit` bytes. */
export function reset(limit: u32): void {
  maxWindow = <u64>limit;
  chunkMode = false;
  startStream(inBuf, inBuf);
  outBase = tail;
  outCap = 0;
  pos = emitStart = histStart = tail;
}

function startStream(start: usize, end: usize): void {
  state = ST_FRAME;
  inStart = inPos = start;
  inEnd = end;
  consumed = 0;
  unitOffset = 0;
}

@inline function align16(p: usize): usize {
  return (p + 15) & ~<usize>15;
}

/** Grows memory so that [0, end) is addressable. */
function ensureMemory(end: usize): bool {
  const have = <usize>memory.size() << 16;
  if (end <= have) return true;
  const pages = <i32>((end - have + 0xffff) >> 16);
  return memory.grow(pages) >= 0;
}

/**
 * Prepares chunk mode for `len` compressed bytes decoding to `size` bytes; returns where to write
 * the compressed bytes, or 0 when memory cannot grow.
 */
export function chunkInput(len: u32, size: u32): usize {
  const cap = <usize>size + BLOCK_MAX + WILD;
  const input = align16(tail + cap);
  if (!ensureMemory(input + <usize>len + WILD)) return 0;
  outCap = cap;
  return input;
}

/** Decodes the `len` bytes at chunkInput(len, size); returns the decoded size or an error. */
export function chunkDecode(len: u32, size: u32): i32 {
  if (<usize>size + BLOCK_MAX + WILD != outCap) return ERR_MEMORY; // chunkInput not called
  chunkMode = true;
  const input = align16(tail + outCap);
  startStream(input, input + len);
  outBase = pos = emitStart = histStart = tail;
  const r = run();
  if (r < 0) return r;
  if (state != ST_FRAME || inPos != inEnd) return ERR_TRUNCATED;
  outPtrValue = outBase;
  outLenValue = <u32>(pos - outBase);
  return <i32>outLenValue;
}

// ---------------------------------------------------------------------------------------------
// Frame and block layer

@inline function available(): usize {
  return inEnd - inPos;
}

@inline function advance(n: usize): void {
  inPos += n;
  consumed += <u64>n;
}

/** Returns pending output first, so the caller drains it while waiting for input. */
function needInput(): i32 {
  if (!chunkMode && emitStart < pos) return emit();
  return NEED_INPUT;
}

function emit(): i32 {
  outPtrValue = emitStart;
  outLenValue = <u32>(pos - emitStart);
  emitStart = pos;
  return OUTPUT;
}

/**
 * Decodes as far as the buffered input allows. Returns OUTPUT when bytes wait at outputPtr() (call
 * again after draining them), NEED_INPUT, or an error.
 */
export function run(): i32 {
  while (true) {
    if (state == ST_FRAME) {
      // The previous frame's tail goes out before anything that follows it can fail.
      if (!chunkMode && emitStart < pos) return emit();
      if (available() < 4) return needInput();
      unitOffset = consumed;
      const magic = load<u32>(inPos);
      if ((magic & 0xfffffff0) == SKIPPABLE_MAGIC) {
        if (available() < 8) return needInput();
        skipRemaining = load<u32>(inPos, 4);
        advance(8);
        state = ST_SKIP;
        continue;
      }
      if (magic != MAGIC) return ERR_MAGIC;
      const r = frameHeader();
      if (r != 1) return r;
      state = ST_BLOCK;
    } else if (state == ST_SKIP) {
      const n = min<usize>(<usize>skipRemaining, available());
      advance(n);
      skipRemaining -= <u32>n;
      if (skipRemaining > 0) return needInput();
      state = ST_FRAME;
    } else if (state == ST_BLOCK) {
      if (available() < 3) return needInput();
      unitOffset = consumed;
      const header = <u32>load<u16>(inPos) | (<u32>load<u8>(inPos, 2) << 16);
      const last = header & 1;
      const type = (header >> 1) & 3;
      const size = header >> 3;
      if (type == 3) return ERR_RESERVED;
      if (size > blockMax) return ERR_BLOCK_SIZE;
      const need: usize = 3 + (type == 1 ? 1 : <usize>size);
      if (available() < need) return needInput();
      if (pos + blockMax + WILD > outBase + outCap) {
        if (chunkMode) return ERR_SIZE;
        if (emitStart < pos) return emit();
        slide();
      }
      const src = inPos + 3;
      let n: i32;
      if (type == 0) {
        memory.copy(pos, src, size);
        n = <i32>size;
      } else if (type == 1) {
        memory.fill(pos, load<u8>(src), size);
        n = <i32>size;
      } else {
        n = decodeCompressedBlock(src, size, pos);
        if (n < 0) return n;
      }
      if (hasContentSize && frameDecoded + <u64>n > contentSize) return ERR_CONTENT_SIZE;
      if (chunkMode && pos + <usize>n > outBase + outCap - BLOCK_MAX - WILD) return ERR_SIZE;
      if (hasChecksum) xxh64Update(checksumState, pos, n);
      pos += n;
      frameDecoded += <u64>n;
      advance(need);
      if (last) {
        if (hasContentSize && frameDecoded != contentSize) return ERR_CONTENT_SIZE;
        state = hasChecksum ? ST_CHECKSUM : ST_FRAME;
      }
    } else {
      if (available() < 4) return needInput();
      unitOffset = consumed;
      if (load<u32>(inPos) != <u32>xxh64Digest(checksumState)) return ERR_CHECKSUM;
      advance(4);
      state = ST_FRAME;
    }
  }
}

/** Parses a frame header at inPos: 1 when done, NEED_INPUT/OUTPUT, or an error. */
function frameHeader(): i32 {
  if (available() < 5) return needInput();
  const descriptor = <u32>load<u8>(inPos, 4);
  const fcsFlag = descriptor >> 6;
  const singleSegment = (descriptor >> 5) & 1;
  if (descriptor & 8) return ERR_RESERVED;
  const dictFlag = descriptor & 3;
  const dictBytes: u32 = dictFlag == 3 ? 4 : dictFlag;
  const fcsBytes: u32 = fcsFlag == 0 ? singleSegment : <u32>1 << fcsFlag;
  const headerSize = 5 + (singleSegment ^ 1) + dictBytes + fcsBytes;
  if (available() < <usize>headerSize) return needInput();

  let p = inPos + 5;
  let window: u64 = 0;
  if (!singleSegment) {
    const wd = <u32>load<u8>(p++);
    const base: u64 = <u64>1 << (10 + (wd >> 3));
    window = base + (base >> 3) * <u64>(wd & 7);
  }
  let dictId: u32 = 0;
  for (let i: u32 = 0; i < dictBytes; i++) dictId |= <u32>load<u8>(p + i) << (8 * i);
  if (dictId != 0) return ERR_DICTIONARY;
  p += dictBytes;
  let fcs: u64 = 0;
  if (fcsBytes == 1) fcs = <u64>load<u8>(p);
  else if (fcsBytes == 2) fcs = <u64>load<u16>(p) + 256;
  else if (fcsBytes == 4) fcs = <u64>load<u32>(p);
  else if (fcsBytes == 8) fcs = load<u64>(p);
  hasContentSize = fcsBytes > 0;
  contentSize = fcs;
  if (singleSegment) window = fcs;

  // Matches never reach before the frame, so a known content size bounds the history too.
  const history = hasContentSize && fcs < window ? fcs : window;
  if (!chunkMode) {
    if (history > maxWindow) return ERR_WINDOW;
    // Room for new output between slides: twice the history (one slide copy per two bytes
    // decoded), none when the whole content fits the history.
    let room: usize = 0;
    if (history < fcs || !hasContentSize) {
      room = <usize>history << 1;
      if (room < MIN_ROOM) room = MIN_ROOM;
      if (room > MAX_ROOM) room = MAX_ROOM;
    }
    const cap = <usize>history + room + BLOCK_MAX + WILD;
    if (!ensureMemory(tail + cap)) return ERR_MEMORY;
    outCap = cap;
    pos = emitStart = histStart = outBase;
  } else {
    histStart = pos;
  }

  windowSize = window;
  blockMax = window < <u64>BLOCK_MAX ? <u32>window : BLOCK_MAX;
  hasChecksum = (descriptor & 4) != 0;
  if (hasChecksum) xxh64Reset(checksumState, 0);
  frameDecoded = 0;
  rep1 = 1;
  rep2 = 4;
  rep3 = 8;
  hufValid = false;
  llTable = mlTable = ofTable = 0;
  advance(headerSize);
  return 1;
}

/** Keeps the last window of history at the front of the output buffer to make room. */
function slide(): void {
  let keep = pos - histStart;
  if (<u64>keep > windowSize) keep = <usize>windowSize;
  memory.copy(outBase, pos - keep, keep);
  histStart = outBase;
  pos = emitStart = outBase + keep;
}

// ---------------------------------------------------------------------------------------------
// Compressed blocks

let litPtr: usize = 0;
let litSize: u32 = 0;

/** Decodes a compressed block of `srcLen` bytes at `src` into `dst`; returns its size or an error. */
function decodeCompressedBlock(src: usize, srcLen: u32, dst: usize): i32 {
  const used = literalsSection(src, srcLen);
  if (used < 0) return used;
  return sequencesSection(src + <usize>used, srcLen - <u32>used, dst);
}

/** Parses the literals section into litPtr/litSize; returns the section's size or an error. */
function literalsSection(src: usize, srcLen: u32): i32 {
  if (srcLen < 1) return ERR_LITERALS;
  const b0 = <u32>load<u8>(src);
  const type = b0 & 3;
  const sizeFormat = (b0 >> 2) & 3;
  // Headers are at most 5 bytes; reading them before the length check stays inside the slack.
  const h = <u64>load<u32>(src) | (<u64>load<u8>(src, 4) << 32);

  if (type < 2) {
    let headerSize: u32;
    let size: u32;
    if (sizeFormat == 1) {
      headerSize = 2;
      size = (<u32>h >> 4) & 0xfff;
    } else if (sizeFormat == 3) {
      headerSize = 3;
      size = (<u32>h >> 4) & 0xfffff;
    } else {
      headerSize = 1;
      size = b0 >> 3;
    }
    if (size > blockMax) return ERR_LITERALS;
    litSize = size;
    if (type == 0) {
      if (<u64>headerSize + size > <u64>srcLen) return ERR_LITERALS;
      litPtr = src + headerSize; // raw literals are used in place
      return <i32>(headerSize + size);
    }
    if (headerSize + 1 > srcLen) return ERR_LITERALS;
    memory.fill(litBuf, load<u8>(src + headerSize), size);
    litPtr = litBuf;
    return <i32>(headerSize + 1);
  }

  let headerSize: u32;
  let sizeBits: u32;
  let streams: u32 = 4;
  if (sizeFormat < 2) {
    headerSize = 3;
    sizeBits = 10;
    if (sizeFormat == 0) streams = 1;
  } else if (sizeFormat == 2) {
    headerSize = 4;
    sizeBits = 14;
  } else {
    headerSize = 5;
    sizeBits = 18;
  }
  if (headerSize > srcLen) return ERR_LITERALS;
  const mask = (<u64>1 << sizeBits) - 1;
  const regenerated = <u32>((h >> 4) & mask);
  const compressed = <u32>((h >> (4 + sizeBits)) & mask);
  if (regenerated > blockMax) return ERR_LITERALS;
  if (<u64>headerSize + compressed > <u64>srcLen) return ERR_LITERALS;
  let p = src + headerSize;
  let streamBytes = compressed;
  if (type == 2) {
    const treeSize = huffmanTree(p, compressed);
    if (treeSize < 0) return treeSize;
    p += treeSize;
    streamBytes -= <u32>treeSize;
  } else if (!hufValid) {
    return ERR_HUFFMAN; // treeless literals need a previous table
  }
  litSize = regenerated;
  litPtr = litBuf;
  const r = streams == 1 ? huffman1(p, streamBytes, litBuf, regenerated) : huffman4(p, streamBytes, litBuf, regenerated);
  if (r < 0) return r;
  return <i32>(headerSize + compressed);
}

// ---------------------------------------------------------------------------------------------
// Backward bit streams. A stream's last byte holds a 1 marker above its final bit; bits are read
// from the end towards the start through a 64-bit container loaded little-endian at `ptr`, with
// `bits` of it already used (counted from the top). Reloads never move ptr below the start, so
// reading too far only makes `bits` exceed 64; a stream was read exactly when it ends with
// ptr == start and bits == 64.

let bsPtr: usize = 0;
let bsBits: u32 = 0;
let bsContainer: u64 = 0;

/** Opens the backward stream [start, start + len); false when it is empty or lacks its marker. */
function openStream(start: usize, len: u32): bool {
  if (len == 0) return false;
  const lastByte = <u32>load<u8>(start + len - 1);
  if (lastByte == 0) return false;
  const padding = clz<u32>(lastByte) - 23;
  if (len >= 8) {
    bsPtr = start + len - 8;
    bsContainer = load<u64>(bsPtr);
    bsBits = padding;
  } else {
    bsPtr = start;
    bsContainer = load<u64>(start) & ((<u64>1 << (<u64>len * 8)) - 1);
    bsBits = padding + (8 - len) * 8;
  }
  return true;
}

/** The next `n` (0..56) bits of a container `c` after `used` bits. */
@inline function peekBits(c: u64, used: u32, n: u32): u32 {
  return <u32>(((c << <u64>used) >> 1) >> <u64>(63 - n));
}

/** Moves the container down by whole consumed bytes, never below `start`. */
@inline function reloadPtr(ptr: usize, used: u32, start: usize): usize {
  let step = <usize>(used >> 3);
  if (step > ptr - start) step = ptr - start;
  return ptr - step;
}

// ---------------------------------------------------------------------------------------------
// FSE tables

/**
 * Reads an FSE table description (normalized counts) of at most `len` bytes at `src` into `norm`.
 * Returns bytes used | accuracyLog << 24, or -1.
 */
function readNormalizedCounts(src: usize, len: u32, maxSymbol: u32, maxLog: u32): i32 {
  if (len < 1) return -1;
  const end = <u64>len << 3; // in bits
  memory.fill(norm, 0, 2 * (maxSymbol + 1));
  let bitPos: u64 = 0;
  // Up to 4 bytes past the description may be read (the windows' slack covers it); such reads are
  // rejected by the final length check.
  const accuracyLog = (<u32>load<u8>(src) & 15) + 5;
  if (accuracyLog > maxLog) return -1;
  bitPos = 4;
  let remaining: i32 = (1 << accuracyLog) + 1;
  let threshold: i32 = 1 << accuracyLog;
  let nbBits: u32 = accuracyLog + 1;
  let symbol: u32 = 0;
  while (remaining > 1 && symbol <= maxSymbol) {
    if (bitPos > end) return -1;
    let bits = load<u32>(src + <usize>(bitPos >> 3)) >> <u32>(bitPos & 7);
    const max = (2 * threshold - 1) - remaining;
    let count: i32;
    if (<i32>(bits & <u32>(threshold - 1)) < max) {
      count = <i32>(bits & <u32>(threshold - 1));
      bitPos += nbBits - 1;
    } else {
      count = <i32>(bits & <u32>(2 * threshold - 1));
      if (count >= threshold) count -= max;
      bitPos += nbBits;
    }
    count--; // -1 means "less than 1": one state with full reset
    remaining -= count < 0 ? -count : count;
    if (remaining < 1) return -1;
    store<i16>(norm + (<usize>symbol << 1), <i16>count);
    symbol++;
    if (count == 0) {
      // Zero counts are followed by 2-bit repeat flags: 3 means "three more, then another flag".
      while (true) {
        if (bitPos > end) return -1;
        bits = load<u32>(src + <usize>(bitPos >> 3)) >> <u32>(bitPos & 7);
        const repeat = bits & 3;
        bitPos += 2;
        symbol += repeat;
        if (symbol > maxSymbol + 1) return -1;
        if (repeat != 3) break;
      }
    }
    while (remaining < threshold) {
      nbBits--;
      threshold >>= 1;
    }
  }
  if (remaining != 1 || symbol > maxSymbol + 1) return -1;
  const bytes = (bitPos + 7) >> 3;
  if (bytes > <u64>len) return -1;
  return <i32>bytes | <i32>(accuracyLog << 24);
}

/** Builds a decoding table from `norm` (symbols 0..maxSymbol). False when the counts are invalid. */
function buildTable(table: usize, counts: usize, maxSymbol: u32, log: u32, kind: u32): bool {
  const size: u32 = 1 << log;
  let high: i32 = <i32>size - 1;
  for (let s: u32 = 0; s <= maxSymbol; s++) {
    const c = <i32>load<i16>(counts + (<usize>s << 1));
    if (c == -1) {
      if (high < 0) return false;
      store<u8>(spread + <usize>high, <u8>s);
      high--;
      store<u16>(symbolNext + (<usize>s << 1), 1);
    } else {
      store<u16>(symbolNext + (<usize>s << 1), <u16>c);
    }
  }
  const mask = size - 1;
  const step = (size >> 1) + (size >> 3) + 3;
  let position: u32 = 0;
  for (let s: u32 = 0; s <= maxSymbol; s++) {
    const c = <i32>load<i16>(counts + (<usize>s << 1));
    for (let i = 0; i < c; i++) {
      store<u8>(spread + <usize>position, <u8>s);
      do {
        position = (position + step) & mask;
      } while (<i32>position > high);
    }
  }
  if (position != 0) return false;
  for (let u: u32 = 0; u < size; u++) {
    const s = <u32>load<u8>(spread + <usize>u);
    const nextAt = symbolNext + (<usize>s << 1);
    const next = <u32>load<u16>(nextAt);
    store<u16>(nextAt, <u16>(next + 1));
    const nbBits = log - (31 - clz<u32>(next));
    const base = (next << nbBits) - size;
    let value: u32;
    let extra: u32;
    if (kind == KIND_LL) {
      value = load<u32>(LL_BASE + (<usize>s << 2));
      extra = load<u8>(LL_BITS + <usize>s);
    } else if (kind == KIND_ML) {
      value = load<u32>(ML_BASE + (<usize>s << 2));
      extra = load<u8>(ML_BITS + <usize>s);
    } else if (kind == KIND_OF) {
      value = <u32>1 << s;
      extra = s;
    } else {
      value = s;
      extra = 0;
    }
    store<u64>(table + (<usize>u << 3), <u64>(base | (nbBits << 16) | (extra << 24)) | (<u64>value << 32));
  }
  return true;
}

/** A one-state table that always yields `symbol` (RLE mode). */
function buildRleTable(table: usize, symbol: u32, kind: u32): void {
  store<i16>(norm + (<usize>symbol << 1), 1);
  memory.fill(norm, 0, <usize>symbol << 1);
  buildTable(table, norm, symbol, 0, kind);
}

function buildPredefinedTables(): void {
  buildTable(llPredefined, LL_DEFAULT, LL_MAX_SYMBOL, 6, KIND_LL);
  buildTable(mlPredefined, ML_DEFAULT, ML_MAX_SYMBOL, 6, KIND_ML);
  buildTable(ofPredefined, OF_DEFAULT, 28, 5, KIND_OF);
}
buildPredefinedTables();

// ---------------------------------------------------------------------------------------------
// Huffman literals

/** Reads a Huffman tree description; returns its size in bytes or an error. */
function huffmanTree(src: usize, len: u32): i32 {
  if (len < 1) return ERR_HUFFMAN;
  const header = <u32>load<u8>(src);
  let count: u32 = 0;
  let used: u32;
  if (header >= 128) {
    count = header - 127;
    used = 1 + ((count + 1) >> 1);
    if (used > len) return ERR_HUFFMAN;
    for (let i: u32 = 0; i < count; i++) {
      const byte = <u32>load<u8>(src + 1 + (i >> 1));
      store<u8>(weights + i, <u8>((i & 1) != 0 ? byte & 15 : byte >> 4));
    }
  } else {
    used = 1 + header;
    if (used > len) return ERR_HUFFMAN;
    const r = fseWeights(src + 1, header);
    if (r < 0) return ERR_HUFFMAN;
    count = <u32>r;
  }

  // The last weight is implied: it completes the total to a power of two.
  let total: u32 = 0;
  for (let i: u32 = 0; i < count; i++) {
    const w = <u32>load<u8>(weights + i);
    if (w > HUF_MAX_BITS) return ERR_HUFFMAN;
    if (w > 0) total += <u32>1 << (w - 1);
  }
  if (total == 0) return ERR_HUFFMAN;
  const maxBits: u32 = 32 - clz<u32>(total); // highest bit of total, plus one
  if (maxBits > HUF_MAX_BITS) return ERR_HUFFMAN;
  const rest = (<u32>1 << maxBits) - total;
  if ((rest & (rest - 1)) != 0) return ERR_HUFFMAN;
  const lastWeight: u32 = 32 - clz<u32>(rest);
  store<u8>(weights + count, <u8>lastWeight);
  count++;

  // Canonical codes: lighter weights (longer codes) take the lower table ranges.
  memory.fill(rankStart, 0, 4 * 16);
  for (let i: u32 = 0; i < count; i++) {
    const w = <u32>load<u8>(weights + i);
    if (w > 0) store<u32>(rankStart + (w << 2), load<u32>(rankStart + (w << 2)) + (<u32>1 << (w - 1)));
  }
  let next: u32 = 0;
  for (let w: u32 = 1; w <= maxBits; w++) {
    const n = load<u32>(rankStart + (w << 2));
    store<u32>(rankStart + (w << 2), next);
    next += n;
  }
  for (let s: u32 = 0; s < count; s++) {
    const w = <u32>load<u8>(weights + s);
    if (w == 0) continue;
    const at = load<u32>(rankStart + (w << 2));
    const n: u32 = 1 << (w - 1);
    store<u32>(rankStart + (w << 2), at + n);
    const entry = <u16>((s << 8) | (maxBits + 1 - w));
    const p = hufTable + (<usize>at << 1);
    for (let i: u32 = 0; i < n; i++) store<u16>(p + (<usize>i << 1), entry);
  }
  hufBits = maxBits;
  hufValid = true;
  return <i32>used;
}

/** Decodes FSE-compressed Huffman weights into `weights`; returns their count (at most 255) or -1. */
function fseWeights(src: usize, len: u32): i32 {
  const r = readNormalizedCounts(src, len, 255, WEIGHT_MAX_LOG);
  if (r < 0) return -1;
  const headerBytes = <u32>(r & 0xffffff);
  const log = <u32>r >> 24;
  let maxSymbol: u32 = 255;
  while (maxSymbol > 0 && load<i16>(norm + (<usize>maxSymbol << 1)) == 0) maxSymbol--;
  if (!buildTable(weightTable, norm, maxSymbol, log, KIND_WEIGHT)) return -1;
  const start = src + headerBytes;
  if (!openStream(start, len - headerBytes)) return -1;
  let ptr = bsPtr;
  let bits = bsBits;
  let c = bsContainer;
  let current = peekBits(c, bits, log);
  bits += log;
  let other = peekBits(c, bits, log);
  bits += log;
  let count: u32 = 0;
  // Two interleaved states take turns; once a read runs past the stream's start, the other
  // state's symbol is the last weight.
  while (true) {
    if (count >= 254) return -1;
    const e = load<u64>(weightTable + (<usize>current << 3));
    store<u8>(weights + count++, <u8>(e >> 32));
    const n = (<u32>e >> 16) & 0xff;
    const next = (<u32>e & 0xffff) + peekBits(c, bits, n);
    bits += n;
    const q = reloadPtr(ptr, bits, start);
    bits -= <u32>(ptr - q) << 3;
    ptr = q;
    c = load<u64>(ptr);
    if (bits > 64) {
      store<u8>(weights + count++, <u8>(load<u64>(weightTable + (<usize>other << 3)) >> 32));
      return <i32>count;
    }
    current = other;
    other = next;
  }
}

/** Decodes one Huffman stream of `len` bytes at `src` into exactly `n` bytes at `dst`. */
function huffman1(src: usize, len: u32, dst: usize, n: u32): i32 {
  if (!openStream(src, len)) return ERR_HUFFMAN;
  return huffmanTail(src, dst, dst + n) ? 0 : ERR_HUFFMAN;
}

/** Finishes the open stream (bsPtr/bsBits/bsContainer) into [op, end); true when it is read exactly. */
function huffmanTail(start: usize, op: usize, end: usize): bool {
  const table = hufTable;
  const shift = <u64>(64 - hufBits);
  let ptr = bsPtr;
  let bits = bsBits;
  let c = bsContainer;
  // Four symbols per reload: 4 × 11 bits fit the 57 bits a reload guarantees.
  while (op + 4 <= end) {
    const e0 = <u32>load<u16>(table + (<usize>((c << <u64>bits) >> shift) << 1));
    bits += e0 & 0xff;
    const e1 = <u32>load<u16>(table + (<usize>((c << <u64>bits) >> shift) << 1));
    bits += e1 & 0xff;
    const e2 = <u32>load<u16>(table + (<usize>((c << <u64>bits) >> shift) << 1));
    bits += e2 & 0xff;
    const e3 = <u32>load<u16>(table + (<usize>((c << <u64>bits) >> shift) << 1));
    bits += e3 & 0xff;
    store<u32>(op, (e0 >> 8) | (e1 & 0xff00) | ((e2 & 0xff00) << 8) | ((e3 & 0xff00) << 16));
    op += 4;
    const p = reloadPtr(ptr, bits, start);
    bits -= <u32>(ptr - p) << 3;
    ptr = p;
    c = load<u64>(ptr);
  }
  while (op < end) {
    const e = <u32>load<u16>(table + (<usize>((c << <u64>bits) >> shift) << 1));
    bits += e & 0xff;
    store<u8>(op++, <u8>(e >> 8));
    const p = reloadPtr(ptr, bits, start);
    bits -= <u32>(ptr - p) << 3;
    ptr = p;
    c = load<u64>(ptr);
  }
  return ptr == start && bits == 64;
}

/** Decodes the four-stream form (6-byte jump table) into exactly `n` bytes at `dst`. */
function huffman4(src: usize, len: u32, dst: usize, n: u32): i32 {
  if (len < 6 || n < 6) return ERR_HUFFMAN;
  const size1 = <u32>load<u16>(src);
  const size2 = <u32>load<u16>(src, 2);
  const size3 = <u32>load<u16>(src, 4);
  const total = <u64>size1 + size2 + size3 + 6;
  if (total >= <u64>len) return ERR_HUFFMAN;
  const size4 = len - <u32>total;
  const segment = (n + 3) >> 2;
  const s1 = src + 6;
  const s2 = s1 + size1;
  const s3 = s2 + size2;
  const s4 = s3 + size3;
  const o2 = dst + segment;
  const o3 = o2 + segment;
  const o4 = o3 + segment;
  const end = dst + n;

  if (!openStream(s1, size1)) return ERR_HUFFMAN;
  let p1 = bsPtr;
  let b1 = bsBits;
  let c1 = bsContainer;
  if (!openStream(s2, size2)) return ERR_HUFFMAN;
  let p2 = bsPtr;
  let b2 = bsBits;
  let c2 = bsContainer;
  if (!openStream(s3, size3)) return ERR_HUFFMAN;
  let p3 = bsPtr;
  let b3 = bsBits;
  let c3 = bsContainer;
  if (!openStream(s4, size4)) return ERR_HUFFMAN;
  let p4 = bsPtr;
  let b4 = bsBits;
  let c4 = bsContainer;

  // Interleaved: four symbols from each stream per round; the last segment is the shortest.
  const table = hufTable;
  const shift = <u64>(64 - hufBits);
  let op1 = dst;
  let op2 = o2;
  let op3 = o3;
  let op4 = o4;
  while (op4 + 4 <= end) {
    let e0 = <u32>load<u16>(table + (<usize>((c1 << <u64>b1) >> shift) << 1));
    b1 += e0 & 0xff;
    let e1 = <u32>load<u16>(table + (<usize>((c2 << <u64>b2) >> shift) << 1));
    b2 += e1 & 0xff;
    let e2 = <u32>load<u16>(table + (<usize>((c3 << <u64>b3) >> shift) << 1));
    b3 += e2 & 0xff;
    let e3 = <u32>load<u16>(table + (<usize>((c4 << <u64>b4) >> shift) << 1));
    b4 += e3 & 0xff;
    let w1 = e0 >> 8;
    let w2 = e1 >> 8;
    let w3 = e2 >> 8;
    let w4 = e3 >> 8;
    e0 = <u32>load<u16>(table + (<usize>((c1 << <u64>b1) >> shift) << 1));
    b1 += e0 & 0xff;
    e1 = <u32>load<u16>(table + (<usize>((c2 << <u64>b2) >> shift) << 1));
    b2 += e1 & 0xff;
    e2 = <u32>load<u16>(table + (<usize>((c3 << <u64>b3) >> shift) << 1));
    b3 += e2 & 0xff;
    e3 = <u32>load<u16>(table + (<usize>((c4 << <u64>b4) >> shift) << 1));
    b4 += e3 & 0xff;
    w1 |= e0 & 0xff00;
    w2 |= e1 & 0xff00;
    w3 |= e2 & 0xff00;
    w4 |= e3 & 0xff00;
    e0 = <u32>load<u16>(table + (<usize>((c1 << <u64>b1) >> shift) << 1));
    b1 += e0 & 0xff;
    e1 = <u32>load<u16>(table + (<usize>((c2 << <u64>b2) >> shift) << 1));
    b2 += e1 & 0xff;
    e2 = <u32>load<u16>(table + (<usize>((c3 << <u64>b3) >> shift) << 1));
    b3 += e2 & 0xff;
    e3 = <u32>load<u16>(table + (<usize>((c4 << <u64>b4) >> shift) << 1));
    b4 += e3 & 0xff;
    w1 |= (e0 & 0xff00) << 8;
    w2 |= (e1 & 0xff00) << 8;
    w3 |= (e2 & 0xff00) << 8;
    w4 |= (e3 & 0xff00) << 8;
    e0 = <u32>load<u16>(table + (<usize>((c1 << <u64>b1) >> shift) << 1));
    b1 += e0 & 0xff;
    e1 = <u32>load<u16>(table + (<usize>((c2 << <u64>b2) >> shift) << 1));
    b2 += e1 & 0xff;
    e2 = <u32>load<u16>(table + (<usize>((c3 << <u64>b3) >> shift) << 1));
    b3 += e2 & 0xff;
    e3 = <u32>load<u16>(table + (<usize>((c4 << <u64>b4) >> shift) << 1));
    b4 += e3 & 0xff;
    store<u32>(op1, w1 | ((e0 & 0xff00) << 16));
    store<u32>(op2, w2 | ((e1 & 0xff00) << 16));
    store<u32>(op3, w3 | ((e2 & 0xff00) << 16));
    store<u32>(op4, w4 | ((e3 & 0xff00) << 16));
    op1 += 4;
    op2 += 4;
    op3 += 4;
    op4 += 4;
    let q = reloadPtr(p1, b1, s1);
    b1 -= <u32>(p1 - q) << 3;
    p1 = q;
    c1 = load<u64>(p1);
    q = reloadPtr(p2, b2, s2);
    b2 -= <u32>(p2 - q) << 3;
    p2 = q;
    c2 = load<u64>(p2);
    q = reloadPtr(p3, b3, s3);
    b3 -= <u32>(p3 - q) << 3;
    p3 = q;
    c3 = load<u64>(p3);
    q = reloadPtr(p4, b4, s4);
    b4 -= <u32>(p4 - q) << 3;
    p4 = q;
    c4 = load<u64>(p4);
  }
  bsPtr = p1;
  bsBits = b1;
  bsContainer = c1;
  if (!huffmanTail(s1, op1, o2)) return ERR_HUFFMAN;
  bsPtr = p2;
  bsBits = b2;
  bsContainer = c2;
  if (!huffmanTail(s2, op2, o3)) return ERR_HUFFMAN;
  bsPtr = p3;
  bsBits = b3;
  bsContainer = c3;
  if (!huffmanTail(s3, op3, o4)) return ERR_HUFFMAN;
  bsPtr = p4;
  bsBits = b4;
  bsContainer = c4;
  if (!huffmanTail(s4, op4, end)) return ERR_HUFFMAN;
  return 0;
}

// ---------------------------------------------------------------------------------------------
// Sequences

// Results of sequenceTable besides its return value.
let tableOut: usize = 0;
let logOut: u32 = 0;

/**
 * Selects or builds the table for one sequence field from its 2-bit mode (predefined, RLE,
 * FSE-compressed, repeat) into tableOut/logOut; returns the description's size in bytes or -1.
 */
function sequenceTable(
  mode: u32,
  src: usize,
  len: u32,
  previous: usize,
  previousLog: u32,
  slot: usize,
  predefined: usize,
  predefinedLog: u32,
  maxSymbol: u32,
  maxLog: u32,
  kind: u32,
): i32 {
  if (mode == 0) {
    tableOut = predefined;
    logOut = predefinedLog;
    return 0;
  }
  if (mode == 1) {
    if (len < 1) return -1;
    const symbol = <u32>load<u8>(src);
    if (symbol > maxSymbol) return -1;
    buildRleTable(slot, symbol, kind);
    tableOut = slot;
    logOut = 0;
    return 1;
  }
  if (mode == 2) {
    const r = readNormalizedCounts(src, len, maxSymbol, maxLog);
    if (r < 0) return -1;
    const log = <u32>r >> 24;
    if (!buildTable(slot, norm, maxSymbol, log, kind)) return -1;
    tableOut = slot;
    logOut = log;
    return r & 0xffffff;
  }
  if (previous == 0) return -1; // repeat mode needs an earlier table in this frame
  tableOut = previous;
  logOut = previousLog;
  return 0;
}

@inline function copy16(dst: usize, src: usize): void {
  if (ASC_FEATURE_SIMD) {
    v128.store(dst, v128.load(src));
  } else {
    store<u64>(dst, load<u64>(src));
    store<u64>(dst, load<u64>(src, 8), 8);
  }
}

/** Copies `len` bytes forward: 16 bytes, then 32 at a time (may write 31 bytes past the end). */
@inline function wildCopy(dst: usize, src: usize, len: usize): void {
  copy16(dst, src);
  if (len > 16) {
    const end = dst + len;
    dst += 16;
    src += 16;
    do {
      copy16(dst, src);
      copy16(dst + 16, src + 16);
      dst += 32;
      src += 32;
    } while (dst < end);
  }
}

// PATTERN[offset] selects bytes i % offset: a swizzle of the 16 bytes at a match's source gives
// the match's first 16 bytes for any offset below 16.
const PATTERN = memory.data(256, 16);
const WIDENED = memory.data(16); // smallest multiple of each offset that is ≥ 16
function buildPatterns(): void {
  for (let offset: u32 = 1; offset < 16; offset++) {
    for (let i: u32 = 0; i < 16; i++) store<u8>(PATTERN + (offset << 4) + i, <u8>(i % offset));
    store<u8>(WIDENED + offset, <u8>(offset * ((15 + offset) / offset)));
  }
}
buildPatterns();

/** Copies a match of `len` bytes from `offset` back; short offsets repeat their pattern. */
@inline function copyMatch(op: usize, offset: usize, len: usize): void {
  if (offset >= 16) {
    wildCopy(op, op - offset, len);
  } else {
    smallOffsetCopy(op, offset, len);
  }
}

/**
 * Match copy for offsets 1..15: the first 16 bytes come from one swizzle; after them the copied
 * region repeats with a period that is a multiple of the offset and at least 16, so plain 16-byte
 * copies can continue from there.
 */
@inline function smallOffsetCopy(op: usize, offset: usize, len: usize): void {
  const src = op - offset;
  if (ASC_FEATURE_SIMD) {
    v128.store(op, v128.swizzle(v128.load(src), v128.load(PATTERN + (offset << 4))));
    if (len > 16) {
      const period = <usize>load<u8>(WIDENED + offset);
      const o = src + period; // ≤ op + 15: already written
      wildCopy(o, src, op + len - o);
    }
  } else {
    for (let i: usize = 0; i < len; i++) store<u8>(op + i, load<u8>(src + i));
  }
}

/** Parses the sequences section and executes it into `dst`; returns the block's size or an error. */
function sequencesSection(src: usize, srcLen: u32, dst: usize): i32 {
  if (srcLen < 1) return ERR_SEQUENCES;
  const end = src + srcLen;
  let p = src;
  let nbSeq = <u32>load<u8>(p++);
  if (nbSeq == 0) {
    if (srcLen != 1) return ERR_SEQUENCES;
    return literalsOnly(dst);
  }
  if (nbSeq >= 128) {
    if (nbSeq == 255) {
      if (end - p < 2) return ERR_SEQUENCES;
      nbSeq = <u32>load<u16>(p) + 0x7f00;
      p += 2;
    } else {
      if (end - p < 1) return ERR_SEQUENCES;
      nbSeq = ((nbSeq - 128) << 8) + <u32>load<u8>(p++);
    }
  }
  if (end - p < 1) return ERR_SEQUENCES;
  const modes = <u32>load<u8>(p++);
  if (modes & 3) return ERR_RESERVED;

  let r = sequenceTable(modes >> 6, p, <u32>(end - p), llTable, llLog, llSlot, llPredefined, 6, LL_MAX_SYMBOL, LL_MAX_LOG, KIND_LL);
  if (r < 0) return ERR_FSE;
  p += r;
  llTable = tableOut;
  llLog = logOut;
  r = sequenceTable((modes >> 4) & 3, p, <u32>(end - p), ofTable, ofLog, ofSlot, ofPredefined, 5, OF_MAX_SYMBOL, OF_MAX_LOG, KIND_OF);
  if (r < 0) return ERR_FSE;
  p += r;
  ofTable = tableOut;
  ofLog = logOut;
  r = sequenceTable((modes >> 2) & 3, p, <u32>(end - p), mlTable, mlLog, mlSlot, mlPredefined, 6, ML_MAX_SYMBOL, ML_MAX_LOG, KIND_ML);
  if (r < 0) return ERR_FSE;
  p += r;
  mlTable = tableOut;
  mlLog = logOut;

  return executeSequences(p, <u32>(end - p), nbSeq, dst);
}

function literalsOnly(dst: usize): i32 {
  memory.copy(dst, litPtr, litSize);
  return <i32>litSize;
}

/** Decodes `nbSeq` sequences from the bitstream [start, start + len) and executes them into dst. */
function executeSequences(start: usize, len: u32, nbSeq: u32, dst: usize): i32 {
  if (!openStream(start, len)) return ERR_SEQUENCES;
  let ptr = bsPtr;
  let bits = bsBits;
  let c = bsContainer;
  const llT = llTable;
  const mlT = mlTable;
  const ofT = ofTable;
  let llState = peekBits(c, bits, llLog);
  bits += llLog;
  let ofState = peekBits(c, bits, ofLog);
  bits += ofLog;
  let mlState = peekBits(c, bits, mlLog);
  bits += mlLog;
  let q = reloadPtr(ptr, bits, start);
  bits -= <u32>(ptr - q) << 3;
  ptr = q;
  c = load<u64>(ptr);

  let r1 = rep1;
  let r2 = rep2;
  let r3 = rep3;
  let lit = litPtr;
  const litEnd = litPtr + litSize;
  let op = dst;
  const oend = dst + blockMax;
  // Offsets reach back to the frame's first byte and no further than the window.
  const historyLimit = <u64>windowSize;
  const frameStart = histStart;

  for (let i: u32 = 0; i < nbSeq; i++) {
    const ofE = load<u64>(ofT + (<usize>ofState << 3));
    const mlE = load<u64>(mlT + (<usize>mlState << 3));
    const llE = load<u64>(llT + (<usize>llState << 3));

    // A reload leaves at least 57 bits: enough for all extra bits plus the three state updates
    // (at most 9 + 9 + 8) unless the extra bits exceed 31, which needs a reload in between.
    const ofExtra = (<u32>ofE) >> 24;
    const offsetValue = <u32>(ofE >> 32) + peekBits(c, bits, ofExtra);
    bits += ofExtra;
    const mlExtra = (<u32>mlE) >> 24;
    const ml = <u32>(mlE >> 32) + peekBits(c, bits, mlExtra);
    bits += mlExtra;
    const llExtra = (<u32>llE) >> 24;
    if (ofExtra + mlExtra + llExtra > 31) {
      q = reloadPtr(ptr, bits, start);
      bits -= <u32>(ptr - q) << 3;
      ptr = q;
      c = load<u64>(ptr);
    }
    const ll = <u32>(llE >> 32) + peekBits(c, bits, llExtra);
    bits += llExtra;

    let offset: u32;
    if (offsetValue > 3) {
      offset = offsetValue - 3;
      r3 = r2;
      r2 = r1;
      r1 = offset;
    } else {
      const index = offsetValue - (ll != 0 ? 1 : 0);
      if (index == 0) {
        offset = r1;
      } else {
        if (index == 1) {
          offset = r2;
        } else {
          offset = index == 2 ? r3 : r1 - 1;
          r3 = r2;
        }
        r2 = r1;
        r1 = offset;
      }
    }

    if (i + 1 < nbSeq) {
      let n = ((<u32>llE) >> 16) & 0xff;
      llState = ((<u32>llE) & 0xffff) + peekBits(c, bits, n);
      bits += n;
      n = ((<u32>mlE) >> 16) & 0xff;
      mlState = ((<u32>mlE) & 0xffff) + peekBits(c, bits, n);
      bits += n;
      n = ((<u32>ofE) >> 16) & 0xff;
      ofState = ((<u32>ofE) & 0xffff) + peekBits(c, bits, n);
      bits += n;
      q = reloadPtr(ptr, bits, start);
      bits -= <u32>(ptr - q) << 3;
      ptr = q;
      c = load<u64>(ptr);
    }

    // Execute: literals, then the match.
    if (<usize>ll > litEnd - lit) return ERR_SEQUENCES;
    if (<usize>ll + <usize>ml > oend - op) return ERR_SEQUENCES;
    wildCopy(op, lit, ll);
    op += ll;
    lit += ll;
    if (offset == 0 || <usize>offset > op - frameStart || <u64>offset > historyLimit) return ERR_OFFSET;
    copyMatch(op, offset, ml);
    op += ml;
  }
  if (ptr != start || bits != 64) return ERR_SEQUENCES;
  const rest = litEnd - lit;
  if (rest > oend - op) return ERR_SEQUENCES;
  memory.copy(op, lit, rest);
  op += rest;
  rep1 = r1;
  rep2 = r2;
  rep3 = r3;
  return <i32>(op - dst);
}
