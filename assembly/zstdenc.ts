// zstd frame encoder (RFC 8878): a single-segment frame per chunk (compress) or one streamed frame
// with an 8 MiB window (stream*). Blocks of up to 128 KiB carry Huffman literals and FSE-coded
// sequences, or are stored raw where compression does not pay. Match finding by level: greedy with
// one hash table (1-2); greedy over a long and a short hash table (3-4); hash chains with lazy
// evaluation (5-9). Output depends only on the input and the settings.
// The build has no runtime bounds checks: every index here is bounded by construction (window
// sizes below) or checked.

import { reserve } from "./lib/window";
import { XXH64_STATE_SIZE, xxh64Digest, xxh64Reset, xxh64Update } from "./lib/xxhash64";

/** Largest input (RAFS maximum chunk size). */
const MAX_INPUT: u32 = 16 << 20;
const BLOCK_MAX: u32 = 128 << 10;
/** Bytes any u64/v128 store may write past its logical end. */
const SLACK: u32 = 64;
const MIN_MATCH: u32 = 4;
const MAX_LEVEL: i32 = 9;
const ERR_ARGUMENT: i32 = -1;

const LL_MAX_SYMBOL: u32 = 35;
const ML_MAX_SYMBOL: u32 = 52;
const OF_MAX_SYMBOL: u32 = 31;
const LL_MAX_LOG: u32 = 9;
const ML_MAX_LOG: u32 = 9;
const OF_MAX_LOG: u32 = 8;
const HUF_MAX_BITS: u32 = 11;
const MAX_SEQUENCES: u32 = BLOCK_MAX / MIN_MATCH + 1;

/** Worst case: every block raw (3-byte header each) plus frame header and checksum. */
function frameBound(n: u32): u32 {
  return n + 3 * (n / BLOCK_MAX + 1) + 32;
}

// Predefined FSE distributions (RFC 8878 3.1.1.3.2.2).
const LL_PREDEFINED = memory.data<i16>([
  4, 3, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 3, 2, 1, 1, 1, 1, 1, -1, -1, -1, -1,
]);
const ML_PREDEFINED = memory.data<i16>([
  1, 4, 3, 2, 2, 2, 2, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
  1, 1, 1, 1, 1, 1, 1, 1, -1, -1, -1, -1, -1, -1, -1,
]);
const OF_PREDEFINED = memory.data<i16>([
  1, 1, 1, 1, 1, 1, 2, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, -1, -1, -1, -1, -1,
]);

// Windows.
const inputWindow = reserve(MAX_INPUT + SLACK);
const outputWindow = reserve(frameBound(MAX_INPUT) + SLACK);
/** One compressed block is assembled here, then copied out if it beats the raw block. */
const BLOCK_SCRATCH: u32 = 4 * BLOCK_MAX + 8192;
const blockScratch = reserve(BLOCK_SCRATCH + SLACK);
const HASH_LOG: u32 = 17;
const CHAIN_LOG: u32 = 17;
const CHAIN_MASK: u32 = (1 << CHAIN_LOG) - 1;
const hashTable = reserve(4 << HASH_LOG);
const chainTable = reserve(4 << CHAIN_LOG);
const xxhState = reserve(XXH64_STATE_SIZE);

// Per-block sequence store.
const literals = reserve(BLOCK_MAX + SLACK);
const seqLitLen = reserve(4 * MAX_SEQUENCES);
const seqMatchLen = reserve(4 * MAX_SEQUENCES);
const seqOffValue = reserve(4 * MAX_SEQUENCES);
const llCodes = reserve(MAX_SEQUENCES);
const mlCodes = reserve(MAX_SEQUENCES);
const ofCodes = reserve(MAX_SEQUENCES);

// Entropy scratch.
const histogram = reserve(4 * 256);
const histogram4 = reserve(4 * 4 * 256);
const normCounts = reserve(2 * 256);
const fseStateTable = reserve(2 << 12); // u16 per cell: encoder next states
const fseSymbolTT = reserve(8 * 256); // per symbol: deltaFindState i32, deltaNbBits u32
const fseCumul = reserve(4 * 257);
const fseSpread = reserve(1 << 12);
const llCTable = reserve(2 << LL_MAX_LOG);
const mlCTable = reserve(2 << ML_MAX_LOG);
const ofCTable = reserve(2 << OF_MAX_LOG);
const llTT = reserve(8 * 64);
const mlTT = reserve(8 * 64);
const ofTT = reserve(8 * 64);
const hufLength = reserve(256);
const hufEntry = reserve(4 * 256); // code | length << 16
const hufNodeCount = reserve(4 * 512);
const hufNodeParent = reserve(2 * 512);
const hufSorted = reserve(2 * 256);
const hufKeys = reserve(4 * 256);
const hufLengthCount = reserve(4 * (HUF_MAX_BITS + 1)); // symbols per code length
const hufNextCode = reserve(4 * (HUF_MAX_BITS + 1));
const weightBytes = reserve(256);

export function inputPtr(): usize {
  return inputWindow;
}
export function outputPtr(): usize {
  return outputWindow;
}
export function maxInput(): u32 {
  return MAX_INPUT;
}
export function maxLevel(): i32 {
  return MAX_LEVEL;
}

@inline function highbit(v: u32): u32 {
  return 31 - clz(v);
}

// ---------------------------------------------------------------------------------------------
// Forward bit writer (the decoder reads these streams backwards).

let bitAcc: u64 = 0;
let bitCount: u32 = 0;
let bitOut: usize = 0;

@inline function bitsStart(at: usize): void {
  bitAcc = 0;
  bitCount = 0;
  bitOut = at;
}

/** Appends the low `n` bits of `v` (n ≤ 32); callers flush before 64 bits accumulate. */
@inline function bitsAdd(v: u32, n: u32): void {
  bitAcc |= (<u64>v & ((<u64>1 << n) - 1)) << bitCount;
  bitCount += n;
}

@inline function bitsFlush(): void {
  store<u64>(bitOut, bitAcc);
  const bytes = bitCount >> 3;
  bitOut += bytes;
  bitAcc = bytes == 8 ? 0 : bitAcc >> (<u64>bytes << 3);
  bitCount &= 7;
}

/** Ends a stream with the 1-bit end mark; returns the end address. */
function bitsClose(): usize {
  bitsAdd(1, 1);
  bitsFlush();
  if (bitCount > 0) bitOut++;
  return bitOut;
}

// ---------------------------------------------------------------------------------------------
// FSE: normalized counts, table description, encoding tables.

/** A table log for `count` symbols of an alphabet whose largest symbol is maxSymbol. */
function chooseTableLog(count: u32, maxSymbol: u32, maxLog: u32): u32 {
  let log = count > 1 ? highbit(count - 1) : 1;
  log = log > 2 ? log - 2 : 1;
  if (log > maxLog) log = maxLog;
  const minForSymbols = highbit(maxSymbol) + 2;
  if (log < minForSymbols) log = minForSymbols;
  if (log < 5) log = 5;
  if (log > maxLog) log = maxLog;
  return log;
}

/**
 * Scales histogram[0..=maxSymbol] (summing to `sum`) to normCounts summing to 1 << tableLog,
 * every present symbol at least 1.
 */
