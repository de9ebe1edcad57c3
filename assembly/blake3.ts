// BLAKE3 (hash, keyed_hash, derive_key; 32-byte output) over a static input window.
// The SIMD build hashes four 1 KiB chunks at once, one chunk per i32x4 lane with the message
// words transposed, and reduces parent nodes four at a time the same way; the scalar build uses
// the one-block compression for everything. The build has no runtime bounds checks: every size
// coming from JS is checked against the windows here.

import { reserve } from "./lib/window";

const CHUNK_LEN: u32 = 1024;
const BLOCK_LEN: u32 = 64;
const CV_LEN: u32 = 32;

// Domain flags of the compression function.
const CHUNK_START: u32 = 1;
const CHUNK_END: u32 = 2;
const PARENT: u32 = 4;
const ROOT: u32 = 8;
const KEYED_HASH: u32 = 16;
const DERIVE_KEY_CONTEXT: u32 = 32;
const DERIVE_KEY_MATERIAL: u32 = 64;

const IV0: u32 = 0x6a09e667;
const IV1: u32 = 0xbb67ae85;
const IV2: u32 = 0x3c6ef372;
const IV3: u32 = 0xa54ff53a;
const IV4: u32 = 0x510e527f;
const IV5: u32 = 0x9b05688c;
const IV6: u32 = 0x1f83d9ab;
const IV7: u32 = 0x5be0cd19;

/** Input window: one crossing per 1 MiB (the default Nydus chunk); 128 KiB to 4 MiB measured alike. */
const WINDOW: u32 = 1 << 20;
/** Most digests one hashMany call produces. */
const MAX_BATCH: u32 = 4096;
/** A stack of 54 subtree CVs covers 2^54 chunks, i.e. any input below 2^64 bytes. */
const MAX_STACK: u32 = 54;

// A hashing stream, kept in memory between calls.
const ST_COUNTER = 0; // u64: chunks completed before the buffered one
const ST_BUFFERED = 8; // u32: bytes of the current chunk held in the buffer (0..1024)
const ST_STACK_LEN = 12; // u32: CVs on the stack
const ST_BUFFER = 16; // the current chunk, hashed once more input proves it is not the last
const ST_STACK = ST_BUFFER + CHUNK_LEN; // CV stack of complete subtrees, left to right
const STATE_SIZE = ST_STACK + MAX_STACK * CV_LEN;

const inputWindow = reserve(WINDOW);
const sizesWindow = reserve(MAX_BATCH * 4);
const outputWindow = reserve(MAX_BATCH * CV_LEN);
/** Where JS writes a key before configure(). */
const keyWindow = reserve(CV_LEN);
/** The key words every chunk and parent starts from (the IV unless keyed). */
const keyWords = reserve(CV_LEN);
/** CVs of the chunks of one subtree, reduced in place to the subtree's two halves. */
const subtreeCvs = reserve((WINDOW / CHUNK_LEN) * CV_LEN);
/** Stream 0 belongs to init/update/final, stream 1 to one-shot digests. */
const streams = reserve(2 * STATE_SIZE);
const scratchCv = reserve(CV_LEN);

/** Flags mixed into every compression: 0, KEYED_HASH, DERIVE_KEY_CONTEXT or DERIVE_KEY_MATERIAL. */
let modeFlags: u32 = 0;

// The last compression of a stream waits here until it is known whether it is the root.
const pendingCv = reserve(CV_LEN);
const pendingBlock = reserve(BLOCK_LEN);
let pendingCounter: u64 = 0;
let pendingBlockLen: u32 = 0;
let pendingFlags: u32 = 0;

export function inputPtr(): usize {
  return inputWindow;
}
export function windowSize(): u32 {
  return WINDOW;
}
export function sizesPtr(): usize {
  return sizesWindow;
}
export function outputPtr(): usize {
  return outputWindow;
}
export function maxBatch(): u32 {
  return MAX_BATCH;
}
export function keyPtr(): usize {
  return keyWindow;
}

/**
 * Selects the mode for all later streams: flags 0 hashes with the IV, KEYED_HASH,
 * DERIVE_KEY_CONTEXT and DERIVE_KEY_MATERIAL use the 32 bytes at keyPtr() as key words
 * (DERIVE_KEY_CONTEXT ignores them and uses the IV). Returns 0, or -1 for unknown flags.
 */
export function configure(flags: u32): i32 {
  if (flags == 0 || flags == DERIVE_KEY_CONTEXT) {
    store<u32>(keyWords, IV0, 0);
    store<u32>(keyWords, IV1, 4);
    store<u32>(keyWords, IV2, 8);
    store<u32>(keyWords, IV3, 12);
    store<u32>(keyWords, IV4, 16);
    store<u32>(keyWords, IV5, 20);
    store<u32>(keyWords, IV6, 24);
    store<u32>(keyWords, IV7, 28);
  } else if (flags == KEYED_HASH || flags == DERIVE_KEY_MATERIAL) {
    memory.copy(keyWords, keyWindow, CV_LEN);
  } else {
    return -1;
  }
  modeFlags = flags;
  reset(0);
  reset(1);
  return 0;
}

// ---------------------------------------------------------------------------------------------
// The compression function. Each of its seven rounds applies G to the four columns of the 4x4
// state, then to its four diagonals, with G consuming two message words. The rounds are written
// out so that the message schedule (round r+1 takes word PERMUTATION[i] of round r as its word i,
// PERMUTATION = 2 6 3 10 7 0 4 13 1 11 12 5 9 14 15 8) is a renaming, not data movement.

// One compression, scalar: 16 state words and 16 message words in locals.

/**
 * Compresses the 64-byte block at `block` into the CV at `cv`, writing the new CV (the first
 * half of the output) to `out`. Everything is read before `out` is written, so they may alias.
 */
