// SHA-256 (FIPS 180-4): streaming, one-shot and batch digests over a static input window. One
// stream runs scalar rounds with a v128 message schedule; batches run four pieces per v128 lane set.
import { reserve } from "./lib/window";

const WINDOW: u32 = 4 << 20; // four 1 MiB chunks (the Nydus default) fit one batch
const MAX_BATCH: u32 = 4096;

const input = reserve(WINDOW);
const output = reserve(32 * MAX_BATCH);
const sizes = reserve(4 * MAX_BATCH);
const pending = reserve(64); // a partial block carried between updates
const saved = reserve(64 + 48); // the stream's state while a batch runs
const schedule = reserve(64 * 4); // W[i] + K[i] for the block being compressed
const schedule4 = reserve(64 * 16); // W[i] of four messages, one per lane
const lanes = reserve(8 * 16); // state word j of four messages in vector j
const K = memory.data<u32>([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
], 16);

let h0: u32, h1: u32, h2: u32, h3: u32, h4: u32, h5: u32, h6: u32, h7: u32;
let pendingLen: u32 = 0;
let total: u64 = 0;

export function inputPtr(): usize { return input; }
export function outputPtr(): usize { return output; }
export function sizesPtr(): usize { return sizes; }
export function windowSize(): u32 { return WINDOW; }
export function maxBatch(): u32 { return MAX_BATCH; }

export function reset(): void {
  h0 = 0x6a09e667; h1 = 0xbb67ae85; h2 = 0x3c6ef372; h3 = 0xa54ff53a;
  h4 = 0x510e527f; h5 = 0x9b05688c; h6 = 0x1f83d9ab; h7 = 0x5be0cd19;
  pendingLen = 0;
  total = 0;
}

// @ts-ignore: decorator
@inline function S0(x: u32): u32 { return rotr(x, 2) ^ rotr(x, 13) ^ rotr(x, 22); }
// @ts-ignore: decorator
@inline function S1(x: u32): u32 { return rotr(x, 6) ^ rotr(x, 11) ^ rotr(x, 25); }

// @ts-ignore: decorator
@inline function rotrLanes(x: v128, n: i32): v128 { return v128.or(i32x4.shr_u(x, n), i32x4.shl(x, 32 - n)); }
// @ts-ignore: decorator
@inline function s0Lanes(x: v128): v128 { return v128.xor(v128.xor(rotrLanes(x, 7), rotrLanes(x, 18)), i32x4.shr_u(x, 3)); }
// @ts-ignore: decorator
@inline function s1Lanes(x: v128): v128 { return v128.xor(v128.xor(rotrLanes(x, 17), rotrLanes(x, 19)), i32x4.shr_u(x, 10)); }
// @ts-ignore: decorator
@inline function bigEndianWords(x: v128): v128 { return i8x16.shuffle(x, x, 3, 2, 1, 0, 7, 6, 5, 4, 11, 10, 9, 8, 15, 14, 13, 12); }

/** W[i..i+3] from the previous sixteen words W[i-16..i-1] held in x0..x3. */
// @ts-ignore: decorator
@inline function nextWords(x0: v128, x1: v128, x2: v128, x3: v128): v128 {
  const w15 = i8x16.shuffle(x0, x1, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19); // W[i-15..i-12]
  const w7 = i8x16.shuffle(x2, x3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19); // W[i-7..i-4]
  let w = i32x4.add(i32x4.add(x0, s0Lanes(w15)), w7);
  // s1 needs W[i-2..i+1]: the first two lanes come from x3, the last two from lanes just computed.
  const zero = i32x4.splat(0);
  w = i32x4.add(w, s1Lanes(i8x16.shuffle(x3, zero, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23)));
  return i32x4.add(w, s1Lanes(i8x16.shuffle(zero, w, 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23)));
}

/**
 * Compresses `blocks` 64-byte blocks at `p` into the state. Fully unrolled: the working variables
 * rotate by renaming instead of moving, and Maj(a, b, c) = b ^ ((a ^ b) & (b ^ c)) reuses the
 * previous round's a ^ b as this round's b ^ c. The message schedule is computed four words at a
 * time in v128 lanes, round constants added, into a small static buffer the rounds read (which
 * leaves the rounds few enough live values to stay in registers), interleaved with the rounds so
 * the vector and scalar units work at the same time.
 */