function normalize(maxSymbol: u32, sum: u32, tableLog: u32): void {
  const size: i32 = 1 << tableLog;
  let assigned: i32 = 0;
  let largest: u32 = 0;
  let largestCount: u32 = 0;
  for (let s: u32 = 0; s <= maxSymbol; s++) {
    const c = load<u32>(histogram + (s << 2));
    let n: i32 = 0;
    if (c > 0) {
      n = <i32>((<u64>c * <u64>size + (<u64>sum >> 1)) / <u64>sum);
      if (n < 1) n = 1;
      if (c > largestCount) {
        largestCount = c;
        largest = s;
      }
    }
    store<i16>(normCounts + (s << 1), <i16>n);
    assigned += n;
  }
  // Settle the rounding error on the most probable symbol; if that would starve it, take single
  // slots from the symbols with the most slots instead.
  let diff = size - assigned;
  const big = <i32>load<i16>(normCounts + (largest << 1));
  if (big + diff >= 1 && (diff >= 0 || big + diff >= (big >> 1))) {
    store<i16>(normCounts + (largest << 1), <i16>(big + diff));
    return;
  }
  while (diff != 0) {
    let pick: u32 = 0;
    let pickN: i32 = 0;
    for (let s: u32 = 0; s <= maxSymbol; s++) {
      const n = <i32>load<i16>(normCounts + (s << 1));
      if (n > pickN) {
        pickN = n;
        pick = s;
      }
    }
    if (diff > 0) {
      store<i16>(normCounts + (pick << 1), <i16>(pickN + 1));
      diff--;
    } else {
      store<i16>(normCounts + (pick << 1), <i16>(pickN - 1));
      diff++;
    }
  }
}

/** Writes the FSE table description of normCounts (RFC 8878 4.1.1); returns the end address. */
function writeNormCounts(op: usize, maxSymbol: u32, tableLog: u32): usize {
  const size: i32 = 1 << tableLog;
  bitsStart(op);
  bitsAdd(tableLog - 5, 4);
  let remaining: i32 = size + 1;
  let threshold: i32 = size;
  let nbBits: u32 = tableLog + 1;
  let symbol: u32 = 0;
  let previousZero = false;
  while (symbol <= maxSymbol && remaining > 1) {
    if (previousZero) {
      // Runs of zero-probability symbols: 2-bit repeat flags, 3 meaning "3 more and continue".
      let start = symbol;
      while (symbol <= maxSymbol && load<i16>(normCounts + (symbol << 1)) == 0) symbol++;
      if (symbol > maxSymbol) break; // cannot happen while counts remain
      while (symbol >= start + 24) {
        start += 24;
        bitsAdd(0xffff, 16);
        bitsFlush();
      }
      while (symbol >= start + 3) {
        start += 3;
        bitsAdd(3, 2);
      }
      bitsAdd(symbol - start, 2);
      bitsFlush();
    }
    let count = <i32>load<i16>(normCounts + (symbol << 1));
    symbol++;
    const max = 2 * threshold - 1 - remaining;
    remaining -= count < 0 ? -count : count;
    count++;
    if (count >= threshold) count += max;
    bitsAdd(<u32>count, nbBits - (count < max ? 1 : 0));
    bitsFlush();
    previousZero = count == 1;
    while (remaining < threshold) {
      nbBits--;
      threshold >>= 1;
    }
  }
  bitsFlush();
  return bitOut + (bitCount > 0 ? 1 : 0);
}

/**
 * Builds encoding tables from `norm` (i16 per symbol, -1 = low probability) into stateTable
 * (u16 per cell) and symbolTT (8 bytes per symbol), spreading symbols exactly as decoders do.
 */
function buildCTable(norm: usize, maxSymbol: u32, tableLog: u32, stateTable: usize, symbolTT: usize): void {
  const size: u32 = 1 << tableLog;
  const mask = size - 1;
  let high = size - 1;
  // Cumulative counts; low-probability symbols take the last cells.
  store<u32>(fseCumul, 0);
  for (let s: u32 = 0; s <= maxSymbol; s++) {
    const n = <i32>load<i16>(norm + (s << 1));
    const prev = load<u32>(fseCumul + (s << 2));
    if (n == -1) {
      store<u32>(fseCumul + ((s + 1) << 2), prev + 1);
      store<u8>(fseSpread + high, <u8>s);
      high--;
    } else {
      store<u32>(fseCumul + ((s + 1) << 2), prev + <u32>n);
    }
  }
  const step = (size >> 1) + (size >> 3) + 3;
  let pos: u32 = 0;
  for (let s: u32 = 0; s <= maxSymbol; s++) {
    const n = <i32>load<i16>(norm + (s << 1));
    for (let i: i32 = 0; i < n; i++) {
      store<u8>(fseSpread + pos, <u8>s);
      pos = (pos + step) & mask;
      while (pos > high) pos = (pos + step) & mask;
    }
  }
  // Cells of each symbol, in state order, become its encoder states.
  for (let u: u32 = 0; u < size; u++) {
    const s = <u32>load<u8>(fseSpread + u);
    const slot = fseCumul + (s << 2);
    const at = load<u32>(slot);
    store<u32>(slot, at + 1);
    store<u16>(stateTable + (at << 1), <u16>(size + u));
  }
  // fseCumul was advanced by each symbol's count: cumul[s] now equals the old cumul[s + 1].
  let start: u32 = 0;
  for (let s: u32 = 0; s <= maxSymbol; s++) {
    const n = <i32>load<i16>(norm + (s << 1));
    const tt = symbolTT + (s << 3);
    if (n == 0) {
      store<i32>(tt, 0);
      store<u32>(tt, 0, 4);
      continue;
    }
    const count: u32 = n == -1 ? 1 : <u32>n;
    if (count == 1) {
      store<u32>(tt, ((tableLog << 16) - size), 4);
      store<i32>(tt, <i32>start - 1);
    } else {
      const maxBitsOut = tableLog - highbit(count - 1);
      const minStatePlus = count << maxBitsOut;
      store<u32>(tt, (maxBitsOut << 16) - minStatePlus, 4);
      store<i32>(tt, <i32>start - <i32>count);
    }
    start += count;
  }
}

/** An encoder state that decodes to `symbol` (its first cell), without emitting bits. */
@inline function fseInitState(stateTable: usize, symbolTT: usize, symbol: u32): u32 {
  const tt = symbolTT + (symbol << 3);
  const nbBits = (load<u32>(tt, 4) + (1 << 15)) >> 16;
  const value = (nbBits << 16) - load<u32>(tt, 4);
  return load<u16>(stateTable + ((<usize>((value >> nbBits) + <u32>load<i32>(tt))) << 1));
}

@inline function fseEncode(state: u32, stateTable: usize, symbolTT: usize, symbol: u32): u32 {
  const tt = symbolTT + (symbol << 3);
  const nbBits = (state + load<u32>(tt, 4)) >> 16;
  bitsAdd(state, nbBits);
  return load<u16>(stateTable + (<usize>((state >> nbBits) + <u32>load<i32>(tt)) << 1));
}

@inline function fseFlushState(state: u32, tableLog: u32): void {
  bitsAdd(state, tableLog);
  bitsFlush();
}

/** Estimated bits to code histogram[0..=maxSymbol] with `norm` (1 << tableLog); -1 if impossible. */
function fseCost(norm: usize, maxSymbol: u32, tableLog: u32, normMaxSymbol: u32): f64 {
  let bits: f64 = 0;
  for (let s: u32 = 0; s <= maxSymbol; s++) {
    const c = load<u32>(histogram + (s << 2));
    if (c == 0) continue;
    if (s > normMaxSymbol) return -1;
    let n = <i32>load<i16>(norm + (s << 1));
    if (n == 0) return -1;
    if (n < 0) n = 1;
    bits += <f64>c * (<f64>tableLog - Math.log2(<f64>n));
  }
  return bits;
}

// ---------------------------------------------------------------------------------------------
// Huffman literals.

/** Sorts n distinct u32 keys at `keys` ascending. */
function heapSort(keys: usize, n: u32): void {
  // Build a max-heap, then repeatedly move its top behind the shrinking heap.
  for (let start = <i32>(n >> 1) - 1; start >= 0; start--) siftDown(keys, <u32>start, n);
  for (let end = n; end > 1; end--) {
    const top = load<u32>(keys);
    store<u32>(keys, load<u32>(keys + ((end - 1) << 2)));
    store<u32>(keys + ((end - 1) << 2), top);
    siftDown(keys, 0, end - 1);
  }
}