function compress(cv: usize, block: usize, counter: u64, blockLen: u32, flags: u32, out: usize): void {
  let s0 = load<u32>(cv, 0), s1 = load<u32>(cv, 4), s2 = load<u32>(cv, 8), s3 = load<u32>(cv, 12);
  let s4 = load<u32>(cv, 16), s5 = load<u32>(cv, 20), s6 = load<u32>(cv, 24), s7 = load<u32>(cv, 28);
  let s8 = IV0, s9 = IV1, s10 = IV2, s11 = IV3;
  let s12 = <u32>counter, s13 = <u32>(counter >> 32), s14 = blockLen, s15 = flags;
  let m0 = load<u32>(block, 0), m1 = load<u32>(block, 4), m2 = load<u32>(block, 8), m3 = load<u32>(block, 12);
  let m4 = load<u32>(block, 16), m5 = load<u32>(block, 20), m6 = load<u32>(block, 24), m7 = load<u32>(block, 28);
  let m8 = load<u32>(block, 32), m9 = load<u32>(block, 36), m10 = load<u32>(block, 40), m11 = load<u32>(block, 44);
  let m12 = load<u32>(block, 48), m13 = load<u32>(block, 52), m14 = load<u32>(block, 56), m15 = load<u32>(block, 60);
  // Round 1.
  s0 += s4 + m0; s12 = rotr<u32>(s12 ^ s0, 16); s8 += s12; s4 = rotr<u32>(s4 ^ s8, 12);
  s0 += s4 + m1; s12 = rotr<u32>(s12 ^ s0, 8); s8 += s12; s4 = rotr<u32>(s4 ^ s8, 7);
  s1 += s5 + m2; s13 = rotr<u32>(s13 ^ s1, 16); s9 += s13; s5 = rotr<u32>(s5 ^ s9, 12);
  s1 += s5 + m3; s13 = rotr<u32>(s13 ^ s1, 8); s9 += s13; s5 = rotr<u32>(s5 ^ s9, 7);
  s2 += s6 + m4; s14 = rotr<u32>(s14 ^ s2, 16); s10 += s14; s6 = rotr<u32>(s6 ^ s10, 12);
  s2 += s6 + m5; s14 = rotr<u32>(s14 ^ s2, 8); s10 += s14; s6 = rotr<u32>(s6 ^ s10, 7);
  s3 += s7 + m6; s15 = rotr<u32>(s15 ^ s3, 16); s11 += s15; s7 = rotr<u32>(s7 ^ s11, 12);
  s3 += s7 + m7; s15 = rotr<u32>(s15 ^ s3, 8); s11 += s15; s7 = rotr<u32>(s7 ^ s11, 7);
  s0 += s5 + m8; s15 = rotr<u32>(s15 ^ s0, 16); s10 += s15; s5 = rotr<u32>(s5 ^ s10, 12);
  s0 += s5 + m9; s15 = rotr<u32>(s15 ^ s0, 8); s10 += s15; s5 = rotr<u32>(s5 ^ s10, 7);
  s1 += s6 + m10; s12 = rotr<u32>(s12 ^ s1, 16); s11 += s12; s6 = rotr<u32>(s6 ^ s11, 12);
  s1 += s6 + m11; s12 = rotr<u32>(s12 ^ s1, 8); s11 += s12; s6 = rotr<u32>(s6 ^ s11, 7);
  s2 += s7 + m12; s13 = rotr<u32>(s13 ^ s2, 16); s8 += s13; s7 = rotr<u32>(s7 ^ s8, 12);
  s2 += s7 + m13; s13 = rotr<u32>(s13 ^ s2, 8); s8 += s13; s7 = rotr<u32>(s7 ^ s8, 7);
  s3 += s4 + m14; s14 = rotr<u32>(s14 ^ s3, 16); s9 += s14; s4 = rotr<u32>(s4 ^ s9, 12);
  s3 += s4 + m15; s14 = rotr<u32>(s14 ^ s3, 8); s9 += s14; s4 = rotr<u32>(s4 ^ s9, 7);
  // Round 2.
  s0 += s4 + m2; s12 = rotr<u32>(s12 ^ s0, 16); s8 += s12; s4 = rotr<u32>(s4 ^ s8, 12);
  s0 += s4 + m6; s12 = rotr<u32>(s12 ^ s0, 8); s8 += s12; s4 = rotr<u32>(s4 ^ s8, 7);
  s1 += s5 + m3; s13 = rotr<u32>(s13 ^ s1, 16); s9 += s13; s5 = rotr<u32>(s5 ^ s9, 12);
  s1 += s5 + m10; s13 = rotr<u32>(s13 ^ s1, 8); s9 += s13; s5 = rotr<u32>(s5 ^ s9, 7);
  s2 += s6 + m7; s14 = rotr<u32>(s14 ^ s2, 16); s10 += s14; s6 = rotr<u32>(s6 ^ s10, 12);
  s2 += s6 + m0; s14 = rotr<u32>(s14 ^ s2, 8); s10 += s14; s6 = rotr<u32>(s6 ^ s10, 7);
  s3 += s7 + m4; s15 = rotr<u32>(s15 ^ s3, 16); s11 += s15; s7 = rotr<u32>(s7 ^ s11, 12);
  s3 += s7 + m13; s15 = rotr<u32>(s15 ^ s3, 8); s11 += s15; s7 = rotr<u32>(s7 ^ s11, 7);
  s0 += s5 + m1; s15 = rotr<u32>(s15 ^ s0, 16); s10 += s15; s5 = rotr<u32>(s5 ^ s10, 12);
  s0 += s5 + m11; s15 = rotr<u32>(s15 ^ s0, 8); s10 += s15; s5 = rotr<u32>(s5 ^ s10, 7);
  s1 += s6 + m12; s12 = rotr<u32>(s12 ^ s1, 16); s11 += s12; s6 = rotr<u32>(s6 ^ s11, 12);
  s1 += s6 + m5; s12 = rotr<u32>(s12 ^ s1, 8); s11 += s12; s6 = rotr<u32>(s6 ^ s11, 7);
  s2 += s7 + m9; s13 = rotr<u32>(s13 ^ s2, 16); s8 += s13; s7 = rotr<u32>(s7 ^ s8, 12);
  s2 += s7 + m14; s13 = rotr<u32>(s13 ^ s2, 8); s8 += s13; s7 = rotr<u32>(s7 ^ s8, 7);
  s3 += s4 + m15; s14 = rotr<u32>(s14 ^ s3, 16); s9 += s14; s4 = rotr<u32>(s4 ^ s9, 12);
  s3 += s4 + m8; s14 = rotr<u32>(s14 ^ s3, 8); s9 += s14; s4 = rotr<u32>(s4 ^ s9, 7);
  // Round 3.
  s0 += s4 + m3; s12 = rotr<u32>(s12 ^ s0, 16); s8 += s12; s4 = rotr<u32>(s4 ^ s8, 12);
  s0 += s4 + m4; s12 = rotr<u32>(s12 ^ s0, 8); s8 += s12; s4 = rotr<u32>(s4 ^ s8, 7);
  s1 += s5 + m10; s13 = rotr<u32>(s13 ^ s1, 16); s9 += s13; s5 = rotr<u32>(s5 ^ s9, 12);
  s1 += s5 + m12; s13 = rotr<u32>(s13 ^ s1, 8); s9 += s13; s5 = rotr<u32>(s5 ^ s9, 7);
  s2 += s6 + m13; s14 = rotr<u32>(s14 ^ s2, 16); s10 += s14; s6 = rotr<u32>(s6 ^ s10, 12);
  s2 += s6 + m2; s14 = rotr<u32>(s14 ^ s2, 8); s10 += s14; s6 = rotr<u32>(s6 ^ s10, 7);
  s3 += s7 + m7; s15 = rotr<u32>(s15 ^ s3, 16); s11 += s15; s7 = rotr<u32>(s7 ^ s11, 12);
  s3 += s7 + m14; s15 = rotr<u32>(s15 ^ s3, 8); s11 += s15; s7 = rotr<u32>(s7 ^ s11, 7);
  s0 += s5 + m6; s15 = rotr<u32>(s15 ^ s0, 16); s10 += s15; s5 = rotr<u32>(s5 ^ s10, 12);
  s0 += s5 + m5; s15 = rotr<u32>(s15 ^ s0, 8); s10 += s15; s5 = rotr<u32>(s5 ^ s10, 7);
  s1 += s6 + m9; s12 = rotr<u32>(s12 ^ s1, 16); s11 += s12; s6 = rotr<u32>(s6 ^ s11, 12);
  s1 += s6 + m0; s12 = rotr<u32>(s12 ^ s1, 8); s11 += s12; s6 = rotr<u32>(s6 ^ s11, 7);
  s2 += s7 + m11; s13 = rotr<u32>(s13 ^ s2, 16); s8 += s13; s7 = rotr<u32>(s7 ^ s8, 12);
  s2 += s7 + m15; s13 = rotr<u32>(s13 ^ s2, 8); s8 += s13; s7 = rotr<u32>(s7 ^ s8, 7);
  s3 += s4 + m8; s14 = rotr<u32>(s14 ^ s3, 16); s9 += s14; s4 = rotr<u32>(s4 ^ s9, 12);
  s3 += s4 + m1; s14 = rotr<u32>(s14 ^ s3, 8); s9 += s14; s4 = rotr<u32>(s4 ^ s9, 7);
  // Round 4.
  s0 += s4 + m10; s12 = rotr<u32>(s12 ^ s0, 16); s8 += s12; s4 = rotr<u32>(s4 ^ s8, 12);
  s0 += s4 + m7; s12 = rotr<u32>(s12 ^ s0, 8); s8 += s12; s4 = rotr<u32>(s4 ^ s8, 7);
  s1 += s5 + m12; s13 = rotr<u32>(s13 ^ s1, 16); s9 += s13; s5 = rotr<u32>(s5 ^ s9, 12);
  s1 += s5 + m9; s13 = rotr<u32>(s13 ^ s1, 8); s9 += s13; s5 = rotr<u32>(s5 ^ s9, 7);
  s2 += s6 + m14; s14 = rotr<u32>(s14 ^ s2, 16); s10 += s14; s6 = rotr<u32>(s6 ^ s10, 12);
  s2 += s6 + m3; s14 = rotr<u32>(s14 ^ s2, 8); s10 += s14; s6 = rotr<u32>(s6 ^ s10, 7);
  s3 += s7 + m13; s15 = rotr<u32>(s15 ^ s3, 16); s11 += s15; s7 = rotr<u32>(s7 ^ s11, 12);
  s3 += s7 + m15; s15 = rotr<u32>(s15 ^ s3, 8); s11 += s15; s7 = rotr<u32>(s7 ^ s11, 7);
  s0 += s5 + m4; s15 = rotr<u32>(s15 ^ s0, 16); s10 += s15; s5 = rotr<u32>(s5 ^ s10, 12);
  s0 += s5 + m0; s15 = rotr<u32>(s15 ^ s0, 8); s10 += s15; s5 = rotr<u32>(s5 ^ s10, 7);
  s1 += s6 + m11; s12 = rotr<u32>(s12 ^ s1, 16); s11 += s12; s6 = rotr<u32>(s6 ^ s11, 12);
  s1 += s6 + m2; s12 = rotr<u32>(s12 ^ s1, 8); s11 += s12; s6 = rotr<u32>(s6 ^ s11, 7);
  s2 += s7 + m5; s13 = rotr<u32>(s13 ^ s2, 16); s8 += s13; s7 = rotr<u32>(s7 ^ s8, 12);
  s2 += s7 + m8; s13 = rotr<u32>(s13 ^ s2, 8); s8 += s13; s7 = rotr<u32>(s7 ^ s8, 7);
  s3 += s4 + m1; s14 = rotr<u32>(s14 ^ s3, 16); s9 += s14; s4 = rotr<u32>(s4 ^ s9, 12);
  s3 += s4 + m6; s14 = rotr<u32>(s14 ^ s3, 8); s9 += s14; s4 = rotr<u32>(s4 ^ s9, 7);
  // Round 5.
  s0 += s4 + m12; s12 = rotr<u32>(s12 ^ s0, 16); s8 += s12; s4 = rotr<u32>(s4 ^ s8, 12);
  s0 += s4 + m13; s12 = rotr<u32>(s12 ^ s0, 8); s8 += s12; s4 = rotr<u32>(s4 ^ s8, 7);
  s1 += s5 + m9; s13 = rotr<u32>(s13 ^ s1, 16); s9 += s13; s5 = rotr<u32>(s5 ^ s9, 12);
  s1 += s5 + m11; s13 = rotr<u32>(s13 ^ s1, 8); s9 += s13; s5 = rotr<u32>(s5 ^ s9, 7);
  s2 += s6 + m15; s14 = rotr<u32>(s14 ^ s2, 16); s10 += s14; s6 = rotr<u32>(s6 ^ s10, 12);
  s2 += s6 + m10; s14 = rotr<u32>(s14 ^ s2, 8); s10 += s14; s6 = rotr<u32>(s6 ^ s10, 7);
  s3 += s7 + m14; s15 = rotr<u32>(s15 ^ s3, 16); s11 += s15; s7 = rotr<u32>(s7 ^ s11, 12);
  s3 += s7 + m8; s15 = rotr<u32>(s15 ^ s3, 8); s11 += s15; s7 = rotr<u32>(s7 ^ s11, 7);
  s0 += s5 + m7; s15 = rotr<u32>(s15 ^ s0, 16); s10 += s15; s5 = rotr<u32>(s5 ^ s10, 12);
  s0 += s5 + m2; s15 = rotr<u32>(s15 ^ s0, 8); s10 += s15; s5 = rotr<u32>(s5 ^ s10, 7);
  s1 += s6 + m5; s12 = rotr<u32>(s12 ^ s1, 16); s11 += s12; s6 = rotr<u32>(s6 ^ s11, 12);
  s1 += s6 + m3; s12 = rotr<u32>(s12 ^ s1, 8); s11 += s12; s6 = rotr<u32>(s6 ^ s11, 7);
  s2 += s7 + m0; s13 = rotr<u32>(s13 ^ s2, 16); s8 += s13; s7 = rotr<u32>(s7 ^ s8, 12);
  s2 += s7 + m1; s13 = rotr<u32>(s13 ^ s2, 8); s8 += s13; s7 = rotr<u32>(s7 ^ s8, 7);
  s3 += s4 + m6; s14 = rotr<u32>(s14 ^ s3, 16); s9 += s14; s4 = rotr<u32>(s4 ^ s9, 12);
  s3 += s4 + m4; s14 = rotr<u32>(s14 ^ s3, 8); s9 += s14; s4 = rotr<u32>(s4 ^ s9, 7);
  // Round 6.
  s0 += s4 + m9; s12 = rotr<u32>(s12 ^ s0, 16); s8 += s12; s4 = rotr<u32>(s4 ^ s8, 12);
  s0 += s4 + m14; s12 = rotr<u32>(s12 ^ s0, 8); s8 += s12; s4 = rotr<u32>(s4 ^ s8, 7);
  s1 += s5 + m11; s13 = rotr<u32>(s13 ^ s1, 16); s9 += s13; s5 = rotr<u32>(s5 ^ s9, 12);
  s1 += s5 + m5; s13 = rotr<u32>(s13 ^ s1, 8); s9 += s13; s5 = rotr<u32>(s5 ^ s9, 7);
  s2 += s6 + m8; s14 = rotr<u32>(s14 ^ s2, 16); s10 += s14; s6 = rotr<u32>(s6 ^ s10, 12);
  s2 += s6 + m12; s14 = rotr<u32>(s14 ^ s2, 8); s10 += s14; s6 = rotr<u32>(s6 ^ s10, 7);
  s3 += s7 + m15; s15 = rotr<u32>(s15 ^ s3, 16); s11 += s15; s7 = rotr<u32>(s7 ^ s11, 12);
  s3 += s7 + m1; s15 = rotr<u32>(s15 ^ s3, 8); s11 += s15; s7 = rotr<u32>(s7 ^ s11, 7);
  s0 += s5 + m13; s15 = rotr<u32>(s15 ^ s0, 16); s10 += s15; s5 = rotr<u32>(s5 ^ s10, 12);
  s0 += s5 + m3; s15 = rotr<u32>(s15 ^ s0, 8); s10 += s15; s5 = rotr<u32>(s5 ^ s10, 7);
  s1 += s6 + m0; s12 = rotr<u32>(s12 ^ s1, 16); s11 += s12; s6 = rotr<u32>(s6 ^ s11, 12);
  s1 += s6 + m10; s12 = rotr<u32>(s12 ^ s1, 8); s11 += s12; s6 = rotr<u32>(s6 ^ s11, 7);
  s2 += s7 + m2; s13 = rotr<u32>(s13 ^ s2, 16); s8 += s13; s7 = rotr<u32>(s7 ^ s8, 12);
  s2 += s7 + m6; s13 = rotr<u32>(s13 ^ s2, 8); s8 += s13; s7 = rotr<u32>(s7 ^ s8, 7);
  s3 += s4 + m4; s14 = rotr<u32>(s14 ^ s3, 16); s9 += s14; s4 = rotr<u32>(s4 ^ s9, 12);
  s3 += s4 + m7; s14 = rotr<u32>(s14 ^ s3, 8); s9 += s14; s4 = rotr<u32>(s4 ^ s9, 7);
  // Round 7.
  s0 += s4 + m11; s12 = rotr<u32>(s12 ^ s0, 16); s8 += s12; s4 = rotr<u32>(s4 ^ s8, 12);
  s0 += s4 + m15; s12 = rotr<u32>(s12 ^ s0, 8); s8 += s12; s4 = rotr<u32>(s4 ^ s8, 7);
  s1 += s5 + m5; s13 = rotr<u32>(s13 ^ s1, 16); s9 += s13; s5 = rotr<u32>(s5 ^ s9, 12);
  s1 += s5 + m0; s13 = rotr<u32>(s13 ^ s1, 8); s9 += s13; s5 = rotr<u32>(s5 ^ s9, 7);
  s2 += s6 + m1; s14 = rotr<u32>(s14 ^ s2, 16); s10 += s14; s6 = rotr<u32>(s6 ^ s10, 12);
  s2 += s6 + m9; s14 = rotr<u32>(s14 ^ s2, 8); s10 += s14; s6 = rotr<u32>(s6 ^ s10, 7);
  s3 += s7 + m8; s15 = rotr<u32>(s15 ^ s3, 16); s11 += s15; s7 = rotr<u32>(s7 ^ s11, 12);
  s3 += s7 + m6; s15 = rotr<u32>(s15 ^ s3, 8); s11 += s15; s7 = rotr<u32>(s7 ^ s11, 7);
  s0 += s5 + m14; s15 = rotr<u32>(s15 ^ s0, 16); s10 += s15; s5 = rotr<u32>(s5 ^ s10, 12);
  s0 += s5 + m10; s15 = rotr<u32>(s15 ^ s0, 8); s10 += s15; s5 = rotr<u32>(s5 ^ s10, 7);
  s1 += s6 + m2; s12 = rotr<u32>(s12 ^ s1, 16); s11 += s12; s6 = rotr<u32>(s6 ^ s11, 12);
  s1 += s6 + m12; s12 = rotr<u32>(s12 ^ s1, 8); s11 += s12; s6 = rotr<u32>(s6 ^ s11, 7);
  s2 += s7 + m3; s13 = rotr<u32>(s13 ^ s2, 16); s8 += s13; s7 = rotr<u32>(s7 ^ s8, 12);
  s2 += s7 + m4; s13 = rotr<u32>(s13 ^ s2, 8); s8 += s13; s7 = rotr<u32>(s7 ^ s8, 7);
  s3 += s4 + m7; s14 = rotr<u32>(s14 ^ s3, 16); s9 += s14; s4 = rotr<u32>(s4 ^ s9, 12);
  s3 += s4 + m13; s14 = rotr<u32>(s14 ^ s3, 8); s9 += s14; s4 = rotr<u32>(s4 ^ s9, 7);
  store<u32>(out, s0 ^ s8, 0);
  store<u32>(out, s1 ^ s9, 4);
  store<u32>(out, s2 ^ s10, 8);
  store<u32>(out, s3 ^ s11, 12);
  store<u32>(out, s4 ^ s12, 16);
  store<u32>(out, s5 ^ s13, 20);
  store<u32>(out, s6 ^ s14, 24);
  store<u32>(out, s7 ^ s15, 28);
}