function compress(p: usize, blocks: usize): void {
  let a = h0, b = h1, c = h2, d = h3, e = h4, f = h5, g = h6, h = h7;
  let t: u32, ab: u32, bc: u32;
  for (const end = p + (blocks << 6); p < end; p += 64) {
    // The message schedule, four words at a time plus the round constants, computed in v128
    // lanes while the scalar rounds run: group g is ready four rounds before round 4g needs it.
    let x0 = bigEndianWords(v128.load(p, 0)); v128.store(schedule, i32x4.add(x0, v128.load(K, 0)), 0);
    let x1 = bigEndianWords(v128.load(p, 16)); v128.store(schedule, i32x4.add(x1, v128.load(K, 16)), 16);
    let x2 = bigEndianWords(v128.load(p, 32)); v128.store(schedule, i32x4.add(x2, v128.load(K, 32)), 32);
    let x3 = bigEndianWords(v128.load(p, 48)); v128.store(schedule, i32x4.add(x3, v128.load(K, 48)), 48);
    bc = b ^ c;
    t = h + S1(e) + (g ^ (e & (f ^ g))) + load<u32>(schedule, 0); d += t; ab = a ^ b; h = t + S0(a) + (b ^ (ab & bc)); bc = ab;
    t = g + S1(d) + (f ^ (d & (e ^ f))) + load<u32>(schedule, 4); c += t; ab = h ^ a; g = t + S0(h) + (a ^ (ab & bc)); bc = ab;
    t = f + S1(c) + (e ^ (c & (d ^ e))) + load<u32>(schedule, 8); b += t; ab = g ^ h; f = t + S0(g) + (h ^ (ab & bc)); bc = ab;
    t = e + S1(b) + (d ^ (b & (c ^ d))) + load<u32>(schedule, 12); a += t; ab = f ^ g; e = t + S0(f) + (g ^ (ab & bc)); bc = ab;
    x0 = nextWords(x0, x1, x2, x3); v128.store(schedule, i32x4.add(x0, v128.load(K, 64)), 64);
    t = d + S1(a) + (c ^ (a & (b ^ c))) + load<u32>(schedule, 16); h += t; ab = e ^ f; d = t + S0(e) + (f ^ (ab & bc)); bc = ab;
    t = c + S1(h) + (b ^ (h & (a ^ b))) + load<u32>(schedule, 20); g += t; ab = d ^ e; c = t + S0(d) + (e ^ (ab & bc)); bc = ab;
    t = b + S1(g) + (a ^ (g & (h ^ a))) + load<u32>(schedule, 24); f += t; ab = c ^ d; b = t + S0(c) + (d ^ (ab & bc)); bc = ab;
    t = a + S1(f) + (h ^ (f & (g ^ h))) + load<u32>(schedule, 28); e += t; ab = b ^ c; a = t + S0(b) + (c ^ (ab & bc)); bc = ab;
    x1 = nextWords(x1, x2, x3, x0); v128.store(schedule, i32x4.add(x1, v128.load(K, 80)), 80);
    t = h + S1(e) + (g ^ (e & (f ^ g))) + load<u32>(schedule, 32); d += t; ab = a ^ b; h = t + S0(a) + (b ^ (ab & bc)); bc = ab;
    t = g + S1(d) + (f ^ (d & (e ^ f))) + load<u32>(schedule, 36); c += t; ab = h ^ a; g = t + S0(h) + (a ^ (ab & bc)); bc = ab;
    t = f + S1(c) + (e ^ (c & (d ^ e))) + load<u32>(schedule, 40); b += t; ab = g ^ h; f = t + S0(g) + (h ^ (ab & bc)); bc = ab;
    t = e + S1(b) + (d ^ (b & (c ^ d))) + load<u32>(schedule, 44); a += t; ab = f ^ g; e = t + S0(f) + (g ^ (ab & bc)); bc = ab;
    x2 = nextWords(x2, x3, x0, x1); v128.store(schedule, i32x4.add(x2, v128.load(K, 96)), 96);
    t = d + S1(a) + (c ^ (a & (b ^ c))) + load<u32>(schedule, 48); h += t; ab = e ^ f; d = t + S0(e) + (f ^ (ab & bc)); bc = ab;
    t = c + S1(h) + (b ^ (h & (a ^ b))) + load<u32>(schedule, 52); g += t; ab = d ^ e; c = t + S0(d) + (e ^ (ab & bc)); bc = ab;
    t = b + S1(g) + (a ^ (g & (h ^ a))) + load<u32>(schedule, 56); f += t; ab = c ^ d; b = t + S0(c) + (d ^ (ab & bc)); bc = ab;
    t = a + S1(f) + (h ^ (f & (g ^ h))) + load<u32>(schedule, 60); e += t; ab = b ^ c; a = t + S0(b) + (c ^ (ab & bc)); bc = ab;
    x3 = nextWords(x3, x0, x1, x2); v128.store(schedule, i32x4.add(x3, v128.load(K, 112)), 112);
    t = h + S1(e) + (g ^ (e & (f ^ g))) + load<u32>(schedule, 64); d += t; ab = a ^ b; h = t + S0(a) + (b ^ (ab & bc)); bc = ab;
    t = g + S1(d) + (f ^ (d & (e ^ f))) + load<u32>(schedule, 68); c += t; ab = h ^ a; g = t + S0(h) + (a ^ (ab & bc)); bc = ab;
    t = f + S1(c) + (e ^ (c & (d ^ e))) + load<u32>(schedule, 72); b += t; ab = g ^ h; f = t + S0(g) + (h ^ (ab & bc)); bc = ab;
    t = e + S1(b) + (d ^ (b & (c ^ d))) + load<u32>(schedule, 76); a += t; ab = f ^ g; e = t + S0(f) + (g ^ (ab & bc)); bc = ab;
    x0 = nextWords(x0, x1, x2, x3); v128.store(schedule, i32x4.add(x0, v128.load(K, 128)), 128);
    t = d + S1(a) + (c ^ (a & (b ^ c))) + load<u32>(schedule, 80); h += t; ab = e ^ f; d = t + S0(e) + (f ^ (ab & bc)); bc = ab;
    t = c + S1(h) + (b ^ (h & (a ^ b))) + load<u32>(schedule, 84); g += t; ab = d ^ e; c = t + S0(d) + (e ^ (ab & bc)); bc = ab;
    t = b + S1(g) + (a ^ (g & (h ^ a))) + load<u32>(schedule, 88); f += t; ab = c ^ d; b = t + S0(c) + (d ^ (ab & bc)); bc = ab;
    t = a + S1(f) + (h ^ (f & (g ^ h))) + load<u32>(schedule, 92); e += t; ab = b ^ c; a = t + S0(b) + (c ^ (ab & bc)); bc = ab;
    x1 = nextWords(x1, x2, x3, x0); v128.store(schedule, i32x4.add(x1, v128.load(K, 144)), 144);
    t = h + S1(e) + (g ^ (e & (f ^ g))) + load<u32>(schedule, 96); d += t; ab = a ^ b; h = t + S0(a) + (b ^ (ab & bc)); bc = ab;
    t = g + S1(d) + (f ^ (d & (e ^ f))) + load<u32>(schedule, 100); c += t; ab = h ^ a; g = t + S0(h) + (a ^ (ab & bc)); bc = ab;
    t = f + S1(c) + (e ^ (c & (d ^ e))) + load<u32>(schedule, 104); b += t; ab = g ^ h; f = t + S0(g) + (h ^ (ab & bc)); bc = ab;
    t = e + S1(b) + (d ^ (b & (c ^ d))) + load<u32>(schedule, 108); a += t; ab = f ^ g; e = t + S0(f) + (g ^ (ab & bc)); bc = ab;
    x2 = nextWords(x2, x3, x0, x1); v128.store(schedule, i32x4.add(x2, v128.load(K, 160)), 160);
    t = d + S1(a) + (c ^ (a & (b ^ c))) + load<u32>(schedule, 112); h += t; ab = e ^ f; d = t + S0(e) + (f ^ (ab & bc)); bc = ab;
    t = c + S1(h) + (b ^ (h & (a ^ b))) + load<u32>(schedule, 116); g += t; ab = d ^ e; c = t + S0(d) + (e ^ (ab & bc)); bc = ab;
    t = b + S1(g) + (a ^ (g & (h ^ a))) + load<u32>(schedule, 120); f += t; ab = c ^ d; b = t + S0(c) + (d ^ (ab & bc)); bc = ab;
    t = a + S1(f) + (h ^ (f & (g ^ h))) + load<u32>(schedule, 124); e += t; ab = b ^ c; a = t + S0(b) + (c ^ (ab & bc)); bc = ab;
    x3 = nextWords(x3, x0, x1, x2); v128.store(schedule, i32x4.add(x3, v128.load(K, 176)), 176);
    t = h + S1(e) + (g ^ (e & (f ^ g))) + load<u32>(schedule, 128); d += t; ab = a ^ b; h = t + S0(a) + (b ^ (ab & bc)); bc = ab;
    t = g + S1(d) + (f ^ (d & (e ^ f))) + load<u32>(schedule, 132); c += t; ab = h ^ a; g = t + S0(h) + (a ^ (ab & bc)); bc = ab;
    t = f + S1(c) + (e ^ (c & (d ^ e))) + load<u32>(schedule, 136); b += t; ab = g ^ h; f = t + S0(g) + (h ^ (ab & bc)); bc = ab;
    t = e + S1(b) + (d ^ (b & (c ^ d))) + load<u32>(schedule, 140); a += t; ab = f ^ g; e = t + S0(f) + (g ^ (ab & bc)); bc = ab;
    x0 = nextWords(x0, x1, x2, x3); v128.store(schedule, i32x4.add(x0, v128.load(K, 192)), 192);
    t = d + S1(a) + (c ^ (a & (b ^ c))) + load<u32>(schedule, 144); h += t; ab = e ^ f; d = t + S0(e) + (f ^ (ab & bc)); bc = ab;
    t = c + S1(h) + (b ^ (h & (a ^ b))) + load<u32>(schedule, 148); g += t; ab = d ^ e; c = t + S0(d) + (e ^ (ab & bc)); bc = ab;
    t = b + S1(g) + (a ^ (g & (h ^ a))) + load<u32>(schedule, 152); f += t; ab = c ^ d; b = t + S0(c) + (d ^ (ab & bc)); bc = ab;
    t = a + S1(f) + (h ^ (f & (g ^ h))) + load<u32>(schedule, 156); e += t; ab = b ^ c; a = t + S0(b) + (c ^ (ab & bc)); bc = ab;
    x1 = nextWords(x1, x2, x3, x0); v128.store(schedule, i32x4.add(x1, v128.load(K, 208)), 208);
    t = h + S1(e) + (g ^ (e & (f ^ g))) + load<u32>(schedule, 160); d += t; ab = a ^ b; h = t + S0(a) + (b ^ (ab & bc)); bc = ab;
    t = g + S1(d) + (f ^ (d & (e ^ f))) + load<u32>(schedule, 164); c += t; ab = h ^ a; g = t + S0(h) + (a ^ (ab & bc)); bc = ab;
    t = f + S1(c) + (e ^ (c & (d ^ e))) + load<u32>(schedule, 168); b += t; ab = g ^ h; f = t + S0(g) + (h ^ (ab & bc)); bc = ab;
    t = e + S1(b) + (d ^ (b & (c ^ d))) + load<u32>(schedule, 172); a += t; ab = f ^ g; e = t + S0(f) + (g ^ (ab & bc)); bc = ab;
    x2 = nextWords(x2, x3, x0, x1); v128.store(schedule, i32x4.add(x2, v128.load(K, 224)), 224);
    t = d + S1(a) + (c ^ (a & (b ^ c))) + load<u32>(schedule, 176); h += t; ab = e ^ f; d = t + S0(e) + (f ^ (ab & bc)); bc = ab;
    t = c + S1(h) + (b ^ (h & (a ^ b))) + load<u32>(schedule, 180); g += t; ab = d ^ e; c = t + S0(d) + (e ^ (ab & bc)); bc = ab;
    t = b + S1(g) + (a ^ (g & (h ^ a))) + load<u32>(schedule, 184); f += t; ab = c ^ d; b = t + S0(c) + (d ^ (ab & bc)); bc = ab;
    t = a + S1(f) + (h ^ (f & (g ^ h))) + load<u32>(schedule, 188); e += t; ab = b ^ c; a = t + S0(b) + (c ^ (ab & bc)); bc = ab;
    x3 = nextWords(x3, x0, x1, x2); v128.store(schedule, i32x4.add(x3, v128.load(K, 240)), 240);
    t = h + S1(e) + (g ^ (e & (f ^ g))) + load<u32>(schedule, 192); d += t; ab = a ^ b; h = t + S0(a) + (b ^ (ab & bc)); bc = ab;
    t = g + S1(d) + (f ^ (d & (e ^ f))) + load<u32>(schedule, 196); c += t; ab = h ^ a; g = t + S0(h) + (a ^ (ab & bc)); bc = ab;
    t = f + S1(c) + (e ^ (c & (d ^ e))) + load<u32>(schedule, 200); b += t; ab = g ^ h; f = t + S0(g) + (h ^ (ab & bc)); bc = ab;
    t = e + S1(b) + (d ^ (b & (c ^ d))) + load<u32>(schedule, 204); a += t; ab = f ^ g; e = t + S0(f) + (g ^ (ab & bc)); bc = ab;
    t = d + S1(a) + (c ^ (a & (b ^ c))) + load<u32>(schedule, 208); h += t; ab = e ^ f; d = t + S0(e) + (f ^ (ab & bc)); bc = ab;
    t = c + S1(h) + (b ^ (h & (a ^ b))) + load<u32>(schedule, 212); g += t; ab = d ^ e; c = t + S0(d) + (e ^ (ab & bc)); bc = ab;
    t = b + S1(g) + (a ^ (g & (h ^ a))) + load<u32>(schedule, 216); f += t; ab = c ^ d; b = t + S0(c) + (d ^ (ab & bc)); bc = ab;
    t = a + S1(f) + (h ^ (f & (g ^ h))) + load<u32>(schedule, 220); e += t; ab = b ^ c; a = t + S0(b) + (c ^ (ab & bc)); bc = ab;
    t = h + S1(e) + (g ^ (e & (f ^ g))) + load<u32>(schedule, 224); d += t; ab = a ^ b; h = t + S0(a) + (b ^ (ab & bc)); bc = ab;
    t = g + S1(d) + (f ^ (d & (e ^ f))) + load<u32>(schedule, 228); c += t; ab = h ^ a; g = t + S0(h) + (a ^ (ab & bc)); bc = ab;
    t = f + S1(c) + (e ^ (c & (d ^ e))) + load<u32>(schedule, 232); b += t; ab = g ^ h; f = t + S0(g) + (h ^ (ab & bc)); bc = ab;
    t = e + S1(b) + (d ^ (b & (c ^ d))) + load<u32>(schedule, 236); a += t; ab = f ^ g; e = t + S0(f) + (g ^ (ab & bc)); bc = ab;
    t = d + S1(a) + (c ^ (a & (b ^ c))) + load<u32>(schedule, 240); h += t; ab = e ^ f; d = t + S0(e) + (f ^ (ab & bc)); bc = ab;
    t = c + S1(h) + (b ^ (h & (a ^ b))) + load<u32>(schedule, 244); g += t; ab = d ^ e; c = t + S0(d) + (e ^ (ab & bc)); bc = ab;
    t = b + S1(g) + (a ^ (g & (h ^ a))) + load<u32>(schedule, 248); f += t; ab = c ^ d; b = t + S0(c) + (d ^ (ab & bc)); bc = ab;
    t = a + S1(f) + (h ^ (f & (g ^ h))) + load<u32>(schedule, 252); e += t; ab = b ^ c; a = t + S0(b) + (c ^ (ab & bc)); bc = ab;
    a = h0 += a; b = h1 += b; c = h2 += c; d = h3 += d; e = h4 += e; f = h5 += f; g = h6 += g; h = h7 += h;
  }
}