@inline function siftDown(keys: usize, root: u32, n: u32): void {
  const value = load<u32>(keys + (root << 2));
  let at = root;
  while (true) {
    let child: u32 = 2 * at + 1;
    if (child >= n) break;
    if (child + 1 < n && load<u32>(keys + ((child + 1) << 2)) > load<u32>(keys + (child << 2))) child++;
    const c = load<u32>(keys + (child << 2));
    if (c <= value) break;
    store<u32>(keys + (at << 2), c);
    at = child;
  }
  store<u32>(keys + (at << 2), value);
}

@inline function countAdd(len: u32, delta: i32): void {
  const slot = hufLengthCount + (len << 2);
  store<u32>(slot, <u32>(<i32>load<u32>(slot) + delta));
}

/**
 * Builds code lengths (≤ HUF_MAX_BITS, Kraft sum exactly 1) for histogram[0..=maxSymbol] with at
 * least two present symbols; returns the longest length.
 */
function buildHuffman(maxSymbol: u32): u32 {
  // Present symbols sorted by ascending count, then symbol: keys count << 8 | symbol (counts are
  // at most 128 Ki, so keys fit in 25 bits), heap-sorted.
  let n: u32 = 0;
  for (let s: u32 = 0; s <= maxSymbol; s++) {
    store<u8>(hufLength + s, 0);
    const c = load<u32>(histogram + (s << 2));
    if (c != 0) store<u32>(hufKeys + (n++ << 2), (c << 8) | s);
  }
  heapSort(hufKeys, n);
  for (let i: u32 = 0; i < n; i++) store<u16>(hufSorted + (i << 1), <u16>(load<u32>(hufKeys + (i << 2)) & 0xff));
  // Two-queue Huffman: leaves 0..n-1 (sorted), internal nodes n.. in creation order.
  for (let i: u32 = 0; i < n; i++) {
    store<u32>(hufNodeCount + (i << 2), load<u32>(histogram + (<usize>load<u16>(hufSorted + (i << 1)) << 2)));
  }
  let leaf: u32 = 0;
  let inner: u32 = n;
  let next: u32 = n;
  while (next < 2 * n - 1) {
    let pair: u32 = 0;
    for (let k = 0; k < 2; k++) {
      let pick: u32;
      if (leaf < n && (inner >= next || load<u32>(hufNodeCount + (leaf << 2)) <= load<u32>(hufNodeCount + (inner << 2)))) {
        pick = leaf++;
      } else {
        pick = inner++;
      }
      store<u16>(hufNodeParent + (pick << 1), <u16>next);
      pair += load<u32>(hufNodeCount + (pick << 2));
    }
    store<u32>(hufNodeCount + (next << 2), pair);
    next++;
  }
  // Depths, stored over the parent links: parents come after their children, the root last.
  const root = 2 * n - 2;
  store<u16>(hufNodeParent + (root << 1), 0);
  for (let i = <i32>root - 1; i >= 0; i--) {
    const parent = <u32>load<u16>(hufNodeParent + (<u32>i << 1));
    store<u16>(hufNodeParent + (<u32>i << 1), load<u16>(hufNodeParent + (parent << 1)) + 1);
  }
  // Lengths per depth, deeper than HUF_MAX_BITS clamped to it. Clamping overfills the code space
  // (Kraft sum of 2^(L - len) over 2^L); each step below takes one unit back: a leaf at the
  // deepest level under L moves down one, and a leaf from level L joins it as its sibling.
  const L = HUF_MAX_BITS;
  memory.fill(hufLengthCount, 0, 4 * (L + 1));
  let kraft: i32 = 0;
  for (let i: u32 = 0; i < n; i++) {
    const len = min<u32>(<u32>load<u16>(hufNodeParent + (i << 1)), L);
    const slot = hufLengthCount + (len << 2);
    store<u32>(slot, load<u32>(slot) + 1);
    kraft += 1 << (L - len);
  }
  const full: i32 = 1 << L;
  while (kraft > full) {
    let bits = L - 1;
    while (load<u32>(hufLengthCount + (bits << 2)) == 0) bits--;
    countAdd(bits, -1);
    countAdd(bits + 1, 2);
    countAdd(L, -1);
    kraft--;
  }
  // Lengths to symbols: the least frequent get the longest.
  let maxLen: u32 = 0;
  let i: u32 = 0;
  for (let len = L; len >= 1; len--) {
    const count = load<u32>(hufLengthCount + (len << 2));
    if (count != 0 && maxLen == 0) maxLen = len;
    for (let k: u32 = 0; k < count; k++) store<u8>(hufLength + <u32>load<u16>(hufSorted + (i++ << 1)), <u8>len);
  }
  // Canonical codes: longest codes first, ascending symbol order within a length.
  let codeStart: u32 = 0;
  for (let len = maxLen; len >= 1; len--) {
    store<u32>(hufNextCode + (len << 2), codeStart);
    codeStart = (codeStart + load<u32>(hufLengthCount + (len << 2))) >> 1;
  }
  for (let s: u32 = 0; s <= maxSymbol; s++) {
    const len = <u32>load<u8>(hufLength + s);
    if (len == 0) continue;
    const slot = hufNextCode + (len << 2);
    const code = load<u32>(slot);
    store<u32>(slot, code + 1);
    store<u32>(hufEntry + (s << 2), code | (len << 16));
  }
  return maxLen;
}

/** Encodes literals [src, src + len) as one Huffman stream at op; returns the end address. */
function huffmanStream(op: usize, src: usize, len: usize): usize {
  // The bit state lives in locals here: this loop runs once per literal.
  let acc: u64 = 0;
  let count: u64 = 0;
  let out = op;
  let p = src + len;
  // Backwards, so that decoders reading the stream from its end meet the first literal first.
  while (p >= src + 4) {
    for (let k = 0; k < 4; k++) {
      p--;
      const entry = load<u32>(hufEntry + (<usize>load<u8>(p) << 2));
      acc |= <u64>(entry & 0xffff) << count;
      count += <u64>(entry >> 16);
    }
    store<u64>(out, acc);
    out += <usize>(count >> 3);
    acc >>= count & ~7;
    count &= 7;
  }
  while (p > src) {
    p--;
    const entry = load<u32>(hufEntry + (<usize>load<u8>(p) << 2));
    acc |= <u64>(entry & 0xffff) << count;
    count += <u64>(entry >> 16);
  }
  acc |= <u64>1 << count; // end mark
  count++;
  store<u64>(out, acc);
  return out + <usize>((count + 7) >> 3);
}

/**
 * Writes the Huffman tree description (weights of symbols 0..maxSymbol-1; the last is implied)
 * at op. Returns the end address, or 0 when it cannot be written compactly.
 */
function writeHuffmanTree(op: usize, maxSymbol: u32, maxLen: u32): usize {
  for (let s: u32 = 0; s < maxSymbol; s++) {
    const len = <u32>load<u8>(hufLength + s);
    store<u8>(weightBytes + s, <u8>(len == 0 ? 0 : maxLen + 1 - len));
  }
  const fse = writeFseWeights(op, maxSymbol);
  if (fse != 0) return fse;
  if (maxSymbol > 128) return 0;
  store<u8>(op, <u8>(127 + maxSymbol));
  for (let s: u32 = 0; s < maxSymbol; s += 2) {
    const hi = <u32>load<u8>(weightBytes + s);
    const lo = s + 1 < maxSymbol ? <u32>load<u8>(weightBytes + s + 1) : 0;
    store<u8>(op + 1 + (s >> 1), <u8>((hi << 4) | lo));
  }
  return op + 1 + ((maxSymbol + 1) >> 1);
}

/**
 * FSE-compressed weights (two interleaved states, table log ≤ 6). Returns the end address, or
 * 0 when that form does not apply or is not smaller than the direct one.
 */