// ---------------------------------------------------------------------------------------------
// Four compressions at once: word i of the state of lane j is lane j of vector i.

@inline function rotr16(x: v128): v128 {
  return i8x16.shuffle(x, x, 2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13);
}
@inline function rotr8(x: v128): v128 {
  return i8x16.shuffle(x, x, 1, 2, 3, 0, 5, 6, 7, 4, 9, 10, 11, 8, 13, 14, 15, 12);
}
@inline function rotr12(x: v128): v128 {
  return v128.or(i32x4.shr_u(x, 12), i32x4.shl(x, 20));
}
@inline function rotr7(x: v128): v128 {
  return v128.or(i32x4.shr_u(x, 7), i32x4.shl(x, 25));
}

/**
 * Hashes four inputs of `blocks` 64-byte blocks each, `stride` bytes apart, writing their four
 * CVs consecutively to `out`. Lane j has counter `counter + j * counterStep`; the first block
 * gets `startFlags`, the last `endFlags`. Chunks: stride 1024, 16 blocks, step 1, CHUNK_START
 * and CHUNK_END. Parents: stride 64, one block, step 0, PARENT.
 */
function hash4(input: usize, stride: usize, blocks: u32, counter: u64, counterStep: u64, startFlags: u32, endFlags: u32, out: usize): void {
  let h0 = v128.load32_splat(keyWords, 0), h1 = v128.load32_splat(keyWords, 4);
  let h2 = v128.load32_splat(keyWords, 8), h3 = v128.load32_splat(keyWords, 12);
  let h4 = v128.load32_splat(keyWords, 16), h5 = v128.load32_splat(keyWords, 20);
  let h6 = v128.load32_splat(keyWords, 24), h7 = v128.load32_splat(keyWords, 28);
  const c1 = counter + counterStep, c2 = c1 + counterStep, c3 = c2 + counterStep;
  let counterLo = i32x4.splat(<i32>counter);
  counterLo = i32x4.replace_lane(counterLo, 1, <i32>c1);
  counterLo = i32x4.replace_lane(counterLo, 2, <i32>c2);
  counterLo = i32x4.replace_lane(counterLo, 3, <i32>c3);
  let counterHi = i32x4.splat(<i32>(counter >> 32));
  counterHi = i32x4.replace_lane(counterHi, 1, <i32>(c1 >> 32));
  counterHi = i32x4.replace_lane(counterHi, 2, <i32>(c2 >> 32));
  counterHi = i32x4.replace_lane(counterHi, 3, <i32>(c3 >> 32));
  const blockLen = i32x4.splat(BLOCK_LEN);
  const p0 = input, p1 = input + stride, p2 = p1 + stride, p3 = p2 + stride;

  for (let b: u32 = 0; b < blocks; b++) {
    const at = <usize>(b * BLOCK_LEN);
    let flags = modeFlags;
    if (b == 0) flags |= startFlags;
    if (b == blocks - 1) flags |= endFlags;

    // Transpose: message word i of lane j into lane j of m_i, one 4x4 word square at a time.
    let a = v128.load(p0 + at, 0), c = v128.load(p1 + at, 0), d = v128.load(p2 + at, 0), e = v128.load(p3 + at, 0);
    let lo = i32x4.shuffle(a, c, 0, 4, 1, 5), hi = i32x4.shuffle(a, c, 2, 6, 3, 7);
    let lo2 = i32x4.shuffle(d, e, 0, 4, 1, 5), hi2 = i32x4.shuffle(d, e, 2, 6, 3, 7);
    let m0 = i64x2.shuffle(lo, lo2, 0, 2), m1 = i64x2.shuffle(lo, lo2, 1, 3);
    let m2 = i64x2.shuffle(hi, hi2, 0, 2), m3 = i64x2.shuffle(hi, hi2, 1, 3);
    a = v128.load(p0 + at, 16); c = v128.load(p1 + at, 16); d = v128.load(p2 + at, 16); e = v128.load(p3 + at, 16);
    lo = i32x4.shuffle(a, c, 0, 4, 1, 5); hi = i32x4.shuffle(a, c, 2, 6, 3, 7);
    lo2 = i32x4.shuffle(d, e, 0, 4, 1, 5); hi2 = i32x4.shuffle(d, e, 2, 6, 3, 7);
    let m4 = i64x2.shuffle(lo, lo2, 0, 2), m5 = i64x2.shuffle(lo, lo2, 1, 3);
    let m6 = i64x2.shuffle(hi, hi2, 0, 2), m7 = i64x2.shuffle(hi, hi2, 1, 3);
    a = v128.load(p0 + at, 32); c = v128.load(p1 + at, 32); d = v128.load(p2 + at, 32); e = v128.load(p3 + at, 32);
    lo = i32x4.shuffle(a, c, 0, 4, 1, 5); hi = i32x4.shuffle(a, c, 2, 6, 3, 7);
    lo2 = i32x4.shuffle(d, e, 0, 4, 1, 5); hi2 = i32x4.shuffle(d, e, 2, 6, 3, 7);
    let m8 = i64x2.shuffle(lo, lo2, 0, 2), m9 = i64x2.shuffle(lo, lo2, 1, 3);
    let m10 = i64x2.shuffle(hi, hi2, 0, 2), m11 = i64x2.shuffle(hi, hi2, 1, 3);
    a = v128.load(p0 + at, 48); c = v128.load(p1 + at, 48); d = v128.load(p2 + at, 48); e = v128.load(p3 + at, 48);
    lo = i32x4.shuffle(a, c, 0, 4, 1, 5); hi = i32x4.shuffle(a, c, 2, 6, 3, 7);
    lo2 = i32x4.shuffle(d, e, 0, 4, 1, 5); hi2 = i32x4.shuffle(d, e, 2, 6, 3, 7);
    let m12 = i64x2.shuffle(lo, lo2, 0, 2), m13 = i64x2.shuffle(lo, lo2, 1, 3);
    let m14 = i64x2.shuffle(hi, hi2, 0, 2), m15 = i64x2.shuffle(hi, hi2, 1, 3);

    let s0 = h0, s1 = h1, s2 = h2, s3 = h3, s4 = h4, s5 = h5, s6 = h6, s7 = h7;
    let s8 = i32x4.splat(IV0), s9 = i32x4.splat(IV1), s10 = i32x4.splat(IV2), s11 = i32x4.splat(IV3);
    let s12 = counterLo, s13 = counterHi, s14 = blockLen, s15 = i32x4.splat(flags);
    // Round 1: message words 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15.
    s0 = i32x4.add(i32x4.add(s0, s4), m0); s12 = rotr16(v128.xor(s12, s0)); s8 = i32x4.add(s8, s12); s4 = rotr12(v128.xor(s4, s8));
    s1 = i32x4.add(i32x4.add(s1, s5), m2); s13 = rotr16(v128.xor(s13, s1)); s9 = i32x4.add(s9, s13); s5 = rotr12(v128.xor(s5, s9));
    s2 = i32x4.add(i32x4.add(s2, s6), m4); s14 = rotr16(v128.xor(s14, s2)); s10 = i32x4.add(s10, s14); s6 = rotr12(v128.xor(s6, s10));
    s3 = i32x4.add(i32x4.add(s3, s7), m6); s15 = rotr16(v128.xor(s15, s3)); s11 = i32x4.add(s11, s15); s7 = rotr12(v128.xor(s7, s11));
    s0 = i32x4.add(i32x4.add(s0, s4), m1); s12 = rotr8(v128.xor(s12, s0)); s8 = i32x4.add(s8, s12); s4 = rotr7(v128.xor(s4, s8));
    s1 = i32x4.add(i32x4.add(s1, s5), m3); s13 = rotr8(v128.xor(s13, s1)); s9 = i32x4.add(s9, s13); s5 = rotr7(v128.xor(s5, s9));
    s2 = i32x4.add(i32x4.add(s2, s6), m5); s14 = rotr8(v128.xor(s14, s2)); s10 = i32x4.add(s10, s14); s6 = rotr7(v128.xor(s6, s10));
    s3 = i32x4.add(i32x4.add(s3, s7), m7); s15 = rotr8(v128.xor(s15, s3)); s11 = i32x4.add(s11, s15); s7 = rotr7(v128.xor(s7, s11));
    s0 = i32x4.add(i32x4.add(s0, s5), m8); s15 = rotr16(v128.xor(s15, s0)); s10 = i32x4.add(s10, s15); s5 = rotr12(v128.xor(s5, s10));
    s1 = i32x4.add(i32x4.add(s1, s6), m10); s12 = rotr16(v128.xor(s12, s1)); s11 = i32x4.add(s11, s12); s6 = rotr12(v128.xor(s6, s11));
    s2 = i32x4.add(i32x4.add(s2, s7), m12); s13 = rotr16(v128.xor(s13, s2)); s8 = i32x4.add(s8, s13); s7 = rotr12(v128.xor(s7, s8));
    s3 = i32x4.add(i32x4.add(s3, s4), m14); s14 = rotr16(v128.xor(s14, s3)); s9 = i32x4.add(s9, s14); s4 = rotr12(v128.xor(s4, s9));
    s0 = i32x4.add(i32x4.add(s0, s5), m9); s15 = rotr8(v128.xor(s15, s0)); s10 = i32x4.add(s10, s15); s5 = rotr7(v128.xor(s5, s10));
    s1 = i32x4.add(i32x4.add(s1, s6), m11); s12 = rotr8(v128.xor(s12, s1)); s11 = i32x4.add(s11, s12); s6 = rotr7(v128.xor(s6, s11));
    s2 = i32x4.add(i32x4.add(s2, s7), m13); s13 = rotr8(v128.xor(s13, s2)); s8 = i32x4.add(s8, s13); s7 = rotr7(v128.xor(s7, s8));
    s3 = i32x4.add(i32x4.add(s3, s4), m15); s14 = rotr8(v128.xor(s14, s3)); s9 = i32x4.add(s9, s14); s4 = rotr7(v128.xor(s4, s9));
    // Round 2: message words 2 6 3 10 7 0 4 13 1 11 12 5 9 14 15 8.
    s0 = i32x4.add(i32x4.add(s0, s4), m2); s12 = rotr16(v128.xor(s12, s0)); s8 = i32x4.add(s8, s12); s4 = rotr12(v128.xor(s4, s8));
    s1 = i32x4.add(i32x4.add(s1, s5), m3); s13 = rotr16(v128.xor(s13, s1)); s9 = i32x4.add(s9, s13); s5 = rotr12(v128.xor(s5, s9));
    s2 = i32x4.add(i32x4.add(s2, s6), m7); s14 = rotr16(v128.xor(s14, s2)); s10 = i32x4.add(s10, s14); s6 = rotr12(v128.xor(s6, s10));
    s3 = i32x4.add(i32x4.add(s3, s7), m4); s15 = rotr16(v128.xor(s15, s3)); s11 = i32x4.add(s11, s15); s7 = rotr12(v128.xor(s7, s11));
    s0 = i32x4.add(i32x4.add(s0, s4), m6); s12 = rotr8(v128.xor(s12, s0)); s8 = i32x4.add(s8, s12); s4 = rotr7(v128.xor(s4, s8));
    s1 = i32x4.add(i32x4.add(s1, s5), m10); s13 = rotr8(v128.xor(s13, s1)); s9 = i32x4.add(s9, s13); s5 = rotr7(v128.xor(s5, s9));
    s2 = i32x4.add(i32x4.add(s2, s6), m0); s14 = rotr8(v128.xor(s14, s2)); s10 = i32x4.add(s10, s14); s6 = rotr7(v128.xor(s6, s10));
    s3 = i32x4.add(i32x4.add(s3, s7), m13); s15 = rotr8(v128.xor(s15, s3)); s11 = i32x4.add(s11, s15); s7 = rotr7(v128.xor(s7, s11));
    s0 = i32x4.add(i32x4.add(s0, s5), m1); s15 = rotr16(v128.xor(s15, s0)); s10 = i32x4.add(s10, s15); s5 = rotr12(v128.xor(s5, s10));
    s1 = i32x4.add(i32x4.add(s1, s6), m12); s12 = rotr16(v128.xor(s12, s1)); s11 = i32x4.add(s11, s12); s6 = rotr12(v128.xor(s6, s11));
    s2 = i32x4.add(i32x4.add(s2, s7), m9); s13 = rotr16(v128.xor(s13, s2)); s8 = i32x4.add(s8, s13); s7 = rotr12(v128.xor(s7, s8));
    s3 = i32x4.add(i32x4.add(s3, s4), m15); s14 = rotr16(v128.xor(s14, s3)); s9 = i32x4.add(s9, s14); s4 = rotr12(v128.xor(s4, s9));
    s0 = i32x4.add(i32x4.add(s0, s5), m11); s15 = rotr8(v128.xor(s15, s0)); s10 = i32x4.add(s10, s15); s5 = rotr7(v128.xor(s5, s10));
    s1 = i32x4.add(i32x4.add(s1, s6), m5); s12 = rotr8(v128.xor(s12, s1)); s11 = i32x4.add(s11, s12); s6 = rotr7(v128.xor(s6, s11));
    s2 = i32x4.add(i32x4.add(s2, s7), m14); s13 = rotr8(v128.xor(s13, s2)); s8 = i32x4.add(s8, s13); s7 = rotr7(v128.xor(s7, s8));
    s3 = i32x4.add(i32x4.add(s3, s4), m8); s14 = rotr8(v128.xor(s14, s3)); s9 = i32x4.add(s9, s14); s4 = rotr7(v128.xor(s4, s9));
    // Round 3: message words 3 4 10 12 13 2 7 14 6 5 9 0 11 15 8 1.
    s0 = i32x4.add(i32x4.add(s0, s4), m3); s12 = rotr16(v128.xor(s12, s0)); s8 = i32x4.add(s8, s12); s4 = rotr12(v128.xor(s4, s8));
    s1 = i32x4.add(i32x4.add(s1, s5), m10); s13 = rotr16(v128.xor(s13, s1)); s9 = i32x4.add(s9, s13); s5 = rotr12(v128.xor(s5, s9));
    s2 = i32x4.add(i32x4.add(s2, s6), m13); s14 = rotr16(v128.xor(s14, s2)); s10 = i32x4.add(s10, s14); s6 = rotr12(v128.xor(s6, s10));
    s3 = i32x4.add(i32x4.add(s3, s7), m7); s15 = rotr16(v128.xor(s15, s3)); s11 = i32x4.add(s11, s15); s7 = rotr12(v128.xor(s7, s11));
    s0 = i32x4.add(i32x4.add(s0, s4), m4); s12 = rotr8(v128.xor(s12, s0)); s8 = i32x4.add(s8, s12); s4 = rotr7(v128.xor(s4, s8));
    s1 = i32x4.add(i32x4.add(s1, s5), m12); s13 = rotr8(v128.xor(s13, s1)); s9 = i32x4.add(s9, s13); s5 = rotr7(v128.xor(s5, s9));
    s2 = i32x4.add(i32x4.add(s2, s6), m2); s14 = rotr8(v128.xor(s14, s2)); s10 = i32x4.add(s10, s14); s6 = rotr7(v128.xor(s6, s10));
    s3 = i32x4.add(i32x4.add(s3, s7), m14); s15 = rotr8(v128.xor(s15, s3)); s11 = i32x4.add(s11, s15); s7 = rotr7(v128.xor(s7, s11));
    s0 = i32x4.add(i32x4.add(s0, s5), m6); s15 = rotr16(v128.xor(s15, s0)); s10 = i32x4.add(s10, s15); s5 = rotr12(v128.xor(s5, s10));
    s1 = i32x4.add(i32x4.add(s1, s6), m9); s12 = rotr16(v128.xor(s12, s1)); s11 = i32x4.add(s11, s12); s6 = rotr12(v128.xor(s6, s11));
    s2 = i32x4.add(i32x4.add(s2, s7), m11); s13 = rotr16(v128.xor(s13, s2)); s8 = i32x4.add(s8, s13); s7 = rotr12(v128.xor(s7, s8));
    s3 = i32x4.add(i32x4.add(s3, s4), m8); s14 = rotr16(v128.xor(s14, s3)); s9 = i32x4.add(s9, s14); s4 = rotr12(v128.xor(s4, s9));
    s0 = i32x4.add(i32x4.add(s0, s5), m5); s15 = rotr8(v128.xor(s15, s0)); s10 = i32x4.add(s10, s15); s5 = rotr7(v128.xor(s5, s10));
    s1 = i32x4.add(i32x4.add(s1, s6), m0); s12 = rotr8(v128.xor(s12, s1)); s11 = i32x4.add(s11, s12); s6 = rotr7(v128.xor(s6, s11));
    s2 = i32x4.add(i32x4.add(s2, s7), m15); s13 = rotr8(v128.xor(s13, s2)); s8 = i32x4.add(s8, s13); s7 = rotr7(v128.xor(s7, s8));
    s3 = i32x4.add(i32x4.add(s3, s4), m1); s14 = rotr8(v128.xor(s14, s3)); s9 = i32x4.add(s9, s14); s4 = rotr7(v128.xor(s4, s9));
    // Round 4: message words 10 7 12 9 14 3 13 15 4 0 11 2 5 8 1 6.
    s0 = i32x4.add(i32x4.add(s0, s4), m10); s12 = rotr16(v128.xor(s12, s0)); s8 = i32x4.add(s8, s12); s4 = rotr12(v128.xor(s4, s8));
    s1 = i32x4.add(i32x4.add(s1, s5), m12); s13 = rotr16(v128.xor(s13, s1)); s9 = i32x4.add(s9, s13); s5 = rotr12(v128.xor(s5, s9));
    s2 = i32x4.add(i32x4.add(s2, s6), m14); s14 = rotr16(v128.xor(s14, s2)); s10 = i32x4.add(s10, s14); s6 = rotr12(v128.xor(s6, s10));
    s3 = i32x4.add(i32x4.add(s3, s7), m13); s15 = rotr16(v128.xor(s15, s3)); s11 = i32x4.add(s11, s15); s7 = rotr12(v128.xor(s7, s11));
    s0 = i32x4.add(i32x4.add(s0, s4), m7); s12 = rotr8(v128.xor(s12, s0)); s8 = i32x4.add(s8, s12); s4 = rotr7(v128.xor(s4, s8));
    s1 = i32x4.add(i32x4.add(s1, s5), m9); s13 = rotr8(v128.xor(s13, s1)); s9 = i32x4.add(s9, s13); s5 = rotr7(v128.xor(s5, s9));
    s2 = i32x4.add(i32x4.add(s2, s6), m3); s14 = rotr8(v128.xor(s14, s2)); s10 = i32x4.add(s10, s14); s6 = rotr7(v128.xor(s6, s10));
    s3 = i32x4.add(i32x4.add(s3, s7), m15); s15 = rotr8(v128.xor(s15, s3)); s11 = i32x4.add(s11, s15); s7 = rotr7(v128.xor(s7, s11));
    s0 = i32x4.add(i32x4.add(s0, s5), m4); s15 = rotr16(v128.xor(s15, s0)); s10 = i32x4.add(s10, s15); s5 = rotr12(v128.xor(s5, s10));
    s1 = i32x4.add(i32x4.add(s1, s6), m11); s12 = rotr16(v128.xor(s12, s1)); s11 = i32x4.add(s11, s12); s6 = rotr12(v128.xor(s6, s11));
    s2 = i32x4.add(i32x4.add(s2, s7), m5); s13 = rotr16(v128.xor(s13, s2)); s8 = i32x4.add(s8, s13); s7 = rotr12(v128.xor(s7, s8));
    s3 = i32x4.add(i32x4.add(s3, s4), m1); s14 = rotr16(v128.xor(s14, s3)); s9 = i32x4.add(s9, s14); s4 = rotr12(v128.xor(s4, s9));
    s0 = i32x4.add(i32x4.add(s0, s5), m0); s15 = rotr8(v128.xor(s15, s0)); s10 = i32x4.add(s10, s15); s5 = rotr7(v128.xor(s5, s10));
    s1 = i32x4.add(i32x4.add(s1, s6), m2); s12 = rotr8(v128.xor(s12, s1)); s11 = i32x4.add(s11, s12); s6 = rotr7(v128.xor(s6, s11));
    s2 = i32x4.add(i32x4.add(s2, s7), m8); s13 = rotr8(v128.xor(s13, s2)); s8 = i32x4.add(s8, s13); s7 = rotr7(v128.xor(s7, s8));
    s3 = i32x4.add(i32x4.add(s3, s4), m6); s14 = rotr8(v128.xor(s14, s3)); s9 = i32x4.add(s9, s14); s4 = rotr7(v128.xor(s4, s9));
    // Round 5: message words 12 13 9 11 15 10 14 8 7 2 5 3 0 1 6 4.
    s0 = i32x4.add(i32x4.add(s0, s4), m12); s12 = rotr16(v128.xor(s12, s0)); s8 = i32x4.add(s8, s12); s4 = rotr12(v128.xor(s4, s8));
    s1 = i32x4.add(i32x4.add(s1, s5), m9); s13 = rotr16(v128.xor(s13, s1)); s9 = i32x4.add(s9, s13); s5 = rotr12(v128.xor(s5, s9));
    s2 = i32x4.add(i32x4.add(s2, s6), m15); s14 = rotr16(v128.xor(s14, s2)); s10 = i32x4.add(s10, s14); s6 = rotr12(v128.xor(s6, s10));
    s3 = i32x4.add(i32x4.add(s3, s7), m14); s15 = rotr16(v128.xor(s15, s3)); s11 = i32x4.add(s11, s15); s7 = rotr12(v128.xor(s7, s11));
    s0 = i32x4.add(i32x4.add(s0, s4), m13); s12 = rotr8(v128.xor(s12, s0)); s8 = i32x4.add(s8, s12); s4 = rotr7(v128.xor(s4, s8));
    s1 = i32x4.add(i32x4.add(s1, s5), m11); s13 = rotr8(v128.xor(s13, s1)); s9 = i32x4.add(s9, s13); s5 = rotr7(v128.xor(s5, s9));
    s2 = i32x4.add(i32x4.add(s2, s6), m10); s14 = rotr8(v128.xor(s14, s2)); s10 = i32x4.add(s10, s14); s6 = rotr7(v128.xor(s6, s10));
    s3 = i32x4.add(i32x4.add(s3, s7), m8); s15 = rotr8(v128.xor(s15, s3)); s11 = i32x4.add(s11, s15); s7 = rotr7(v128.xor(s7, s11));
    s0 = i32x4.add(i32x4.add(s0, s5), m7); s15 = rotr16(v128.xor(s15, s0)); s10 = i32x4.add(s10, s15); s5 = rotr12(v128.xor(s5, s10));
    s1 = i32x4.add(i32x4.add(s1, s6), m5); s12 = rotr16(v128.xor(s12, s1)); s11 = i32x4.add(s11, s12); s6 = rotr12(v128.xor(s6, s11));
    s2 = i32x4.add(i32x4.add(s2, s7), m0); s13 = rotr16(v128.xor(s13, s2)); s8 = i32x4.add(s8, s13); s7 = rotr12(v128.xor(s7, s8));
    s3 = i32x4.add(i32x4.add(s3, s4), m6); s14 = rotr16(v128.xor(s14, s3)); s9 = i32x4.add(s9, s14); s4 = rotr12(v128.xor(s4, s9));
    s0 = i32x4.add(i32x4.add(s0, s5), m2); s15 = rotr8(v128.xor(s15, s0)); s10 = i32x4.add(s10, s15); s5 = rotr7(v128.xor(s5, s10));
    s1 = i32x4.add(i32x4.add(s1, s6), m3); s12 = rotr8(v128.xor(s12, s1)); s11 = i32x4.add(s11, s12); s6 = rotr7(v128.xor(s6, s11));
    s2 = i32x4.add(i32x4.add(s2, s7), m1); s13 = rotr8(v128.xor(s13, s2)); s8 = i32x4.add(s8, s13); s7 = rotr7(v128.xor(s7, s8));
    s3 = i32x4.add(i32x4.add(s3, s4), m4); s14 = rotr8(v128.xor(s14, s3)); s9 = i32x4.add(s9, s14); s4 = rotr7(v128.xor(s4, s9));
    // Round 6: message words 9 14 11 5 8 12 15 1 13 3 0 10 2 6 4 7.
    s0 = i32x4.add(i32x4.add(s0, s4), m9); s12 = rotr16(v128.xor(s12, s0)); s8 = i32x4.add(s8, s12); s4 = rotr12(v128.xor(s4, s8));
    s1 = i32x4.add(i32x4.add(s1, s5), m11); s13 = rotr16(v128.xor(s13, s1)); s9 = i32x4.add(s9, s13); s5 = rotr12(v128.xor(s5, s9));
    s2 = i32x4.add(i32x4.add(s2, s6), m8); s14 = rotr16(v128.xor(s14, s2)); s10 = i32x4.add(s10, s14); s6 = rotr12(v128.xor(s6, s10));
    s3 = i32x4.add(i32x4.add(s3, s7), m15); s15 = rotr16(v128.xor(s15, s3)); s11 = i32x4.add(s11, s15); s7 = rotr12(v128.xor(s7, s11));
    s0 = i32x4.add(i32x4.add(s0, s4), m14); s12 = rotr8(v128.xor(s12, s0)); s8 = i32x4.add(s8, s12); s4 = rotr7(v128.xor(s4, s8));
    s1 = i32x4.add(i32x4.add(s1, s5), m5); s13 = rotr8(v128.xor(s13, s1)); s9 = i32x4.add(s9, s13); s5 = rotr7(v128.xor(s5, s9));
    s2 = i32x4.add(i32x4.add(s2, s6), m12); s14 = rotr8(v128.xor(s14, s2)); s10 = i32x4.add(s10, s14); s6 = rotr7(v128.xor(s6, s10));
    s3 = i32x4.add(i32x4.add(s3, s7), m1); s15 = rotr8(v128.xor(s15, s3)); s11 = i32x4.add(s11, s15); s7 = rotr7(v128.xor(s7, s11));
    s0 = i32x4.add(i32x4.add(s0, s5), m13); s15 = rotr16(v128.xor(s15, s0)); s10 = i32x4.add(s10, s15); s5 = rotr12(v128.xor(s5, s10));
    s1 = i32x4.add(i32x4.add(s1, s6), m0); s12 = rotr16(v128.xor(s12, s1)); s11 = i32x4.add(s11, s12); s6 = rotr12(v128.xor(s6, s11));
    s2 = i32x4.add(i32x4.add(s2, s7), m2); s13 = rotr16(v128.xor(s13, s2)); s8 = i32x4.add(s8, s13); s7 = rotr12(v128.xor(s7, s8));
    s3 = i32x4.add(i32x4.add(s3, s4), m4); s14 = rotr16(v128.xor(s14, s3)); s9 = i32x4.add(s9, s14); s4 = rotr12(v128.xor(s4, s9));
    s0 = i32x4.add(i32x4.add(s0, s5), m3); s15 = rotr8(v128.xor(s15, s0)); s10 = i32x4.add(s10, s15); s5 = rotr7(v128.xor(s5, s10));
    s1 = i32x4.add(i32x4.add(s1, s6), m10); s12 = rotr8(v128.xor(s12, s1)); s11 = i32x4.add(s11, s12); s6 = rotr7(v128.xor(s6, s11));
    s2 = i32x4.add(i32x4.add(s2, s7), m6); s13 = rotr8(v128.xor(s13, s2)); s8 = i32x4.add(s8, s13); s7 = rotr7(v128.xor(s7, s8));
    s3 = i32x4.add(i32x4.add(s3, s4), m7); s14 = rotr8(v128.xor(s14, s3)); s9 = i32x4.add(s9, s14); s4 = rotr7(v128.xor(s4, s9));
    // Round 7: message words 11 15 5 0 1 9 8 6 14 10 2 12 3 4 7 13.
    s0 = i32x4.add(i32x4.add(s0, s4), m11); s12 = rotr16(v128.xor(s12, s0)); s8 = i32x4.add(s8, s12); s4 = rotr12(v128.xor(s4, s8));
    s1 = i32x4.add(i32x4.add(s1, s5), m5); s13 = rotr16(v128.xor(s13, s1)); s9 = i32x4.add(s9, s13); s5 = rotr12(v128.xor(s5, s9));
    s2 = i32x4.add(i32x4.add(s2, s6), m1); s14 = rotr16(v128.xor(s14, s2)); s10 = i32x4.add(s10, s14); s6 = rotr12(v128.xor(s6, s10));
    s3 = i32x4.add(i32x4.add(s3, s7), m8); s15 = rotr16(v128.xor(s15, s3)); s11 = i32x4.add(s11, s15); s7 = rotr12(v128.xor(s7, s11));
    s0 = i32x4.add(i32x4.add(s0, s4), m15); s12 = rotr8(v128.xor(s12, s0)); s8 = i32x4.add(s8, s12); s4 = rotr7(v128.xor(s4, s8));
    s1 = i32x4.add(i32x4.add(s1, s5), m0); s13 = rotr8(v128.xor(s13, s1)); s9 = i32x4.add(s9, s13); s5 = rotr7(v128.xor(s5, s9));
    s2 = i32x4.add(i32x4.add(s2, s6), m9); s14 = rotr8(v128.xor(s14, s2)); s10 = i32x4.add(s10, s14); s6 = rotr7(v128.xor(s6, s10));
    s3 = i32x4.add(i32x4.add(s3, s7), m6); s15 = rotr8(v128.xor(s15, s3)); s11 = i32x4.add(s11, s15); s7 = rotr7(v128.xor(s7, s11));
    s0 = i32x4.add(i32x4.add(s0, s5), m14); s15 = rotr16(v128.xor(s15, s0)); s10 = i32x4.add(s10, s15); s5 = rotr12(v128.xor(s5, s10));
    s1 = i32x4.add(i32x4.add(s1, s6), m2); s12 = rotr16(v128.xor(s12, s1)); s11 = i32x4.add(s11, s12); s6 = rotr12(v128.xor(s6, s11));
    s2 = i32x4.add(i32x4.add(s2, s7), m3); s13 = rotr16(v128.xor(s13, s2)); s8 = i32x4.add(s8, s13); s7 = rotr12(v128.xor(s7, s8));
    s3 = i32x4.add(i32x4.add(s3, s4), m7); s14 = rotr16(v128.xor(s14, s3)); s9 = i32x4.add(s9, s14); s4 = rotr12(v128.xor(s4, s9));
    s0 = i32x4.add(i32x4.add(s0, s5), m10); s15 = rotr8(v128.xor(s15, s0)); s10 = i32x4.add(s10, s15); s5 = rotr7(v128.xor(s5, s10));
    s1 = i32x4.add(i32x4.add(s1, s6), m12); s12 = rotr8(v128.xor(s12, s1)); s11 = i32x4.add(s11, s12); s6 = rotr7(v128.xor(s6, s11));
    s2 = i32x4.add(i32x4.add(s2, s7), m4); s13 = rotr8(v128.xor(s13, s2)); s8 = i32x4.add(s8, s13); s7 = rotr7(v128.xor(s7, s8));
    s3 = i32x4.add(i32x4.add(s3, s4), m13); s14 = rotr8(v128.xor(s14, s3)); s9 = i32x4.add(s9, s14); s4 = rotr7(v128.xor(s4, s9));
    h0 = v128.xor(s0, s8); h1 = v128.xor(s1, s9); h2 = v128.xor(s2, s10); h3 = v128.xor(s3, s11);
    h4 = v128.xor(s4, s12); h5 = v128.xor(s5, s13); h6 = v128.xor(s6, s14); h7 = v128.xor(s7, s15);
  }

  // Transpose back: lane j of h0..h7 is CV j.
  let lo = i32x4.shuffle(h0, h1, 0, 4, 1, 5), hi = i32x4.shuffle(h0, h1, 2, 6, 3, 7);
  let lo2 = i32x4.shuffle(h2, h3, 0, 4, 1, 5), hi2 = i32x4.shuffle(h2, h3, 2, 6, 3, 7);
  v128.store(out, i64x2.shuffle(lo, lo2, 0, 2), 0);
  v128.store(out, i64x2.shuffle(lo, lo2, 1, 3), 32);
  v128.store(out, i64x2.shuffle(hi, hi2, 0, 2), 64);
  v128.store(out, i64x2.shuffle(hi, hi2, 1, 3), 96);
  lo = i32x4.shuffle(h4, h5, 0, 4, 1, 5); hi = i32x4.shuffle(h4, h5, 2, 6, 3, 7);
  lo2 = i32x4.shuffle(h6, h7, 0, 4, 1, 5); hi2 = i32x4.shuffle(h6, h7, 2, 6, 3, 7);
  v128.store(out, i64x2.shuffle(lo, lo2, 0, 2), 16);
  v128.store(out, i64x2.shuffle(lo, lo2, 1, 3), 48);
  v128.store(out, i64x2.shuffle(hi, hi2, 0, 2), 80);
  v128.store(out, i64x2.shuffle(hi, hi2, 1, 3), 112);
}