// @ts-ignore: decorator
@inline function S0Lanes(x: v128): v128 { return v128.xor(v128.xor(rotrLanes(x, 2), rotrLanes(x, 13)), rotrLanes(x, 22)); }
// @ts-ignore: decorator
@inline function S1Lanes(x: v128): v128 { return v128.xor(v128.xor(rotrLanes(x, 6), rotrLanes(x, 11)), rotrLanes(x, 25)); }

/** Stores word k of four messages' 16 bytes at q0..q3 as vector k at `out + offset`, big-endian. */
// @ts-ignore: decorator
@inline function transposeInto(out: usize, offset: usize, q0: usize, q1: usize, q2: usize, q3: usize): void {
  const r0 = bigEndianWords(v128.load(q0)), r1 = bigEndianWords(v128.load(q1));
  const r2 = bigEndianWords(v128.load(q2)), r3 = bigEndianWords(v128.load(q3));
  const lo01 = i8x16.shuffle(r0, r1, 0, 1, 2, 3, 16, 17, 18, 19, 4, 5, 6, 7, 20, 21, 22, 23); // r0[0] r1[0] r0[1] r1[1]
  const hi01 = i8x16.shuffle(r0, r1, 8, 9, 10, 11, 24, 25, 26, 27, 12, 13, 14, 15, 28, 29, 30, 31); // r0[2] r1[2] r0[3] r1[3]
  const lo23 = i8x16.shuffle(r2, r3, 0, 1, 2, 3, 16, 17, 18, 19, 4, 5, 6, 7, 20, 21, 22, 23);
  const hi23 = i8x16.shuffle(r2, r3, 8, 9, 10, 11, 24, 25, 26, 27, 12, 13, 14, 15, 28, 29, 30, 31);
  v128.store(out + offset, i8x16.shuffle(lo01, lo23, 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23), 0);
  v128.store(out + offset, i8x16.shuffle(lo01, lo23, 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31), 16);
  v128.store(out + offset, i8x16.shuffle(hi01, hi23, 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23), 32);
  v128.store(out + offset, i8x16.shuffle(hi01, hi23, 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31), 48);
}