function writeFseWeights(op: usize, count: u32): usize {
  if (count < 2) return 0;
  memory.fill(histogram, 0, 4 * 16);
  let maxWeight: u32 = 0;
  for (let s: u32 = 0; s < count; s++) {
    const w = <u32>load<u8>(weightBytes + s);
    const slot = histogram + (w << 2);
    store<u32>(slot, load<u32>(slot) + 1);
    if (w > maxWeight) maxWeight = w;
  }
  for (let w: u32 = 0; w <= maxWeight; w++) if (load<u32>(histogram + (w << 2)) == count) return 0;
  const tableLog: u32 = 6;
  normalize(maxWeight, count, tableLog);
  const start = op + 1;
  let p = writeNormCounts(start, maxWeight, tableLog);
  buildCTable(normCounts, maxWeight, tableLog, fseStateTable, fseSymbolTT);
  bitsStart(p);
  let i = count;
  let state1: u32;
  let state2: u32;
  if (count & 1) {
    state1 = fseInitState(fseStateTable, fseSymbolTT, load<u8>(weightBytes + --i));
    state2 = fseInitState(fseStateTable, fseSymbolTT, load<u8>(weightBytes + --i));
    state1 = fseEncode(state1, fseStateTable, fseSymbolTT, load<u8>(weightBytes + --i));
    bitsFlush();
  } else {
    state2 = fseInitState(fseStateTable, fseSymbolTT, load<u8>(weightBytes + --i));
    state1 = fseInitState(fseStateTable, fseSymbolTT, load<u8>(weightBytes + --i));
  }
  while (i > 0) {
    state2 = fseEncode(state2, fseStateTable, fseSymbolTT, load<u8>(weightBytes + --i));
    state1 = fseEncode(state1, fseStateTable, fseSymbolTT, load<u8>(weightBytes + --i));
    bitsFlush();
  }
  fseFlushState(state2, tableLog);
  fseFlushState(state1, tableLog);
  p = bitsClose();
  const size = p - start;
  if (size >= 128 || (count <= 128 && size >= (count + 1) / 2)) return 0;
  store<u8>(op, <u8>size);
  return p;
}

/** Writes the literals section for `len` literals; returns the end address. */
function writeLiterals(op: usize, len: u32): usize {
  if (len >= 64) {
    literalHistogram(len);
    let maxSymbol: u32 = 0;
    let distinct: u32 = 0;
    for (let s: u32 = 0; s < 256; s++) {
      if (load<u32>(histogram + (s << 2)) != 0) {
        maxSymbol = s;
        distinct++;
      }
    }
    if (distinct == 1) {
      // RLE literals.
      const header = writeLiteralsHeader(op, 1, len);
      store<u8>(header, load<u8>(literals));
      return header + 1;
    }
    const compressed = writeHuffmanLiterals(op, len, maxSymbol);
    if (compressed != 0) return compressed;
  }
  const header = writeLiteralsHeader(op, 0, len);
  memory.copy(header, literals, len);
  return header + len;
}

/**
 * Counts the literals into histogram, through four interleaved tables so that runs of equal
 * bytes do not serialize on one counter.
 */
function literalHistogram(len: u32): void {
  memory.fill(histogram4, 0, 4 * 4 * 256);
  let i: u32 = 0;
  for (; i + 4 <= len; i += 4) {
    const v = load<u32>(literals + i);
    const a = histogram4 + ((<usize>v & 0xff) << 2);
    store<u32>(a, load<u32>(a) + 1);
    const b = histogram4 + 1024 + ((<usize>(v >> 8) & 0xff) << 2);
    store<u32>(b, load<u32>(b) + 1);
    const c = histogram4 + 2048 + ((<usize>(v >> 16) & 0xff) << 2);
    store<u32>(c, load<u32>(c) + 1);
    const d = histogram4 + 3072 + (<usize>(v >> 24) << 2);
    store<u32>(d, load<u32>(d) + 1);
  }
  for (; i < len; i++) {
    const a = histogram4 + (<usize>load<u8>(literals + i) << 2);
    store<u32>(a, load<u32>(a) + 1);
  }
  for (let s: usize = 0; s < 1024; s += 4) {
    store<u32>(histogram + s, load<u32>(histogram4 + s) + load<u32>(histogram4 + 1024 + s) + load<u32>(histogram4 + 2048 + s) + load<u32>(histogram4 + 3072 + s));
  }
}

/** Raw (type 0) or RLE (type 1) literals header. */
function writeLiteralsHeader(op: usize, type: u32, len: u32): usize {
  if (len < 32) {
    store<u8>(op, <u8>(type | (len << 3)));
    return op + 1;
  }
  if (len < 4096) {
    store<u16>(op, <u16>(type | (1 << 2) | (len << 4)));
    return op + 2;
  }
  store<u32>(op, type | (3 << 2) | (len << 4));
  return op + 3;
}

/** Huffman-compressed literals; returns the end address, or 0 when they do not shrink. */
function writeHuffmanLiterals(op: usize, len: u32, maxSymbol: u32): usize {
  const maxLen = buildHuffman(maxSymbol);
  const single = len < 256;
  const headerSize: u32 = single || len < 1024 ? 3 : len < 16384 ? 4 : 5;
  const tree = op + headerSize;
  const treeEnd = writeHuffmanTree(tree, maxSymbol, maxLen);
  if (treeEnd == 0) return 0;
  let end: usize;
  if (single) {
    end = huffmanStream(treeEnd, literals, len);
  } else {
    const segment = (len + 3) >> 2;
    let p = treeEnd + 6;
    for (let k: u32 = 0; k < 4; k++) {
      const from = segment * k;
      const to = k == 3 ? len : from + segment;
      const streamEnd = huffmanStream(p, literals + from, to - from);
      if (k < 3) store<u16>(treeEnd + (k << 1), <u16>(streamEnd - p));
      p = streamEnd;
    }
    end = p;
  }
  const compressedSize = <u32>(end - tree);
  const headerBytes = <u32>(end - op);
  if (headerBytes >= len + (len < 32 ? 1 : len < 4096 ? 2 : 3)) return 0;
  if (headerSize == 3 && compressedSize >= 1024) return 0;
  if (headerSize == 4 && compressedSize >= 16384) return 0;
  const sizeFormat: u64 = single ? 0 : headerSize == 3 ? 1 : headerSize == 4 ? 2 : 3;
  const bits: u64 = headerSize == 3 ? 10 : headerSize == 4 ? 14 : 18;
  const header: u64 = 2 | (sizeFormat << 2) | (<u64>len << 4) | (<u64>compressedSize << (4 + bits));
  store<u64>(op, header | (load<u64>(op) & ~((<u64>1 << (<u64>headerSize << 3)) - 1)));
  return end;
}

// ---------------------------------------------------------------------------------------------
// Sequences.

// Literal length and match length codes (RFC 8878 3.1.1.3.2.1.1). Every code's baseline is a
// multiple of 2^(its extra bits), so the extra bits are just the low bits of the value.
const LL_CODE_SMALL = memory.data<u8>([
  0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 16, 17, 17, 18, 18, 19, 19, 20, 20, 20, 20, 21, 21, 21,
  21, 22, 22, 22, 22, 22, 22, 22, 22, 23, 23, 23, 23, 23, 23, 23, 23, 24, 24, 24, 24, 24, 24, 24, 24, 24, 24, 24, 24,
  24, 24, 24, 24,
]);
const LL_EXTRA_BITS = memory.data<u8>([
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 3, 3, 4, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
]);
/** Codes of match length - 3 below 128. */
const ML_CODE_SMALL = memory.data<u8>([
  0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30,
  31, 32, 32, 33, 33, 34, 34, 35, 35, 36, 36, 36, 36, 37, 37, 37, 37, 38, 38, 38, 38, 38, 38, 38, 38, 39, 39, 39, 39,
  39, 39, 39, 39, 40, 40, 40, 40, 40, 40, 40, 40, 40, 40, 40, 40, 40, 40, 40, 40, 41, 41, 41, 41, 41, 41, 41, 41, 41,
  41, 41, 41, 41, 41, 41, 41, 42, 42, 42, 42, 42, 42, 42, 42, 42, 42, 42, 42, 42, 42, 42, 42, 42, 42, 42, 42, 42, 42,
  42, 42, 42, 42, 42, 42, 42, 42, 42, 42,
]);
const ML_EXTRA_BITS = memory.data<u8>([
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2,
  3, 3, 4, 4, 5, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
]);