// ---------------------------------------------------------------------------------------------
// Chunks, parents and subtrees.

/**
 * Compresses all but the last block of the `len`-byte chunk at `input` (len 0..1024) and leaves
 * the last block pending, since only the caller knows whether it is the root.
 */
function chunkPending(input: usize, len: u32, counter: u64): void {
  memory.copy(pendingCv, keyWords, CV_LEN);
  let flags = modeFlags | CHUNK_START;
  while (len > BLOCK_LEN) {
    compress(pendingCv, input, counter, BLOCK_LEN, flags, pendingCv);
    flags = modeFlags;
    input += BLOCK_LEN;
    len -= BLOCK_LEN;
  }
  memory.fill(pendingBlock, 0, BLOCK_LEN);
  memory.copy(pendingBlock, input, len);
  pendingCounter = counter;
  pendingBlockLen = len;
  pendingFlags = flags | CHUNK_END;
}

/** Leaves pending the parent of the CVs at `left` and `right`. */
function parentPending(left: usize, right: usize): void {
  memory.copy(pendingCv, keyWords, CV_LEN);
  memory.copy(pendingBlock, left, CV_LEN);
  memory.copy(pendingBlock + CV_LEN, right, CV_LEN);
  pendingCounter = 0;
  pendingBlockLen = BLOCK_LEN;
  pendingFlags = modeFlags | PARENT;
}