/**
 * Compresses `blocks` blocks of four messages at once, one per v128 lane (p0..p3), into the lane
 * state: for a batch of pieces, four independent SHA-256s cost little more than one.
 */
function compress4(p0: usize, p1: usize, p2: usize, p3: usize, blocks: usize): void {
  let a = v128.load(lanes, 0), b = v128.load(lanes, 16), c = v128.load(lanes, 32), d = v128.load(lanes, 48);
  let e = v128.load(lanes, 64), f = v128.load(lanes, 80), g = v128.load(lanes, 96), h = v128.load(lanes, 112);
  let t: v128, ab: v128, bc: v128;
  for (let n: usize = 0; n < blocks; n++) {
    const at = n << 6;
    // Word j of every message in one vector: transpose 4×4 words per 16 bytes.
    transposeInto(schedule4, 0, p0 + at + 0, p1 + at + 0, p2 + at + 0, p3 + at + 0);
    transposeInto(schedule4, 64, p0 + at + 16, p1 + at + 16, p2 + at + 16, p3 + at + 16);
    transposeInto(schedule4, 128, p0 + at + 32, p1 + at + 32, p2 + at + 32, p3 + at + 32);
    transposeInto(schedule4, 192, p0 + at + 48, p1 + at + 48, p2 + at + 48, p3 + at + 48);
    for (let q = schedule4; q < schedule4 + (48 << 4); q += 16) {
      // W[i] = W[i-16] + s0(W[i-15]) + W[i-7] + s1(W[i-2]), with q at W[i-16]
      const w = i32x4.add(i32x4.add(v128.load(q), s0Lanes(v128.load(q, 1 << 4))), i32x4.add(v128.load(q, 9 << 4), s1Lanes(v128.load(q, 14 << 4))));
      v128.store(q, w, 16 << 4);
    }
    const a0 = a, b0 = b, c0 = c, d0 = d, e0 = e, f0 = f, g0 = g, h0 = h;
    bc = v128.xor(b, c);
    t = i32x4.add(i32x4.add(i32x4.add(h, i32x4.add(v128.load(schedule4, 0), i32x4.splat(0x428a2f98))), v128.bitselect(f, g, e)), S1Lanes(e));
    d = i32x4.add(d, t); ab = v128.xor(a, b); h = i32x4.add(i32x4.add(t, v128.bitselect(a, b, bc)), S0Lanes(a)); bc = ab;
    t = i32x4.add(i32x4.add(i32x4.add(g, i32x4.add(v128.load(schedule4, 16), i32x4.splat(0x71374491))), v128.bitselect(e, f, d)), S1Lanes(d));
    c = i32x4.add(c, t); ab = v128.xor(h, a); g = i32x4.add(i32x4.add(t, v128.bitselect(h, a, bc)), S0Lanes(h)); bc = ab;
    t = i32x4.add(i32x4.add(i32x4.add(f, i32x4.add(v128.load(schedule4, 32), i32x4.splat(0xb5c0fbcf))), v128.bitselect(d, e, c)), S1Lanes(c));
    b = i32x4.add(b, t); ab = v128.xor(g, h); f = i32x4.add(i32x4.add(t, v128.bitselect(g, h, bc)), S0Lanes(g)); bc = ab;
    t = i32x4.add(i32x4.add(i32x4.add(e, i32x4.add(v128.load(schedule4, 48), i32x4.splat(0xe9b5dba5))), v128.bitselect(c, d, b)), S1Lanes(b));
    a = i32x4.add(a, t); ab = v128.xor(f, g); e = i32x4.add(i32x4.add(t, v128.bitselect(f, g, bc)), S0Lanes(f)); bc = ab;
    t = i32x4.add(i32x4.add(i32x4.add(d, i32x4.add(v128.load(schedule4, 64), i32x4.splat(0x3956c25b))), v128.bitselect(b, c, a)), S1Lanes(a));
    h = i32x4.add(h, t); ab = v128.xor(e, f); d = i32x4.add(i32x4.add(t, v128.bitselect(e, f, bc)), S0Lanes(e)); bc = ab;
    t = i32x4.add(i32x4.add(i32x4.add(c, i32x4.add(v128.load(schedule4, 80), i32x4.splat(0x59f111f1))), v128.bitselect(a, b, h)), S1Lanes(h));
    g = i32x4.add(g, t); ab = v128.xor(d, e); c = i32x4.add(i32x4.add(t, v128.bitselect(d, e, bc)), S0Lanes(d)); bc = ab;
    t = i32x4.add(i32x4.add(i32x4.add(b, i32x4.add(v128.load(schedule4, 96), i32x4.splat(0x923f82a4))), v128.bitselect(h, a, g)), S1Lanes(g));
    f = i32x4.add(f, t); ab = v128.xor(c, d); b = i32x4.add(i32x4.add(t, v128.bitselect(c, d, bc)), S0Lanes(c)); bc = ab;
    t = i32x4.add(i32x4.add(i32x4.add(a, i32x4.add(v128.load(schedule4, 112), i32x4.splat(0xab1c5ed5))), v128.bitselect(g, h, f)), S1Lanes(f));
    e = i32x4.add(e, t); ab = v128.xor(b, c); a = i32x4.add(i32x4.add(t, v128.bitselect(b, c, bc)), S0Lanes(b)); bc = ab;
    t = i32x4.add(i32x4.add(i32x4.add(h, i32x4.add(v128.load(schedule4, 128), i32x4.splat(0xd807aa98))), v128.bitselect(f, g, e)), S1Lanes(e));
    d = i32x4.add(d, t); ab = v128.xor(a, b); h = i32x4.add(i32x4.add(t, v128.bitselect(a, b, bc)), S0Lanes(a)); bc = ab;
    t = i32x4.add(i32x4.add(i32x4.add(g, i32x4.add(v128.load(schedule4, 144), i32x4.splat(0x12835b01))), v128.bitselect(e, f, d)), S1Lanes(d));
    c = i32x4.add(c, t); ab = v128.xor(h, a); g = i32x4.add(i32x4.add(t, v128.bitselect(h, a, bc)), S0Lanes(h)); bc = ab;
    t = i32x4.add(i32x4.add(i32x4.add(f, i32x4.add(v128.load(schedule4, 160), i32x4.splat(0x243185be))), v128.bitselect(d, e, c)), S1Lanes(c));
    b = i32x4.add(b, t); ab = v128.xor(g, h); f = i32x4.add(i32x4.add(t, v128.bitselect(g, h, bc)), S0Lanes(g)); bc = ab;
    t = i32x4.add(i32x4.add(i32x4.add(e, i32x4.add(v128.load(schedule4, 176), i32x4.splat(0x550c7dc3))), v128.bitselect(c, d, b)), S1Lanes(b));
    a = i32x4.add(a, t); ab = v128.xor(f, g); e = i32x4.add(i32x4.add(t, v128.bitselect(f, g, bc)), S0Lanes(f)); bc = ab;
    t = i32x4.add(i32x4.add(i32x4.add(d, i32x4.add(v128.load(schedule4, 192), i32x4.splat(0x72be5d74))), v128.bitselect(b, c, a)), S1Lanes(a));
    h = i32x4.add(h, t); ab = v128.xor(e, f); d = i32x4.add(i32x4.add(t, v128.bitselect(e, f, bc)), S0Lanes(e)); bc = ab;
    t = i32x4.add(i32x4.add(i32x4.add(c, i32x4.add(v128.load(schedule4, 208), i32x4.splat(0x80deb1fe))), v128.bitselect(a, b, h)), S1Lanes(h));
    g = i32x4.add(g, t); ab = v128.xor(d, e); c = i32x4.add(i32x4.add(t, v128.bitselect(d, e, bc)), S0Lanes(d)); bc = ab;
    t = i32x4.add(i32x4.add(i32x4.add(b, i32x4.add(v128.load(schedule4, 224), i32x4.splat(0x9bdc06a7))), v128.bitselect(h, a, g)), S1Lanes(g));
    f = i32x4.add(f, t); ab = v128.xor(c, d); b = i32x4.add(i32x4.add(t, v128.bitselect(c, d, bc)), S0Lanes(c)); bc = ab;
    t = i32x4.add(i32x4.add(i32x4.add(a, i32x4.add(v128.load(schedule4, 240), i32x4.splat(0xc19bf174))), v128.bitselect(g, h, f)), S1Lanes(f));
    e = i32x4.add(e, t); ab = v128.xor(b, c); a = i32x4.add(i32x4.add(t, v128.bitselect(b, c, bc)), S0Lanes(b)); bc = ab;
    t = i32x4.add(i32x4.add(i32x4.add(h, i32x4.add(v128.load(schedule4, 256), i32x4.splat(0xe49b69c1))), v128.bitselect(f, g, e)), S1Lanes(e));
    d = i32x4.add(d, t); ab = v128.xor(a, b); h = i32x4.add(i32x4.add(t, v128.bitselect(a, b, bc)), S0Lanes(a)); bc = ab;
    t = i32x4.add(i32x4.add(i32x4.add(g, i32x4.add(v128.load(schedule4, 272), i32x4.splat(0xefbe4786))), v128.bitselect(e, f, d)), S1Lanes(d));
    c = i32x4.add(c, t); ab = v128.xor(h, a); g = i32x4.add(i32x4.add(t, v128.bitselect(h, a, bc)), S0Lanes(h)); bc = ab;
    t = i32x4.add(i32x4.add(i32x4.add(f, i32x4.add(v128.load(schedule4, 288), i32x4.splat(0x0fc19dc6))), v128.bitselect(d, e, c)), S1Lanes(c));
    b = i32x4.add(b, t); ab = v128.xor(g, h); f = i32x4.add(i32x4.add(t, v128.bitselect(g, h, bc)), S0Lanes(g)); bc = ab;
    t = i32x4.add(i32x4.add(i32x4.add(e, i32x4.add(v128.load(schedule4, 304), i32x4.splat(0x240ca1cc))), v128.bitselect(c, d, b)), S1Lanes(b));
    a = i32x4.add(a, t); ab = v128.xor(f, g); e = i32x4.add(i32x4.add(t, v128.bitselect(f, g, bc)), S0Lanes(f)); bc = ab;
    t = i32x4.add(i32x4.add(i32x4.add(d, i32x4.add(v128.load(schedule4, 320), i32x4.splat(0x2de92c6f))), v128.bitselect(b, c, a)), S1Lanes(a));
    h = i32x4.add(h, t); ab = v128.xor(e, f); d = i32x4.add(i32x4.add(t, v128.bitselect(e, f, bc)), S0Lanes(e)); bc = ab;
    t = i32x4.add(i32x4.add(i32x4.add(c, i32x4.add(v128.load(schedule4, 336), i32x4.splat(0x4a7484aa))), v128.bitselect(a, b, h)), S1Lanes(h));
    g = i32x4.add(g, t); ab = v128.xor(d, e); c = i32x4.add(i32x4.add(t, v128.bitselect(d, e, bc)), S0Lanes(d)); bc = ab;
    t = i32x4.add(i32x4.add(i32x4.add(b, i32x4.add(v128.load(schedule4, 352), i32x4.splat(0x5cb0a9dc))), v128.bitselect(h, a, g)), S1Lanes(g));
    f = i32x4.add(f, t); ab = v128.xor(c, d); b = i32x4.add(i32x4.add(t, v128.bitselect(c, d, bc)), S0Lanes(c)); bc = ab;
    t = i32x4.add(i32x4.add(i32x4.add(a, i32x4.add(v128.load(schedule4, 368), i32x4.splat(0x76f988da))), v128.bitselect(g, h, f)), S1Lanes(f));
    e = i32x4.add(e, t); ab = v128.xor(b, c); a = i32x4.add(i32x4.add(t, v128.bitselect(b, c, bc)), S0Lanes(b)); bc = ab;
    t = i32x4.add(i32x4.add(i32x4.add(h, i32x4.add(v128.load(schedule4, 384), i32x4.splat(0x983e5152))), v128.bitselect(f, g, e)), S1Lanes(e));
    d = i32x4.add(d, t); ab = v128.xor(a, b); h = i32x4.add(i32x4.add(t, v128.bitselect(a, b, bc)), S0Lanes(a)); bc = ab;
    t = i32x4.add(i32x4.add(i32x4.add(g, i32x4.add(v128.load(schedule4, 400), i32x4.splat(0xa831c66d))), v128.bitselect(e, f, d)), S1Lanes(d));
    c = i32x4.add(c, t); ab = v128.xor(h, a); g = i32x4.add(i32x4.add(t, v128.bitselect(h, a, bc)), S0Lanes(h)); bc = ab;
    t = i32x4.add(i32x4.add(i32x4.add(f, i32x4.add(v128.load(schedule4, 416), i32x4.splat(0xb00327c8))), v128.bitselect(d, e, c)), S1Lanes(c));
    b = i32x4.add(b, t); ab = v128.xor(g, h); f = i32x4.add(i32x4.add(t, v128.bitselect(g, h, bc)), S0Lanes(g)); bc = ab;
    t = i32x4.add(i32x4.add(i32x4.add(e, i32x4.add(v128.load(schedule4, 432), i32x4.splat(0xbf597fc7))), v128.bitselect(c, d, b)), S1Lanes(b));
    a = i32x4.add(a, t); ab = v128.xor(f, g); e = i32x4.add(i32x4.add(t, v128.bitselect(f, g, bc)), S0Lanes(f)); bc = ab;
    t = i32x4.add(i32x4.add(i32x4.add(d, i32x4.add(v128.load(schedule4, 448), i32x4.splat(0xc6e00bf3))), v128.bitselect(b, c, a)), S1Lanes(a));
    h = i32x4.add(h, t); ab = v128.xor(e, f); d = i32x4.add(i32x4.add(t, v128.bitselect(e, f, bc)), S0Lanes(e)); bc = ab;
    t = i32x4.add(i32x4.add(i32x4.add(c, i32x4.add(v128.load(schedule4, 464), i32x4.splat(0xd5a79147))), v128.bitselect(a, b, h)), S1Lanes(h));
    g = i32x4.add(g, t); ab = v128.xor(d, e); c = i32x4.add(i32x4.add(t, v128.bitselect(d, e, bc)), S0Lanes(d)); bc = ab;
    t = i32x4.add(i32x4.add(i32x4.add(b, i32x4.add(v128.load(schedule4, 480), i32x4.splat(0x06ca6351))), v128.bitselect(h, a, g)), S1Lanes(g));
    f = i32x4.add(f, t); ab = v128.xor(c, d); b = i32x4.add(i32x4.add(t, v128.bitselect(c, d, bc)), S0Lanes(c)); bc = ab;
    t = i32x4.add(i32x4.add(i32x4.add(a, i32x4.add(v128.load(schedule4, 496), i32x4.splat(0x14292967))), v128.bitselect(g, h, f)), S1Lanes(f));
    e = i32x4.add(e, t); ab = v128.xor(b, c); a = i32x4.add(i32x4.add(t, v128.bitselect(b, c, bc)), S0Lanes(b)); bc = ab;
    t = i32x4.add(i32x4.add(i32x4.add(h, i32x4.add(v128.load(schedule4, 512), i32x4.splat(0x27b70a85))), v128.bitselect(f, g, e)), S1Lanes(e));
    d = i32x4.add(d, t); ab = v128.xor(a, b); h = i32x4.add(i32x4.add(t, v128.bitselect(a, b, bc)), S0Lanes(a)); bc = ab;
    t = i32x4.add(i32x4.add(i32x4.add(g, i32x4.add(v128.load(schedule4, 528), i32x4.splat(0x2e1b2138))), v128.bitselect(e, f, d)), S1Lanes(d));
    c = i32x4.add(c, t); ab = v128.xor(h, a); g = i32x4.add(i32x4.add(t, v128.bitselect(h, a, bc)), S0Lanes(h)); bc = ab;
    t = i32x4.add(i32x4.add(i32x4.add(f, i32x4.add(v128.load(schedule4, 544), i32x4.splat(0x4d2c6dfc))), v128.bitselect(d, e, c)), S1Lanes(c));
    b = i32x4.add(b, t); ab = v128.xor(g, h); f = i32x4.add(i32x4.add(t, v128.bitselect(g, h, bc)), S0Lanes(g)); bc = ab;
    t = i32x4.add(i32x4.add(i32x4.add(e, i32x4.add(v128.load(schedule4, 560), i32x4.splat(0x53380d13))), v128.bitselect(c, d, b)), S1Lanes(b));
    a = i32x4.add(a, t); ab = v128.xor(f, g); e = i32x4.add(i32x4.add(t, v128.bitselect(f, g, bc)), S0Lanes(f)); bc = ab;
    t = i32x4.add(i32x4.add(i32x4.add(d, i32x4.add(v128.load(schedule4, 576), i32x4.splat(0x650a7354))), v128.bitselect(b, c, a)), S1Lanes(a));
    h = i32x4.add(h, t); ab = v128.xor(e, f); d = i32x4.add(i32x4.add(t, v128.bitselect(e, f, bc)), S0Lanes(e)); bc = ab;
    t = i32x4.add(i32x4.add(i32x4.add(c, i32x4.add(v128.load(schedule4, 592), i32x4.splat(0x766a0abb))), v128.bitselect(a, b, h)), S1Lanes(h));
    g = i32x4.add(g, t); ab = v128.xor(d, e); c = i32x4.add(i32x4.add(t, v128.bitselect(d, e, bc)), S0Lanes(d)); bc = ab;
    t = i32x4.add(i32x4.add(i32x4.add(b, i32x4.add(v128.load(schedule4, 608), i32x4.splat(0x81c2c92e))), v128.bitselect(h, a, g)), S1Lanes(g));
    f = i32x4.add(f, t); ab = v128.xor(c, d); b = i32x4.add(i32x4.add(t, v128.bitselect(c, d, bc)), S0Lanes(c)); bc = ab;
    t = i32x4.add(i32x4.add(i32x4.add(a, i32x4.add(v128.load(schedule4, 624), i32x4.splat(0x92722c85))), v128.bitselect(g, h, f)), S1Lanes(f));
    e = i32x4.add(e, t); ab = v128.xor(b, c); a = i32x4.add(i32x4.add(t, v128.bitselect(b, c, bc)), S0Lanes(b)); bc = ab;
    t = i32x4.add(i32x4.add(i32x4.add(h, i32x4.add(v128.load(schedule4, 640), i32x4.splat(0xa2bfe8a1))), v128.bitselect(f, g, e)), S1Lanes(e));
    d = i32x4.add(d, t); ab = v128.xor(a, b); h = i32x4.add(i32x4.add(t, v128.bitselect(a, b, bc)), S0Lanes(a)); bc = ab;
    t = i32x4.add(i32x4.add(i32x4.add(g, i32x4.add(v128.load(schedule4, 656), i32x4.splat(0xa81a664b))), v128.bitselect(e, f, d)), S1Lanes(d));
    c = i32x4.add(c, t); ab = v128.xor(h, a); g = i32x4.add(i32x4.add(t, v128.bitselect(h, a, bc)), S0Lanes(h)); bc = ab;
    t = i32x4.add(i32x4.add(i32x4.add(f, i32x4.add(v128.load(schedule4, 672), i32x4.splat(0xc24b8b70))), v128.bitselect(d, e, c)), S1Lanes(c));
    b = i32x4.add(b, t); ab = v128.xor(g, h); f = i32x4.add(i32x4.add(t, v128.bitselect(g, h, bc)), S0Lanes(g)); bc = ab;
    t = i32x4.add(i32x4.add(i32x4.add(e, i32x4.add(v128.load(schedule4, 688), i32x4.splat(0xc76c51a3))), v128.bitselect(c, d, b)), S1Lanes(b));
    a = i32x4.add(a, t); ab = v128.xor(f, g); e = i32x4.add(i32x4.add(t, v128.bitselect(f, g, bc)), S0Lanes(f)); bc = ab;
    t = i32x4.add(i32x4.add(i32x4.add(d, i32x4.add(v128.load(schedule4, 704), i32x4.splat(0xd192e819))), v128.bitselect(b, c, a)), S1Lanes(a));
    h = i32x4.add(h, t); ab = v128.xor(e, f); d = i32x4.add(i32x4.add(t, v128.bitselect(e, f, bc)), S0Lanes(e)); bc = ab;
    t = i32x4.add(i32x4.add(i32x4.add(c, i32x4.add(v128.load(schedule4, 720), i32x4.splat(0xd6990624))), v128.bitselect(a, b, h)), S1Lanes(h));
    g = i32x4.add(g, t); ab = v128.xor(d, e); c = i32x4.add(i32x4.add(t, v128.bitselect(d, e, bc)), S0Lanes(d)); bc = ab;
    t = i32x4.add(i32x4.add(i32x4.add(b, i32x4.add(v128.load(schedule4, 736), i32x4.splat(0xf40e3585))), v128.bitselect(h, a, g)), S1Lanes(g));
    f = i32x4.add(f, t); ab = v128.xor(c, d); b = i32x4.add(i32x4.add(t, v128.bitselect(c, d, bc)), S0Lanes(c)); bc = ab;
    t = i32x4.add(i32x4.add(i32x4.add(a, i32x4.add(v128.load(schedule4, 752), i32x4.splat(0x106aa070))), v128.bitselect(g, h, f)), S1Lanes(f));
    e = i32x4.add(e, t); ab = v128.xor(b, c); a = i32x4.add(i32x4.add(t, v128.bitselect(b, c, bc)), S0Lanes(b)); bc = ab;
    t = i32x4.add(i32x4.add(i32x4.add(h, i32x4.add(v128.load(schedule4, 768), i32x4.splat(0x19a4c116))), v128.bitselect(f, g, e)), S1Lanes(e));
    d = i32x4.add(d, t); ab = v128.xor(a, b); h = i32x4.add(i32x4.add(t, v128.bitselect(a, b, bc)), S0Lanes(a)); bc = ab;
    t = i32x4.add(i32x4.add(i32x4.add(g, i32x4.add(v128.load(schedule4, 784), i32x4.splat(0x1e376c08))), v128.bitselect(e, f, d)), S1Lanes(d));
    c = i32x4.add(c, t); ab = v128.xor(h, a); g = i32x4.add(i32x4.add(t, v128.bitselect(h, a, bc)), S0Lanes(h)); bc = ab;
    t = i32x4.add(i32x4.add(i32x4.add(f, i32x4.add(v128.load(schedule4, 800), i32x4.splat(0x2748774c))), v128.bitselect(d, e, c)), S1Lanes(c));
    b = i32x4.add(b, t); ab = v128.xor(g, h); f = i32x4.add(i32x4.add(t, v128.bitselect(g, h, bc)), S0Lanes(g)); bc = ab;
    t = i32x4.add(i32x4.add(i32x4.add(e, i32x4.add(v128.load(schedule4, 816), i32x4.splat(0x34b0bcb5))), v128.bitselect(c, d, b)), S1Lanes(b));
    a = i32x4.add(a, t); ab = v128.xor(f, g); e = i32x4.add(i32x4.add(t, v128.bitselect(f, g, bc)), S0Lanes(f)); bc = ab;
    t = i32x4.add(i32x4.add(i32x4.add(d, i32x4.add(v128.load(schedule4, 832), i32x4.splat(0x391c0cb3))), v128.bitselect(b, c, a)), S1Lanes(a));
    h = i32x4.add(h, t); ab = v128.xor(e, f); d = i32x4.add(i32x4.add(t, v128.bitselect(e, f, bc)), S0Lanes(e)); bc = ab;
    t = i32x4.add(i32x4.add(i32x4.add(c, i32x4.add(v128.load(schedule4, 848), i32x4.splat(0x4ed8aa4a))), v128.bitselect(a, b, h)), S1Lanes(h));
    g = i32x4.add(g, t); ab = v128.xor(d, e); c = i32x4.add(i32x4.add(t, v128.bitselect(d, e, bc)), S0Lanes(d)); bc = ab;
    t = i32x4.add(i32x4.add(i32x4.add(b, i32x4.add(v128.load(schedule4, 864), i32x4.splat(0x5b9cca4f))), v128.bitselect(h, a, g)), S1Lanes(g));
    f = i32x4.add(f, t); ab = v128.xor(c, d); b = i32x4.add(i32x4.add(t, v128.bitselect(c, d, bc)), S0Lanes(c)); bc = ab;
    t = i32x4.add(i32x4.add(i32x4.add(a, i32x4.add(v128.load(schedule4, 880), i32x4.splat(0x682e6ff3))), v128.bitselect(g, h, f)), S1Lanes(f));
    e = i32x4.add(e, t); ab = v128.xor(b, c); a = i32x4.add(i32x4.add(t, v128.bitselect(b, c, bc)), S0Lanes(b)); bc = ab;
    t = i32x4.add(i32x4.add(i32x4.add(h, i32x4.add(v128.load(schedule4, 896), i32x4.splat(0x748f82ee))), v128.bitselect(f, g, e)), S1Lanes(e));
    d = i32x4.add(d, t); ab = v128.xor(a, b); h = i32x4.add(i32x4.add(t, v128.bitselect(a, b, bc)), S0Lanes(a)); bc = ab;
    t = i32x4.add(i32x4.add(i32x4.add(g, i32x4.add(v128.load(schedule4, 912), i32x4.splat(0x78a5636f))), v128.bitselect(e, f, d)), S1Lanes(d));
    c = i32x4.add(c, t); ab = v128.xor(h, a); g = i32x4.add(i32x4.add(t, v128.bitselect(h, a, bc)), S0Lanes(h)); bc = ab;
    t = i32x4.add(i32x4.add(i32x4.add(f, i32x4.add(v128.load(schedule4, 928), i32x4.splat(0x84c87814))), v128.bitselect(d, e, c)), S1Lanes(c));
    b = i32x4.add(b, t); ab = v128.xor(g, h); f = i32x4.add(i32x4.add(t, v128.bitselect(g, h, bc)), S0Lanes(g)); bc = ab;
    t = i32x4.add(i32x4.add(i32x4.add(e, i32x4.add(v128.load(schedule4, 944), i32x4.splat(0x8cc70208))), v128.bitselect(c, d, b)), S1Lanes(b));
    a = i32x4.add(a, t); ab = v128.xor(f, g); e = i32x4.add(i32x4.add(t, v128.bitselect(f, g, bc)), S0Lanes(f)); bc = ab;
    t = i32x4.add(i32x4.add(i32x4.add(d, i32x4.add(v128.load(schedule4, 960), i32x4.splat(0x90befffa))), v128.bitselect(b, c, a)), S1Lanes(a));
    h = i32x4.add(h, t); ab = v128.xor(e, f); d = i32x4.add(i32x4.add(t, v128.bitselect(e, f, bc)), S0Lanes(e)); bc = ab;
    t = i32x4.add(i32x4.add(i32x4.add(c, i32x4.add(v128.load(schedule4, 976), i32x4.splat(0xa4506ceb))), v128.bitselect(a, b, h)), S1Lanes(h));
    g = i32x4.add(g, t); ab = v128.xor(d, e); c = i32x4.add(i32x4.add(t, v128.bitselect(d, e, bc)), S0Lanes(d)); bc = ab;
    t = i32x4.add(i32x4.add(i32x4.add(b, i32x4.add(v128.load(schedule4, 992), i32x4.splat(0xbef9a3f7))), v128.bitselect(h, a, g)), S1Lanes(g));
    f = i32x4.add(f, t); ab = v128.xor(c, d); b = i32x4.add(i32x4.add(t, v128.bitselect(c, d, bc)), S0Lanes(c)); bc = ab;
    t = i32x4.add(i32x4.add(i32x4.add(a, i32x4.add(v128.load(schedule4, 1008), i32x4.splat(0xc67178f2))), v128.bitselect(g, h, f)), S1Lanes(f));
    e = i32x4.add(e, t); ab = v128.xor(b, c); a = i32x4.add(i32x4.add(t, v128.bitselect(b, c, bc)), S0Lanes(b)); bc = ab;
    a = i32x4.add(a, a0); b = i32x4.add(b, b0); c = i32x4.add(c, c0); d = i32x4.add(d, d0);
    e = i32x4.add(e, e0); f = i32x4.add(f, f0); g = i32x4.add(g, g0); h = i32x4.add(h, h0);
  }
  v128.store(lanes, a, 0); v128.store(lanes, b, 16); v128.store(lanes, c, 32); v128.store(lanes, d, 48);
  v128.store(lanes, e, 64); v128.store(lanes, f, 80); v128.store(lanes, g, 96); v128.store(lanes, h, 112);
}