@inline function llCode(ll: u32): u32 {
  return ll < 64 ? <u32>load<u8>(LL_CODE_SMALL + ll) : highbit(ll) + 19;
}

/** Code of a match length minus 3. */
@inline function mlCode(v: u32): u32 {
  return v < 128 ? <u32>load<u8>(ML_CODE_SMALL + v) : highbit(v) + 36;
}

const MODE_PREDEFINED: u32 = 0;
const MODE_RLE: u32 = 1;
const MODE_FSE: u32 = 2;

/** Where the last table description written by chooseTable ends. */
let descriptionEnd: usize = 0;

/**
 * Picks the cheapest coding of one sequence field (codes at `codes`), writes its table
 * description at op (ending at descriptionEnd) and builds its encoding table.
 * Returns mode << 24 | tableLog << 16.
 */
function chooseTable(
  op: usize,
  codes: usize,
  nbSeq: u32,
  maxSymbolAllowed: u32,
  maxLog: u32,
  predefined: usize,
  predefinedMaxSymbol: u32,
  predefinedLog: u32,
  cTable: usize,
  symbolTT: usize,
): u32 {
  memory.fill(histogram, 0, 4 * (maxSymbolAllowed + 1));
  let maxSymbol: u32 = 0;
  for (let i: u32 = 0; i < nbSeq; i++) {
    const c = <u32>load<u8>(codes + i);
    const slot = histogram + (c << 2);
    store<u32>(slot, load<u32>(slot) + 1);
    if (c > maxSymbol) maxSymbol = c;
  }
  if (load<u32>(histogram + (maxSymbol << 2)) == nbSeq && nbSeq > 2) {
    store<u8>(op, <u8>maxSymbol);
    descriptionEnd = op + 1;
    // An RLE table: one state, no bits per symbol.
    memory.fill(normCounts, 0, 2 * (maxSymbol + 1));
    store<i16>(normCounts + (maxSymbol << 1), 1);
    buildCTable(normCounts, maxSymbol, 0, cTable, symbolTT);
    return (MODE_RLE << 24) | 0;
  }
  const predefinedCost = fseCost(predefined, maxSymbol, predefinedLog, predefinedMaxSymbol);
  const tableLog = chooseTableLog(nbSeq, maxSymbol, maxLog);
  normalize(maxSymbol, nbSeq, tableLog);
  const descEnd = writeNormCounts(op, maxSymbol, tableLog);
  const fseBits = fseCost(normCounts, maxSymbol, tableLog, maxSymbol) + <f64>((descEnd - op) << 3);
  if (predefinedCost >= 0 && predefinedCost <= fseBits) {
    descriptionEnd = op;
    buildCTable(predefined, predefinedMaxSymbol, predefinedLog, cTable, symbolTT);
    return (MODE_PREDEFINED << 24) | (predefinedLog << 16);
  }
  descriptionEnd = descEnd;
  buildCTable(normCounts, maxSymbol, tableLog, cTable, symbolTT);
  return (MODE_FSE << 24) | (tableLog << 16);
}

/** Writes the sequences section for nbSeq sequences; returns the end address. */
function writeSequences(op: usize, nbSeq: u32): usize {
  if (nbSeq < 128) {
    store<u8>(op++, <u8>nbSeq);
  } else if (nbSeq < 0x7f00) {
    store<u8>(op, <u8>((nbSeq >> 8) + 128));
    store<u8>(op + 1, <u8>nbSeq);
    op += 2;
  } else {
    store<u8>(op, 255);
    store<u16>(op + 1, <u16>(nbSeq - 0x7f00));
    op += 3;
  }
  if (nbSeq == 0) return op;

  for (let i: u32 = 0; i < nbSeq; i++) {
    store<u8>(llCodes + i, <u8>llCode(load<u32>(seqLitLen + (i << 2))));
    store<u8>(mlCodes + i, <u8>mlCode(load<u32>(seqMatchLen + (i << 2)) - 3));
    store<u8>(ofCodes + i, <u8>highbit(load<u32>(seqOffValue + (i << 2))));
  }
  const modesAt = op++;
  const ll = chooseTable(op, llCodes, nbSeq, LL_MAX_SYMBOL, LL_MAX_LOG, LL_PREDEFINED, LL_MAX_SYMBOL, 6, llCTable, llTT);
  op = descriptionEnd;
  const off = chooseTable(op, ofCodes, nbSeq, OF_MAX_SYMBOL, OF_MAX_LOG, OF_PREDEFINED, 28, 5, ofCTable, ofTT);
  op = descriptionEnd;
  const ml = chooseTable(op, mlCodes, nbSeq, ML_MAX_SYMBOL, ML_MAX_LOG, ML_PREDEFINED, ML_MAX_SYMBOL, 6, mlCTable, mlTT);
  op = descriptionEnd;
  store<u8>(modesAt, <u8>(((ll >> 24) << 6) | ((off >> 24) << 4) | ((ml >> 24) << 2)));
  const llLog = (ll >> 16) & 0xff;
  const ofLog = (off >> 16) & 0xff;
  const mlLog = (ml >> 16) & 0xff;

  return encodeSequences(op, llLog, ofLog, mlLog);
}

/**
 * The sequences bitstream: states and extra bits in the reverse of the order decoders read them
 * (they read LL, OF, ML states first, then per sequence OF, ML, LL extra bits and LL, ML, OF
 * state updates). The bit state lives in locals: this loop runs once per sequence.
 */
function encodeSequences(op: usize, llLog: u32, ofLog: u32, mlLog: u32): usize {
  let acc: u64 = 0;
  let count: u64 = 0;
  let out = op;
  const last = nbSeq - 1;
  let llState = fseInitState(llCTable, llTT, load<u8>(llCodes + last));
  let ofState = fseInitState(ofCTable, ofTT, load<u8>(ofCodes + last));
  let mlState = fseInitState(mlCTable, mlTT, load<u8>(mlCodes + last));
  let i = <i32>last;
  while (true) {
    const k = <u32>i;
    // Extra bits of sequence k: LL, ML, then offset.
    const llc = <u32>load<u8>(llCodes + k);
    const mlc = <u32>load<u8>(mlCodes + k);
    const ofc = <u32>load<u8>(ofCodes + k);
    const llBitCount = <u64>load<u8>(LL_EXTRA_BITS + llc);
    const mlBitCount = <u64>load<u8>(ML_EXTRA_BITS + mlc);
    acc |= (<u64>load<u32>(seqLitLen + (k << 2)) & ((<u64>1 << llBitCount) - 1)) << count;
    count += llBitCount;
    acc |= (<u64>(load<u32>(seqMatchLen + (k << 2)) - 3) & ((<u64>1 << mlBitCount) - 1)) << count;
    count += mlBitCount;
    store<u64>(out, acc);
    out += <usize>(count >> 3);
    acc >>= count & ~7;
    count &= 7;
    // The offset code gives the top bit; the rest follow.
    acc |= (<u64>load<u32>(seqOffValue + (k << 2)) & ((<u64>1 << <u64>ofc) - 1)) << count;
    count += <u64>ofc;
    store<u64>(out, acc);
    out += <usize>(count >> 3);
    acc >>= count & ~7;
    count &= 7;
    if (--i < 0) break;
    // State transitions into sequence i + 1, coding sequence i's symbols: OF, ML, LL.
    const j = <u32>i;
    let tt = ofTT + (<usize>load<u8>(ofCodes + j) << 3);
    let nb = (ofState + load<u32>(tt, 4)) >> 16;
    acc |= <u64>(ofState & ((1 << nb) - 1)) << count;
    count += <u64>nb;
    ofState = load<u16>(ofCTable + (<usize>((ofState >> nb) + <u32>load<i32>(tt)) << 1));
    tt = mlTT + (<usize>load<u8>(mlCodes + j) << 3);
    nb = (mlState + load<u32>(tt, 4)) >> 16;
    acc |= <u64>(mlState & ((1 << nb) - 1)) << count;
    count += <u64>nb;
    mlState = load<u16>(mlCTable + (<usize>((mlState >> nb) + <u32>load<i32>(tt)) << 1));
    tt = llTT + (<usize>load<u8>(llCodes + j) << 3);
    nb = (llState + load<u32>(tt, 4)) >> 16;
    acc |= <u64>(llState & ((1 << nb) - 1)) << count;
    count += <u64>nb;
    llState = load<u16>(llCTable + (<usize>((llState >> nb) + <u32>load<i32>(tt)) << 1));
    store<u64>(out, acc);
    out += <usize>(count >> 3);
    acc >>= count & ~7;
    count &= 7;
  }
  // Final states, ML then OF then LL, and the end mark.
  acc |= <u64>(mlState & ((1 << mlLog) - 1)) << count;
  count += <u64>mlLog;
  acc |= <u64>(ofState & ((1 << ofLog) - 1)) << count;
  count += <u64>ofLog;
  store<u64>(out, acc);
  out += <usize>(count >> 3);
  acc >>= count & ~7;
  count &= 7;
  acc |= <u64>(llState & ((1 << llLog) - 1)) << count;
  count += <u64>llLog;
  acc |= <u64>1 << count;
  count++;
  store<u64>(out, acc);
  return out + <usize>((count + 7) >> 3);
}