/** Runs the pending compression, adding `extraFlags` (ROOT for the root), into `out`. */
@inline function finishPending(extraFlags: u32, out: usize): void {
  compress(pendingCv, pendingBlock, pendingCounter, pendingBlockLen, pendingFlags | extraFlags, out);
}

/** The CV of the full (non-root) chunk at `input`. */
function chunkCv(input: usize, counter: u64, out: usize): void {
  chunkPending(input, CHUNK_LEN, counter);
  finishPending(0, out);
}

/** Replaces the two CVs at `pair` (64 bytes) by their parent's CV at `out`. */
@inline function parentCv(pair: usize, out: usize): void {
  compress(keyWords, pair, 0, BLOCK_LEN, modeFlags | PARENT, out);
}

/**
 * Hashes the `chunks` full chunks at `input` (a power of two, at least 2, starting at chunk
 * `counter`, a multiple of `chunks`) down to the CVs of its two halves at subtreeCvs.
 */
function hashSubtree(input: usize, chunks: u32, counter: u64): void {
  const cvs = subtreeCvs;
  let i: u32 = 0;
  if (ASC_FEATURE_SIMD) {
    for (; i + 4 <= chunks; i += 4) {
      hash4(input + <usize>(i * CHUNK_LEN), CHUNK_LEN, CHUNK_LEN / BLOCK_LEN, counter + i, 1, CHUNK_START, CHUNK_END, cvs + <usize>(i * CV_LEN));
    }
  }
  for (; i < chunks; i++) chunkCv(input + <usize>(i * CHUNK_LEN), counter + i, cvs + <usize>(i * CV_LEN));

  // Each level pairs neighbours in place: parent j reads CVs 2j, 2j+1 and writes CV j.
  for (let level = chunks; level > 2; level >>= 1) {
    const parents = level >> 1;
    let j: u32 = 0;
    if (ASC_FEATURE_SIMD) {
      for (; j + 4 <= parents; j += 4) {
        hash4(cvs + <usize>(j * BLOCK_LEN), BLOCK_LEN, 1, 0, 0, PARENT, 0, cvs + <usize>(j * CV_LEN));
      }
    }
    for (; j < parents; j++) parentCv(cvs + <usize>(j * BLOCK_LEN), cvs + <usize>(j * CV_LEN));
  }
}