/** Feeds `len` bytes of the input window; returns 0, or −1 when len exceeds the window. */
export function update(len: u32): i32 {
  if (len > WINDOW) return -1;
  let p = input;
  let left = len;
  total += len;
  if (pendingLen > 0) {
    const take = min(64 - pendingLen, left);
    memory.copy(pending + pendingLen, p, take);
    pendingLen += take; p += take; left -= take;
    if (pendingLen < 64) return 0;
    compress(pending, 1);
    pendingLen = 0;
  }
  const blocks = left >>> 6;
  compress(p, blocks);
  p += blocks << 6; left -= blocks << 6;
  memory.copy(pending, p, left);
  pendingLen = left;
  return 0;
}

/** Pads and writes the digest of the stream to `out`. */
function finish(out: usize): void {
  const bits = total << 3;
  store<u8>(pending + pendingLen, 0x80);
  memory.fill(pending + pendingLen + 1, 0, 63 - pendingLen);
  if (pendingLen >= 56) {
    compress(pending, 1);
    memory.fill(pending, 0, 64);
  }
  store<u64>(pending + 56, bswap<u64>(bits));
  compress(pending, 1);
  store<u32>(out, bswap<u32>(h0)); store<u32>(out + 4, bswap<u32>(h1));
  store<u32>(out + 8, bswap<u32>(h2)); store<u32>(out + 12, bswap<u32>(h3));
  store<u32>(out + 16, bswap<u32>(h4)); store<u32>(out + 20, bswap<u32>(h5));
  store<u32>(out + 24, bswap<u32>(h6)); store<u32>(out + 28, bswap<u32>(h7));
}