// ---------------------------------------------------------------------------------------------
// Match finding: sequences for one block, with repeat offsets carried across blocks.

let rep0: u32 = 1;
let rep1: u32 = 4;
let rep2: u32 = 8;
let nbSeq: u32 = 0;
let litCount: u32 = 0;

/** Records literals [from, from + litLen) and a match; codes the offset against the repeats. */
@inline function addSequence(from: usize, litLen: u32, offset: u32, matchLen: u32): void {
  if (litLen > 0) {
    copyWild(literals + litCount, from, litLen);
    litCount += litLen;
  }
  let value: u32;
  if (litLen > 0) {
    if (offset == rep0) value = 1;
    else if (offset == rep1) value = 2;
    else if (offset == rep2) value = 3;
    else value = offset + 3;
  } else {
    if (offset == rep1) value = 1;
    else if (offset == rep2) value = 2;
    else if (offset == rep0 - 1) value = 3;
    else value = offset + 3;
  }
  // Update the repeat history exactly as decoders will.
  if (value > 3 || (litLen == 0 && value == 3)) {
    rep2 = rep1;
    rep1 = rep0;
    rep0 = offset;
  } else {
    const index = litLen == 0 ? value : value - 1;
    if (index == 1) {
      rep1 = rep0;
      rep0 = offset;
    } else if (index == 2) {
      rep2 = rep1;
      rep1 = rep0;
      rep0 = offset;
    }
  }
  const at = nbSeq << 2;
  store<u32>(seqLitLen + at, litLen);
  store<u32>(seqMatchLen + at, matchLen);
  store<u32>(seqOffValue + at, value);
  nbSeq++;
}

/** Copies in 16-byte steps: may write up to 15 bytes past dst + len (the windows have slack). */
@inline function copyWild(dst: usize, src: usize, len: u32): void {
  const end = dst + len;
  do {
    v128.store(dst, v128.load(src));
    dst += 16;
    src += 16;
  } while (dst < end);
}

/** Hash of the 8 bytes at p into `log` bits. */
@inline function hash8(p: usize, log: u32): u32 {
  return hashWord(load<u64>(p), log);
}

/** Hash of the bytes of `word` into `log` bits (shift out high bytes to key on fewer). */
@inline function hashWord(word: u64, log: u32): u32 {
  return <u32>((word * 0xcf1bbcdcb7a56463) >> (64 - <u64>log));
}

/** Hash of the low 8 - keyShift / 8 bytes at p into `log` bits (reads 8 bytes). */
@inline function hashKey(p: usize, log: u32, keyShift: u64): u32 {
  return <u32>(((load<u64>(p) << keyShift) * 0xcf1bbcdcb7a56463) >> (64 - <u64>log));
}

/** Hash of the 5 bytes at p into `log` bits (reads 8: callers keep p + 8 within the block). */
@inline function hash5(p: usize, log: u32): u32 {
  return <u32>(((load<u64>(p) << 24) * 0xcf1bbcdcb7a56463) >> (64 - <u64>log));
}

@inline function hash4(p: usize): u32 {
  return (load<u32>(p) * 2654435761) >> (32 - lazyLog);
}

/** Length of the common prefix of a and b, comparing up to limit (the end of a's range). */
@inline function commonLength(a: usize, b: usize, limit: usize): u32 {
  const start = a;
  while (a + 8 <= limit) {
    const diff = load<u64>(a) ^ load<u64>(b);
    if (diff != 0) return <u32>(a - start) + <u32>(ctz(diff) >> 3);
    a += 8;
    b += 8;
  }
  while (a < limit && load<u8>(a) == load<u8>(b)) {
    a++;
    b++;
  }
  return <u32>(a - start);
}

/** Largest offset a match may have: the frame's window size. */
let maxOffset: u32 = MAX_INPUT;

// Search parameters of the current level.
const STRATEGY_FAST: u32 = 0;
const STRATEGY_DOUBLE: u32 = 1;
const STRATEGY_LAZY: u32 = 2;
let strategy: u32 = STRATEGY_LAZY;
let searchDepth: u32 = 1;
let lazyDepth: u32 = 0;
/** Next position to insert into the hash chains. */
let nextToUpdate: u32 = 0;
let bestOffset: u32 = 0;

/** Inserts positions up to (not including) target into the hash chains. */
@inline function insertUpTo(src: usize, target: u32): void {
  let p = nextToUpdate;
  while (p < target) {
    const slot = hashTable + (<usize>hash4(src + p) << 2);
    store<u32>(chainTable + (<usize>(p & CHAIN_MASK) << 2), load<u32>(slot));
    store<u32>(slot, p + 1); // 0 means empty
    p++;
  }
  nextToUpdate = target;
}

/** Longest match at position pos (≥ MIN_MATCH, up to limit) via the hash chain; sets bestOffset. */
function findMatch(src: usize, pos: u32, limit: usize): u32 {
  insertUpTo(src, pos);
  const ip = src + pos;
  let best: u32 = MIN_MATCH - 1;
  bestOffset = 0;
  // The most recent offset first: it is cheap to code.
  if (pos >= rep0) {
    const len = commonLength(ip, ip - rep0, limit);
    if (len >= MIN_MATCH) {
      best = len;
      bestOffset = rep0;
    }
  }
  let candidate = load<u32>(hashTable + (<usize>hash4(ip) << 2));
  const lowest: u32 = pos > CHAIN_MASK ? pos - CHAIN_MASK : 0;
  let attempts = searchDepth;
  while (candidate > 0 && attempts-- > 0) {
    const c = candidate - 1;
    if (c >= pos || pos - c > maxOffset) break;
    const m = src + c;
    // Cheap rejection: the byte that would extend the best match must agree.
    if (load<u8>(m + best) == load<u8>(ip + best) && ip + best < limit) {
      const len = commonLength(ip, m, limit);
      if (len > best) {
        best = len;
        bestOffset = pos - c;
        if (ip + len >= limit) break;
      }
    }
    if (c < lowest) break;
    candidate = load<u32>(chainTable + (<usize>(c & CHAIN_MASK) << 2));
    if (candidate - 1 >= c) break; // overwritten slot: the chain went out of the window
  }
  return best >= MIN_MATCH ? best : 0;
}

/** Estimated value of a match: bytes covered against the bits its offset costs. */
@inline function gain(len: u32, offset: u32): i32 {
  return <i32>(len * 4) - <i32>highbit(offset + 1);
}