// ---------------------------------------------------------------------------------------------
// Streams.

@inline function stateOf(stream: u32): usize {
  return streams + <usize>(stream * STATE_SIZE);
}

/** Merges the top of the stack until it holds one CV per 1 bit of `chunks` (chunks before it). */
function mergeStack(state: usize, chunks: u64): void {
  const target = <u32>popcnt(chunks);
  let len = load<u32>(state, ST_STACK_LEN);
  while (len > target) {
    const pair = state + ST_STACK + <usize>((len - 2) * CV_LEN);
    parentCv(pair, pair);
    len--;
  }
  store<u32>(state, len, ST_STACK_LEN);
}

/**
 * Pushes the CV of a subtree starting at chunk `counter`. Merging happens before the push, not
 * after, so the newest CVs stay unmerged until more input shows they are not the root's children.
 */
function pushCv(state: usize, cv: usize, counter: u64): void {
  mergeStack(state, counter);
  const len = load<u32>(state, ST_STACK_LEN);
  memory.copy(state + ST_STACK + <usize>(len * CV_LEN), cv, CV_LEN);
  store<u32>(state, len + 1, ST_STACK_LEN);
}

/** Starts stream `stream` (0: init/update/final, 1: one-shot) over. */
export function reset(stream: u32): void {
  if (stream > 1) return;
  const state = stateOf(stream);
  store<u64>(state, 0, ST_COUNTER);
  store<u32>(state, 0, ST_BUFFERED);
  store<u32>(state, 0, ST_STACK_LEN);
}