/** Digest of the stream into the first 32 bytes of the output window. */
export function final(): void {
  finish(output);
}

/** Takes lane `k`'s state from the lanes and finishes that piece (`len` bytes at `p`, `done` blocks compressed). */
function finishLane(k: usize, p: usize, len: u32, done: u32, out: usize): void {
  const at = lanes + (k << 2);
  h0 = load<u32>(at, 0); h1 = load<u32>(at, 16); h2 = load<u32>(at, 32); h3 = load<u32>(at, 48);
  h4 = load<u32>(at, 64); h5 = load<u32>(at, 80); h6 = load<u32>(at, 96); h7 = load<u32>(at, 112);
  finishPiece(p, len, done, out);
}

/** Digest of the whole piece of `len` bytes at `p` into `out`, its first `done` blocks already in the state. */
function finishPiece(p: usize, len: u32, done: u32, out: usize): void {
  const blocks = len >>> 6;
  compress(p + (done << 6), blocks - done);
  total = len;
  pendingLen = len & 63;
  memory.copy(pending, p + (blocks << 6), pendingLen);
  finish(out);
}

/** Digests `count` consecutive pieces of the input window (sizes in the sizes window). −1 if they overrun it. */
export function hashMany(count: u32): i32 {
  if (count > MAX_BATCH) return -1;
  let p = input;
  let end: u64 = 0;
  for (let i: u32 = 0; i < count; i++) end += load<u32>(sizes + (i << 2));
  if (end > <u64>WINDOW) return -1;
  save();
  let i: u32 = 0;
  for (; i + 4 <= count; i += 4) {
    const l0 = load<u32>(sizes + (i << 2)), l1 = load<u32>(sizes + (i << 2), 4);
    const l2 = load<u32>(sizes + (i << 2), 8), l3 = load<u32>(sizes + (i << 2), 12);
    const p1 = p + l0, p2 = p1 + l1, p3 = p2 + l2;
    // The blocks all four have go through the lanes together; each finishes on its own.
    const together = min(min(l0, l1), min(l2, l3)) >>> 6;
    reset();
    v128.store(lanes, i32x4.splat(h0), 0); v128.store(lanes, i32x4.splat(h1), 16);
    v128.store(lanes, i32x4.splat(h2), 32); v128.store(lanes, i32x4.splat(h3), 48);
    v128.store(lanes, i32x4.splat(h4), 64); v128.store(lanes, i32x4.splat(h5), 80);
    v128.store(lanes, i32x4.splat(h6), 96); v128.store(lanes, i32x4.splat(h7), 112);
    compress4(p, p1, p2, p3, together);
    finishLane(0, p, l0, together, output + (i << 5));
    finishLane(1, p1, l1, together, output + (i << 5) + 32);
    finishLane(2, p2, l2, together, output + (i << 5) + 64);
    finishLane(3, p3, l3, together, output + (i << 5) + 96);
    p = p3 + l3;
  }
  for (; i < count; i++) {
    const len = load<u32>(sizes + (i << 2));
    reset();
    finishPiece(p, len, 0, output + (i << 5));
    p += len;
  }
  restore();
  return 0;
}

/** One-shot and batch digests leave a stream in progress untouched. */
export function save(): void {
  memory.copy(saved, pending, 64);
  store<u32>(saved + 64, h0); store<u32>(saved + 68, h1); store<u32>(saved + 72, h2); store<u32>(saved + 76, h3);
  store<u32>(saved + 80, h4); store<u32>(saved + 84, h5); store<u32>(saved + 88, h6); store<u32>(saved + 92, h7);
  store<u32>(saved + 96, pendingLen);
  store<u64>(saved + 104, total);
}

export function restore(): void {
  memory.copy(pending, saved, 64);
  h0 = load<u32>(saved + 64); h1 = load<u32>(saved + 68); h2 = load<u32>(saved + 72); h3 = load<u32>(saved + 76);
  h4 = load<u32>(saved + 80); h5 = load<u32>(saved + 84); h6 = load<u32>(saved + 88); h7 = load<u32>(saved + 92);
  pendingLen = load<u32>(saved + 96);
  total = load<u64>(saved + 104);
}