/** Hash-chain parser with optional lazy evaluation for [blockStart, blockEnd). */
function parseLazy(src: usize, blockStart: u32, blockEnd: u32): u32 {
  const limit = src + blockEnd;
  let anchor = blockStart;
  let pos = blockStart;
  const last = blockEnd >= 8 ? blockEnd - 8 : 0;
  while (pos < last) {
    let len = findMatch(src, pos, limit);
    if (len == 0) {
      pos++;
      continue;
    }
    let offset = bestOffset;
    for (let step: u32 = 0; step < lazyDepth && pos + 1 < last; step++) {
      const len2 = findMatch(src, pos + 1, limit);
      if (len2 == 0 || gain(len2, bestOffset) <= gain(len, offset) + 4) break;
      len = len2;
      offset = bestOffset;
      pos++;
    }
    pos = extendBackwards(src, pos, anchor, offset);
    len += backwardsBy;
    addSequence(src + anchor, pos - anchor, offset, len);
    pos += len;
    anchor = pos;
  }
  return anchor;
}

const FAST_HASH_LOG: u32 = 14;
let fastLog: u32 = FAST_HASH_LOG;
/**
 * 64 - 8 × the bytes a fast-level match must share to be found through the table: 6, as the
 * reference encoder's fast levels require (fewer false candidates, faster, about 1% larger).
 */
const FAST_KEY_SHIFT: u64 = 16;
let lazyLog: u32 = HASH_LOG;
const LONG_HASH_LOG_MAX: u32 = 17;
// Double-hash parameters of the current level.
let longLog: u32 = LONG_HASH_LOG_MAX;
let shortLog: u32 = 16;
let skipShift: u32 = 8;

/** Greedy single-probe parser (fastest level): skips ahead faster through unmatched data. */
function parseFast(src: usize, blockStart: u32, blockEnd: u32): u32 {
  const limit = src + blockEnd;
  let anchor = blockStart;
  let pos = blockStart;
  const last = blockEnd >= 8 ? blockEnd - 8 : 0;
  let repeat = rep0; // kept in a local: read at every position
  let misses: u32 = 0;
  // Level parameters in locals: they are read at every position.
  const bits = fastLog;
  const keyShift = FAST_KEY_SHIFT;
  const window = maxOffset;
  const table = hashTable;
  while (pos < last) {
    const ip = src + pos;
    let len: u32 = 0;
    let offset: u32 = 0;
    const slot = table + (<usize>hashKey(ip, bits, keyShift) << 2);
    const candidate = load<u32>(slot);
    store<u32>(slot, pos + 1);
    if (pos > anchor && pos >= repeat && load<u32>(ip) == load<u32>(ip - repeat)) {
      offset = repeat;
      len = commonLength(ip, ip - repeat, limit);
    } else if (
      candidate > 0 &&
      pos - (candidate - 1) <= window &&
      ((load<u64>(src + candidate - 1) ^ load<u64>(ip)) << keyShift) == 0
    ) {
      offset = pos - (candidate - 1);
      len = commonLength(ip, src + candidate - 1, limit);
    }
    if (len < MIN_MATCH) {
      pos += 1 + (misses++ >> 5);
      continue;
    }
    misses = 0;
    pos = extendBackwards(src, pos, anchor, offset);
    len += backwardsBy;
    addSequence(src + anchor, pos - anchor, offset, len);
    repeat = rep0;
    pos += len;
    anchor = pos;
    if (pos - 2 < last) store<u32>(table + (<usize>hashKey(src + pos - 2, bits, keyShift) << 2), pos - 1);
  }
  return anchor;
}

/** How far the last extendBackwards moved. */
let backwardsBy: u32 = 0;

/** Moves a match at pos (of `offset`) back over equal pending literals; returns the new start. */
@inline function extendBackwards(src: usize, pos: u32, anchor: u32, offset: u32): u32 {
  const start = pos;
  while (pos > anchor && pos > offset && load<u8>(src + pos - 1) == load<u8>(src + pos - 1 - offset)) pos--;
  backwardsBy = start - pos;
  return pos;
}

@inline function insertDouble(src: usize, p: u32): void {
  store<u32>(hashTable + (<usize>hash8(src + p, longLog) << 2), p + 1);
  store<u32>(chainTable + (<usize>hash5(src + p, shortLog) << 2), p + 1);
}

/**
 * Greedy parser over two hash tables (long: 8-byte, short: 5-byte keys), preferring long
 * candidates and probing one byte ahead for a long match before taking a short one.
 */
function parseDouble(src: usize, blockStart: u32, blockEnd: u32): u32 {
  const limit = src + blockEnd;
  let anchor = blockStart;
  let pos = blockStart;
  const last = blockEnd >= 8 ? blockEnd - 8 : 0;
  let repeat = rep0; // kept in a local: read at every position
  const longTable = hashTable;
  const shortTable = chainTable;
  // Level parameters in locals: they are read at every position.
  const longBits = longLog;
  const shortBits = shortLog;
  const skip = skipShift;
  const window = maxOffset;
  while (pos < last) {
    const ip = src + pos;
    // One load of the 8 bytes at ip serves both hashes and every candidate comparison.
    const word = load<u64>(ip);
    const longSlot = longTable + (<usize>hashWord(word, longBits) << 2);
    const shortSlot = shortTable + (<usize>hashWord(word << 24, shortBits) << 2);
    const longCandidate = load<u32>(longSlot);
    const shortCandidate = load<u32>(shortSlot);
    store<u32>(longSlot, pos + 1);
    store<u32>(shortSlot, pos + 1);
    let len: u32 = 0;
    let offset: u32 = 0;
    if (pos > anchor && pos >= repeat && <u32>word == load<u32>(ip - repeat)) {
      offset = repeat;
      len = commonLength(ip, ip - repeat, limit);
    } else if (longCandidate > 0 && pos - (longCandidate - 1) <= window && load<u64>(src + longCandidate - 1) == word) {
      offset = pos - (longCandidate - 1);
      len = commonLength(ip, src + longCandidate - 1, limit);
    } else if (shortCandidate > 0 && pos - (shortCandidate - 1) <= window && ((load<u64>(src + shortCandidate - 1) ^ word) << 24) == 0) {
      // Short candidates must share 5 bytes: 4-byte matches far back rarely pay for themselves.
      if (pos + 1 < last) {
        const nextWord = load<u64>(ip + 1);
        const nextSlot = longTable + (<usize>hashWord(nextWord, longBits) << 2);
        const next = load<u32>(nextSlot);
        store<u32>(nextSlot, pos + 2);
        if (next > 0 && pos + 1 - (next - 1) <= window && load<u64>(src + next - 1) == nextWord) {
          pos++;
          offset = pos - (next - 1);
          len = commonLength(ip + 1, src + next - 1, limit);
        }
      }
      if (len == 0) {
        offset = pos - (shortCandidate - 1);
        len = commonLength(ip, src + shortCandidate - 1, limit);
      }
    }
    if (len < MIN_MATCH) {
      pos += 1 + ((pos - anchor) >> skip);
      continue;
    }
    pos = extendBackwards(src, pos, anchor, offset);
    len += backwardsBy;
    addSequence(src + anchor, pos - anchor, offset, len);
    repeat = rep0;
    const start = pos;
    pos += len;
    anchor = pos;
    // Index two positions inside the match so later data can refer back into it.
    if (start + 2 + 8 <= blockEnd) insertDouble(src, start + 2);
    if (pos - 2 > start + 2 && pos - 2 + 8 <= blockEnd) insertDouble(src, pos - 2);
  }
  return anchor;
}

// ---------------------------------------------------------------------------------------------
// Blocks and frame.

/** Compresses block [start, end) of the input into op; returns the end address. */
function writeBlock(op: usize, start: u32, end: u32, lastBlock: bool): usize {
  const savedRep0 = rep0;
  const savedRep1 = rep1;
  const savedRep2 = rep2;
  nbSeq = 0;
  litCount = 0;
  const src = inputWindow;
  const anchor =
    strategy == STRATEGY_FAST ? parseFast(src, start, end) : strategy == STRATEGY_DOUBLE ? parseDouble(src, start, end) : parseLazy(src, start, end);
  const tail = end - anchor;
  memory.copy(literals + litCount, src + anchor, tail);
  litCount += tail;

  const size = end - start;
  const body = blockScratch + 3;
  let p = writeLiterals(body, litCount);
  p = writeSequences(p, nbSeq);
  const compressed = <u32>(p - body);
  if (compressed < size) {
    store<u32>(op, (compressed << 3) | (2 << 1) | (lastBlock ? 1 : 0));
    memory.copy(op + 3, body, compressed);
    return op + 3 + compressed;
  }
  // Raw block: decoders leave the repeat offsets untouched by it.
  rep0 = savedRep0;
  rep1 = savedRep1;
  rep2 = savedRep2;
  store<u32>(op, (size << 3) | (lastBlock ? 1 : 0));
  memory.copy(op + 3, src + start, size);
  return op + 3 + size;
}