/** Feeds `len` bytes at `input` to the stream at `state`. */
function absorb(state: usize, input: usize, len: u32): void {
  let counter = load<u64>(state, ST_COUNTER);
  let buffered = load<u32>(state, ST_BUFFERED);
  const buffer = state + ST_BUFFER;

  // Complete the buffered chunk; hash it only once more input shows it is not the last.
  if (buffered > 0) {
    const take = min(CHUNK_LEN - buffered, len);
    memory.copy(buffer + buffered, input, take);
    buffered += take;
    input += take;
    len -= take;
    if (len > 0) {
      chunkCv(buffer, counter, scratchCv);
      pushCv(state, scratchCv, counter);
      counter++;
      buffered = 0;
    }
  }

  // Whole subtrees straight from the input: as many chunks as a power of two that both fits
  // and keeps the subtree aligned to its size in the tree. A subtree is pushed as its two
  // halves: if the input ends with it, they are the root's children.
  while (len > CHUNK_LEN) {
    let chunks: u32 = 1 << (31 - clz(len / CHUNK_LEN));
    while ((counter & <u64>(chunks - 1)) != 0) chunks >>= 1;
    if (chunks == 1) {
      chunkCv(input, counter, scratchCv);
      pushCv(state, scratchCv, counter);
    } else {
      hashSubtree(input, chunks, counter);
      pushCv(state, subtreeCvs, counter);
      pushCv(state, subtreeCvs + CV_LEN, counter + (chunks >> 1));
    }
    counter += chunks;
    input += <usize>(chunks * CHUNK_LEN);
    len -= chunks * CHUNK_LEN;
  }

  if (len > 0) {
    memory.copy(buffer, input, len);
    buffered = len;
  }
  // With input buffered, the stack cannot hold the root's children: merge it now.
  if (buffered > 0) mergeStack(state, counter);
  store<u64>(state, counter, ST_COUNTER);
  store<u32>(state, buffered, ST_BUFFERED);
}