/**
 * Sets the match finder up for `level` and clears its tables. Inputs of `size` bytes use tables
 * scaled to them: clearing full tables would dominate for small chunks. (The lazy parser's chain
 * table needs no clearing: it only follows links written in this run.)
 */
function startLevel(level: i32, size: u32): void {
  const cap = size < 2 ? 10 : max<u32>(10, highbit(size - 1) + 2);
  if (level <= 2) {
    strategy = STRATEGY_FAST;
    fastLog = min<u32>(level == 1 ? FAST_HASH_LOG : FAST_HASH_LOG + 2, cap);
    memory.fill(hashTable, 0, 4 << fastLog);
  } else if (level <= 4) {
    strategy = STRATEGY_DOUBLE;
    longLog = min<u32>(17, cap);
    shortLog = min<u32>(level == 3 ? 16 : 17, cap);
    skipShift = level == 3 ? 8 : 10;
    memory.fill(hashTable, 0, 4 << longLog);
    memory.fill(chainTable, 0, 4 << shortLog);
  } else {
    strategy = STRATEGY_LAZY;
    lazyLog = min<u32>(HASH_LOG, cap);
    searchDepth = <u32>1 << (<u32>level - 2);
    lazyDepth = level <= 6 ? 1 : 2;
    memory.fill(hashTable, 0, 4 << lazyLog);
  }
  nextToUpdate = 0;
  rep0 = 1;
  rep1 = 4;
  rep2 = 8;
}

/**
 * Compresses `len` bytes at inputPtr() into one zstd frame at outputPtr(); returns its size, or
 * ERR_ARGUMENT for a length or level out of range.
 */
export function compress(len: u32, level: i32, checksum: bool): i32 {
  if (len > MAX_INPUT || level < 1 || level > MAX_LEVEL) return ERR_ARGUMENT;
  startLevel(level, len);
  maxOffset = MAX_INPUT;

  // Frame header: magic, descriptor (single segment, content size, optional checksum).
  let op = outputWindow;
  store<u32>(op, 0xfd2fb528);
  const fcsFlag: u32 = len < 256 ? 0 : len < 65536 + 256 ? 1 : 2;
  store<u8>(op + 4, <u8>((fcsFlag << 6) | (1 << 5) | (checksum ? 1 << 2 : 0)));
  op += 5;
  if (fcsFlag == 0) {
    store<u8>(op, <u8>len);
    op += 1;
  } else if (fcsFlag == 1) {
    store<u16>(op, <u16>(len - 256));
    op += 2;
  } else {
    store<u32>(op, len);
    op += 4;
  }

  if (len == 0) {
    store<u32>(op, 1); // one empty raw block, marked last
    op += 3;
  }
  for (let start: u32 = 0; start < len; start += BLOCK_MAX) {
    const end = len - start > BLOCK_MAX ? start + BLOCK_MAX : len;
    op = writeBlock(op, start, end, end == len);
  }
  if (checksum) {
    xxh64Reset(xxhState, 0);
    xxh64Update(xxhState, inputWindow, len);
    store<u32>(op, <u32>xxh64Digest(xxhState));
    op += 4;
  }
  return <i32>(op - outputWindow);
}

// ---------------------------------------------------------------------------------------------
// Streaming: one frame of unknown size with an 8 MiB window. Input accumulates in the input
// window; complete blocks are compressed as they arrive, always holding back at least one byte
// so that the block that ends the frame can be marked last. When the window fills, the last
// 8 MiB of history slide to its start and the tables are rebased.

const STREAM_WINDOW_LOG: u32 = 23;
const STREAM_WINDOW: u32 = 1 << STREAM_WINDOW_LOG;
let streamChecksum = false;
/** Input bytes held in the input window, and where the next block starts. */
let streamFilled: u32 = 0;
let streamPending: u32 = 0;

/** Starts a frame; writes its header at outputPtr() and returns the header size. */
export function streamBegin(level: i32, checksum: bool): i32 {
  if (level < 1 || level > MAX_LEVEL) return ERR_ARGUMENT;
  startLevel(level, MAX_INPUT);
  memory.fill(hashTable, 0, 4 << HASH_LOG); // rebasing walks whole tables
  memory.fill(chainTable, 0, 4 << CHAIN_LOG);
  maxOffset = STREAM_WINDOW;
  streamChecksum = checksum;
  streamFilled = 0;
  streamPending = 0;
  xxh64Reset(xxhState, 0);
  store<u32>(outputWindow, 0xfd2fb528);
  store<u8>(outputWindow + 4, <u8>(checksum ? 1 << 2 : 0));
  store<u8>(outputWindow + 5, <u8>((STREAM_WINDOW_LOG - 10) << 3));
  return 6;
}

/** Where the next `n` (≤ streamChunk()) input bytes go, sliding the window first if needed. */
export function streamReserve(n: u32): usize {
  if (n > BLOCK_MAX) return 0;
  if (streamFilled + n > MAX_INPUT) {
    // Keep a window of history before the pending bytes; shift by whole chain cycles so that
    // chain slots (position & CHAIN_MASK) stay put.
    const keepFrom = streamPending > STREAM_WINDOW ? streamPending - STREAM_WINDOW : 0;
    const shift = keepFrom & ~CHAIN_MASK;
    memory.copy(inputWindow, inputWindow + shift, streamFilled - shift);
    streamFilled -= shift;
    streamPending -= shift;
    nextToUpdate = nextToUpdate > shift ? nextToUpdate - shift : 0;
    rebase(hashTable, 1 << HASH_LOG, shift);
    rebase(chainTable, 1 << CHAIN_LOG, shift);
  }
  return inputWindow + streamFilled;
}

/** Largest piece streamReserve accepts. */
export function streamChunk(): u32 {
  return BLOCK_MAX;
}

/** Moves stored positions (position + 1; 0 = empty) down by `shift`, dropping those before it. */
function rebase(table: usize, entries: u32, shift: u32): void {
  for (let i: u32 = 0; i < entries; i++) {
    const at = table + (<usize>i << 2);
    const v = load<u32>(at);
    store<u32>(at, v > shift ? v - shift : 0);
  }
}

/**
 * Takes the `n` bytes written at the address streamReserve(n) returned; compresses the complete
 * blocks now available into outputPtr() and returns their size.
 */
export function streamWrite(n: u32): i32 {
  if (n > BLOCK_MAX || streamFilled + n > MAX_INPUT) return ERR_ARGUMENT;
  if (streamChecksum) xxh64Update(xxhState, inputWindow + streamFilled, n);
  streamFilled += n;
  let op = outputWindow;
  while (streamFilled - streamPending > BLOCK_MAX) {
    op = writeBlock(op, streamPending, streamPending + BLOCK_MAX, false);
    streamPending += BLOCK_MAX;
  }
  return <i32>(op - outputWindow);
}

/** Ends the frame: the last block and the checksum, at outputPtr(); returns their size. */
export function streamEnd(): i32 {
  let op = outputWindow;
  if (streamFilled == streamPending) {
    store<u32>(op, 1); // nothing pending (empty stream): an empty raw block, marked last
    op += 3;
  } else {
    op = writeBlock(op, streamPending, streamFilled, true);
    streamPending = streamFilled;
  }
  if (streamChecksum) {
    store<u32>(op, <u32>xxh64Digest(xxhState));
    op += 4;
  }
  return <i32>(op - outputWindow);
}