/** Writes the 32-byte digest of the stream at `state` to `out`, leaving the stream as it is. */
function digestInto(state: usize, out: usize): void {
  const counter = load<u64>(state, ST_COUNTER);
  const buffered = load<u32>(state, ST_BUFFERED);
  let len = load<u32>(state, ST_STACK_LEN);
  const stack = state + ST_STACK;
  if (buffered > 0 || len == 0) {
    chunkPending(state + ST_BUFFER, buffered, counter);
  } else {
    // The input ended on a subtree boundary: the top two CVs are the root's children.
    len -= 2;
    parentPending(stack + <usize>(len * CV_LEN), stack + <usize>((len + 1) * CV_LEN));
  }
  while (len > 0) {
    len--;
    finishPending(0, scratchCv);
    parentPending(stack + <usize>(len * CV_LEN), scratchCv);
  }
  finishPending(ROOT, out);
}

/** Feeds `len` bytes from the input window to stream `stream`. Returns 0, or -1 for bad arguments. */
export function update(stream: u32, len: u32): i32 {
  if (stream > 1 || len > WINDOW) return -1;
  absorb(stateOf(stream), inputWindow, len);
  return 0;
}

/** Writes the digest of stream `stream` to outputPtr(). Returns 0, or -1 for a bad stream. */
export function final(stream: u32): i32 {
  if (stream > 1) return -1;
  digestInto(stateOf(stream), outputWindow);
  return 0;
}

/**
 * Digests `count` consecutive inputs at the start of the input window, their sizes the u32s at
 * sizesPtr(), into count × 32 bytes at outputPtr(). Returns 0, or -1 if the sizes overrun the
 * window or count exceeds maxBatch(). Uses stream 1.
 */
export function hashMany(count: u32): i32 {
  if (count > MAX_BATCH) return -1;
  let total: u64 = 0;
  for (let i: u32 = 0; i < count; i++) total += load<u32>(sizesWindow + <usize>(i * 4));
  if (total > <u64>WINDOW) return -1;
  const state = stateOf(1);
  let input = inputWindow;
  for (let i: u32 = 0; i < count; i++) {
    const size = load<u32>(sizesWindow + <usize>(i * 4));
    reset(1);
    absorb(state, input, size);
    digestInto(state, outputWindow + <usize>(i * CV_LEN));
    input += size;
  }
  return 0;
}

// Plain hashing until configured otherwise.
configure(0);
