// SHA-256 (FIPS 180-4): streaming, one-shot and batch digests over a static input window.
import { reserve } from "./lib/window";

const WINDOW: u32 = 1 << 20;
const MAX_BATCH: u32 = 4096;

const input = reserve(WINDOW);
const output = reserve(32 * MAX_BATCH);
const sizes = reserve(4 * MAX_BATCH);
const pending = reserve(64); // a partial block carried between updates
const saved = reserve(64 + 48); // the stream's state while a batch runs

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
@inline function s0(x: u32): u32 { return rotr(x, 7) ^ rotr(x, 18) ^ (x >>> 3); }
// @ts-ignore: decorator
@inline function s1(x: u32): u32 { return rotr(x, 17) ^ rotr(x, 19) ^ (x >>> 10); }
// @ts-ignore: decorator
@inline function S0(x: u32): u32 { return rotr(x ^ rotr(x ^ rotr(x, 9), 11), 2); }
// @ts-ignore: decorator
@inline function S1(x: u32): u32 { return rotr(x ^ rotr(x ^ rotr(x, 14), 5), 6); }

/**
 * Compresses `blocks` 64-byte blocks at `p` into the state. Fully unrolled: the working variables
 * rotate by renaming instead of moving, the round constants are immediates and the message
 * schedule is a rolling window of 16 locals. Maj(a, b, c) = b ^ ((a ^ b) & (b ^ c)) reuses the
 * previous round's a ^ b as this round's b ^ c.
 */
function compress(p: usize, blocks: usize): void {
  let a = h0, b = h1, c = h2, d = h3, e = h4, f = h5, g = h6, h = h7;
  let t: u32, ab: u32, bc: u32;
  for (const end = p + (blocks << 6); p < end; p += 64) {
    let w0 = bswap<u32>(load<u32>(p, 0)); let w1 = bswap<u32>(load<u32>(p, 4)); let w2 = bswap<u32>(load<u32>(p, 8)); let w3 = bswap<u32>(load<u32>(p, 12));
    let w4 = bswap<u32>(load<u32>(p, 16)); let w5 = bswap<u32>(load<u32>(p, 20)); let w6 = bswap<u32>(load<u32>(p, 24)); let w7 = bswap<u32>(load<u32>(p, 28));
    let w8 = bswap<u32>(load<u32>(p, 32)); let w9 = bswap<u32>(load<u32>(p, 36)); let w10 = bswap<u32>(load<u32>(p, 40)); let w11 = bswap<u32>(load<u32>(p, 44));
    let w12 = bswap<u32>(load<u32>(p, 48)); let w13 = bswap<u32>(load<u32>(p, 52)); let w14 = bswap<u32>(load<u32>(p, 56)); let w15 = bswap<u32>(load<u32>(p, 60));
    bc = b ^ c;
    t = h + S1(e) + (g ^ (e & (f ^ g))) + 0x428a2f98 + w0; d += t; ab = a ^ b; h = t + S0(a) + (b ^ (ab & bc)); bc = ab;
    t = g + S1(d) + (f ^ (d & (e ^ f))) + 0x71374491 + w1; c += t; ab = h ^ a; g = t + S0(h) + (a ^ (ab & bc)); bc = ab;
    t = f + S1(c) + (e ^ (c & (d ^ e))) + 0xb5c0fbcf + w2; b += t; ab = g ^ h; f = t + S0(g) + (h ^ (ab & bc)); bc = ab;
    t = e + S1(b) + (d ^ (b & (c ^ d))) + 0xe9b5dba5 + w3; a += t; ab = f ^ g; e = t + S0(f) + (g ^ (ab & bc)); bc = ab;
    t = d + S1(a) + (c ^ (a & (b ^ c))) + 0x3956c25b + w4; h += t; ab = e ^ f; d = t + S0(e) + (f ^ (ab & bc)); bc = ab;
    t = c + S1(h) + (b ^ (h & (a ^ b))) + 0x59f111f1 + w5; g += t; ab = d ^ e; c = t + S0(d) + (e ^ (ab & bc)); bc = ab;
    t = b + S1(g) + (a ^ (g & (h ^ a))) + 0x923f82a4 + w6; f += t; ab = c ^ d; b = t + S0(c) + (d ^ (ab & bc)); bc = ab;
    t = a + S1(f) + (h ^ (f & (g ^ h))) + 0xab1c5ed5 + w7; e += t; ab = b ^ c; a = t + S0(b) + (c ^ (ab & bc)); bc = ab;
    t = h + S1(e) + (g ^ (e & (f ^ g))) + 0xd807aa98 + w8; d += t; ab = a ^ b; h = t + S0(a) + (b ^ (ab & bc)); bc = ab;
    t = g + S1(d) + (f ^ (d & (e ^ f))) + 0x12835b01 + w9; c += t; ab = h ^ a; g = t + S0(h) + (a ^ (ab & bc)); bc = ab;
    t = f + S1(c) + (e ^ (c & (d ^ e))) + 0x243185be + w10; b += t; ab = g ^ h; f = t + S0(g) + (h ^ (ab & bc)); bc = ab;
    t = e + S1(b) + (d ^ (b & (c ^ d))) + 0x550c7dc3 + w11; a += t; ab = f ^ g; e = t + S0(f) + (g ^ (ab & bc)); bc = ab;
    t = d + S1(a) + (c ^ (a & (b ^ c))) + 0x72be5d74 + w12; h += t; ab = e ^ f; d = t + S0(e) + (f ^ (ab & bc)); bc = ab;
    t = c + S1(h) + (b ^ (h & (a ^ b))) + 0x80deb1fe + w13; g += t; ab = d ^ e; c = t + S0(d) + (e ^ (ab & bc)); bc = ab;
    t = b + S1(g) + (a ^ (g & (h ^ a))) + 0x9bdc06a7 + w14; f += t; ab = c ^ d; b = t + S0(c) + (d ^ (ab & bc)); bc = ab;
    t = a + S1(f) + (h ^ (f & (g ^ h))) + 0xc19bf174 + w15; e += t; ab = b ^ c; a = t + S0(b) + (c ^ (ab & bc)); bc = ab;
    w0 += s1(w14) + w9 + s0(w1);
    t = h + S1(e) + (g ^ (e & (f ^ g))) + 0xe49b69c1 + w0; d += t; ab = a ^ b; h = t + S0(a) + (b ^ (ab & bc)); bc = ab;
    w1 += s1(w15) + w10 + s0(w2);
    t = g + S1(d) + (f ^ (d & (e ^ f))) + 0xefbe4786 + w1; c += t; ab = h ^ a; g = t + S0(h) + (a ^ (ab & bc)); bc = ab;
    w2 += s1(w0) + w11 + s0(w3);
    t = f + S1(c) + (e ^ (c & (d ^ e))) + 0x0fc19dc6 + w2; b += t; ab = g ^ h; f = t + S0(g) + (h ^ (ab & bc)); bc = ab;
    w3 += s1(w1) + w12 + s0(w4);
    t = e + S1(b) + (d ^ (b & (c ^ d))) + 0x240ca1cc + w3; a += t; ab = f ^ g; e = t + S0(f) + (g ^ (ab & bc)); bc = ab;
    w4 += s1(w2) + w13 + s0(w5);
    t = d + S1(a) + (c ^ (a & (b ^ c))) + 0x2de92c6f + w4; h += t; ab = e ^ f; d = t + S0(e) + (f ^ (ab & bc)); bc = ab;
    w5 += s1(w3) + w14 + s0(w6);
    t = c + S1(h) + (b ^ (h & (a ^ b))) + 0x4a7484aa + w5; g += t; ab = d ^ e; c = t + S0(d) + (e ^ (ab & bc)); bc = ab;
    w6 += s1(w4) + w15 + s0(w7);
    t = b + S1(g) + (a ^ (g & (h ^ a))) + 0x5cb0a9dc + w6; f += t; ab = c ^ d; b = t + S0(c) + (d ^ (ab & bc)); bc = ab;
    w7 += s1(w5) + w0 + s0(w8);
    t = a + S1(f) + (h ^ (f & (g ^ h))) + 0x76f988da + w7; e += t; ab = b ^ c; a = t + S0(b) + (c ^ (ab & bc)); bc = ab;
    w8 += s1(w6) + w1 + s0(w9);
    t = h + S1(e) + (g ^ (e & (f ^ g))) + 0x983e5152 + w8; d += t; ab = a ^ b; h = t + S0(a) + (b ^ (ab & bc)); bc = ab;
    w9 += s1(w7) + w2 + s0(w10);
    t = g + S1(d) + (f ^ (d & (e ^ f))) + 0xa831c66d + w9; c += t; ab = h ^ a; g = t + S0(h) + (a ^ (ab & bc)); bc = ab;
    w10 += s1(w8) + w3 + s0(w11);
    t = f + S1(c) + (e ^ (c & (d ^ e))) + 0xb00327c8 + w10; b += t; ab = g ^ h; f = t + S0(g) + (h ^ (ab & bc)); bc = ab;
    w11 += s1(w9) + w4 + s0(w12);
    t = e + S1(b) + (d ^ (b & (c ^ d))) + 0xbf597fc7 + w11; a += t; ab = f ^ g; e = t + S0(f) + (g ^ (ab & bc)); bc = ab;
    w12 += s1(w10) + w5 + s0(w13);
    t = d + S1(a) + (c ^ (a & (b ^ c))) + 0xc6e00bf3 + w12; h += t; ab = e ^ f; d = t + S0(e) + (f ^ (ab & bc)); bc = ab;
    w13 += s1(w11) + w6 + s0(w14);
    t = c + S1(h) + (b ^ (h & (a ^ b))) + 0xd5a79147 + w13; g += t; ab = d ^ e; c = t + S0(d) + (e ^ (ab & bc)); bc = ab;
    w14 += s1(w12) + w7 + s0(w15);
    t = b + S1(g) + (a ^ (g & (h ^ a))) + 0x06ca6351 + w14; f += t; ab = c ^ d; b = t + S0(c) + (d ^ (ab & bc)); bc = ab;
    w15 += s1(w13) + w8 + s0(w0);
    t = a + S1(f) + (h ^ (f & (g ^ h))) + 0x14292967 + w15; e += t; ab = b ^ c; a = t + S0(b) + (c ^ (ab & bc)); bc = ab;
    w0 += s1(w14) + w9 + s0(w1);
    t = h + S1(e) + (g ^ (e & (f ^ g))) + 0x27b70a85 + w0; d += t; ab = a ^ b; h = t + S0(a) + (b ^ (ab & bc)); bc = ab;
    w1 += s1(w15) + w10 + s0(w2);
    t = g + S1(d) + (f ^ (d & (e ^ f))) + 0x2e1b2138 + w1; c += t; ab = h ^ a; g = t + S0(h) + (a ^ (ab & bc)); bc = ab;
    w2 += s1(w0) + w11 + s0(w3);
    t = f + S1(c) + (e ^ (c & (d ^ e))) + 0x4d2c6dfc + w2; b += t; ab = g ^ h; f = t + S0(g) + (h ^ (ab & bc)); bc = ab;
    w3 += s1(w1) + w12 + s0(w4);
    t = e + S1(b) + (d ^ (b & (c ^ d))) + 0x53380d13 + w3; a += t; ab = f ^ g; e = t + S0(f) + (g ^ (ab & bc)); bc = ab;
    w4 += s1(w2) + w13 + s0(w5);
    t = d + S1(a) + (c ^ (a & (b ^ c))) + 0x650a7354 + w4; h += t; ab = e ^ f; d = t + S0(e) + (f ^ (ab & bc)); bc = ab;
    w5 += s1(w3) + w14 + s0(w6);
    t = c + S1(h) + (b ^ (h & (a ^ b))) + 0x766a0abb + w5; g += t; ab = d ^ e; c = t + S0(d) + (e ^ (ab & bc)); bc = ab;
    w6 += s1(w4) + w15 + s0(w7);
    t = b + S1(g) + (a ^ (g & (h ^ a))) + 0x81c2c92e + w6; f += t; ab = c ^ d; b = t + S0(c) + (d ^ (ab & bc)); bc = ab;
    w7 += s1(w5) + w0 + s0(w8);
    t = a + S1(f) + (h ^ (f & (g ^ h))) + 0x92722c85 + w7; e += t; ab = b ^ c; a = t + S0(b) + (c ^ (ab & bc)); bc = ab;
    w8 += s1(w6) + w1 + s0(w9);
    t = h + S1(e) + (g ^ (e & (f ^ g))) + 0xa2bfe8a1 + w8; d += t; ab = a ^ b; h = t + S0(a) + (b ^ (ab & bc)); bc = ab;
    w9 += s1(w7) + w2 + s0(w10);
    t = g + S1(d) + (f ^ (d & (e ^ f))) + 0xa81a664b + w9; c += t; ab = h ^ a; g = t + S0(h) + (a ^ (ab & bc)); bc = ab;
    w10 += s1(w8) + w3 + s0(w11);
    t = f + S1(c) + (e ^ (c & (d ^ e))) + 0xc24b8b70 + w10; b += t; ab = g ^ h; f = t + S0(g) + (h ^ (ab & bc)); bc = ab;
    w11 += s1(w9) + w4 + s0(w12);
    t = e + S1(b) + (d ^ (b & (c ^ d))) + 0xc76c51a3 + w11; a += t; ab = f ^ g; e = t + S0(f) + (g ^ (ab & bc)); bc = ab;
    w12 += s1(w10) + w5 + s0(w13);
    t = d + S1(a) + (c ^ (a & (b ^ c))) + 0xd192e819 + w12; h += t; ab = e ^ f; d = t + S0(e) + (f ^ (ab & bc)); bc = ab;
    w13 += s1(w11) + w6 + s0(w14);
    t = c + S1(h) + (b ^ (h & (a ^ b))) + 0xd6990624 + w13; g += t; ab = d ^ e; c = t + S0(d) + (e ^ (ab & bc)); bc = ab;
    w14 += s1(w12) + w7 + s0(w15);
    t = b + S1(g) + (a ^ (g & (h ^ a))) + 0xf40e3585 + w14; f += t; ab = c ^ d; b = t + S0(c) + (d ^ (ab & bc)); bc = ab;
    w15 += s1(w13) + w8 + s0(w0);
    t = a + S1(f) + (h ^ (f & (g ^ h))) + 0x106aa070 + w15; e += t; ab = b ^ c; a = t + S0(b) + (c ^ (ab & bc)); bc = ab;
    w0 += s1(w14) + w9 + s0(w1);
    t = h + S1(e) + (g ^ (e & (f ^ g))) + 0x19a4c116 + w0; d += t; ab = a ^ b; h = t + S0(a) + (b ^ (ab & bc)); bc = ab;
    w1 += s1(w15) + w10 + s0(w2);
    t = g + S1(d) + (f ^ (d & (e ^ f))) + 0x1e376c08 + w1; c += t; ab = h ^ a; g = t + S0(h) + (a ^ (ab & bc)); bc = ab;
    w2 += s1(w0) + w11 + s0(w3);
    t = f + S1(c) + (e ^ (c & (d ^ e))) + 0x2748774c + w2; b += t; ab = g ^ h; f = t + S0(g) + (h ^ (ab & bc)); bc = ab;
    w3 += s1(w1) + w12 + s0(w4);
    t = e + S1(b) + (d ^ (b & (c ^ d))) + 0x34b0bcb5 + w3; a += t; ab = f ^ g; e = t + S0(f) + (g ^ (ab & bc)); bc = ab;
    w4 += s1(w2) + w13 + s0(w5);
    t = d + S1(a) + (c ^ (a & (b ^ c))) + 0x391c0cb3 + w4; h += t; ab = e ^ f; d = t + S0(e) + (f ^ (ab & bc)); bc = ab;
    w5 += s1(w3) + w14 + s0(w6);
    t = c + S1(h) + (b ^ (h & (a ^ b))) + 0x4ed8aa4a + w5; g += t; ab = d ^ e; c = t + S0(d) + (e ^ (ab & bc)); bc = ab;
    w6 += s1(w4) + w15 + s0(w7);
    t = b + S1(g) + (a ^ (g & (h ^ a))) + 0x5b9cca4f + w6; f += t; ab = c ^ d; b = t + S0(c) + (d ^ (ab & bc)); bc = ab;
    w7 += s1(w5) + w0 + s0(w8);
    t = a + S1(f) + (h ^ (f & (g ^ h))) + 0x682e6ff3 + w7; e += t; ab = b ^ c; a = t + S0(b) + (c ^ (ab & bc)); bc = ab;
    w8 += s1(w6) + w1 + s0(w9);
    t = h + S1(e) + (g ^ (e & (f ^ g))) + 0x748f82ee + w8; d += t; ab = a ^ b; h = t + S0(a) + (b ^ (ab & bc)); bc = ab;
    w9 += s1(w7) + w2 + s0(w10);
    t = g + S1(d) + (f ^ (d & (e ^ f))) + 0x78a5636f + w9; c += t; ab = h ^ a; g = t + S0(h) + (a ^ (ab & bc)); bc = ab;
    w10 += s1(w8) + w3 + s0(w11);
    t = f + S1(c) + (e ^ (c & (d ^ e))) + 0x84c87814 + w10; b += t; ab = g ^ h; f = t + S0(g) + (h ^ (ab & bc)); bc = ab;
    w11 += s1(w9) + w4 + s0(w12);
    t = e + S1(b) + (d ^ (b & (c ^ d))) + 0x8cc70208 + w11; a += t; ab = f ^ g; e = t + S0(f) + (g ^ (ab & bc)); bc = ab;
    w12 += s1(w10) + w5 + s0(w13);
    t = d + S1(a) + (c ^ (a & (b ^ c))) + 0x90befffa + w12; h += t; ab = e ^ f; d = t + S0(e) + (f ^ (ab & bc)); bc = ab;
    w13 += s1(w11) + w6 + s0(w14);
    t = c + S1(h) + (b ^ (h & (a ^ b))) + 0xa4506ceb + w13; g += t; ab = d ^ e; c = t + S0(d) + (e ^ (ab & bc)); bc = ab;
    w14 += s1(w12) + w7 + s0(w15);
    t = b + S1(g) + (a ^ (g & (h ^ a))) + 0xbef9a3f7 + w14; f += t; ab = c ^ d; b = t + S0(c) + (d ^ (ab & bc)); bc = ab;
    w15 += s1(w13) + w8 + s0(w0);
    t = a + S1(f) + (h ^ (f & (g ^ h))) + 0xc67178f2 + w15; e += t; ab = b ^ c; a = t + S0(b) + (c ^ (ab & bc)); bc = ab;
    a = h0 += a; b = h1 += b; c = h2 += c; d = h3 += d; e = h4 += e; f = h5 += f; g = h6 += g; h = h7 += h;
  }
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

/** Digests `count` consecutive pieces of the input window (sizes in the sizes window). −1 if they overrun it. */
export function hashMany(count: u32): i32 {
  if (count > MAX_BATCH) return -1;
  let p = input;
  let end: u64 = 0;
  for (let i: u32 = 0; i < count; i++) end += load<u32>(sizes + (i << 2));
  if (end > <u64>WINDOW) return -1;
  save();
  for (let i: u32 = 0; i < count; i++) {
    const len = load<u32>(sizes + (i << 2));
    reset();
    const blocks = len >>> 6;
    compress(p, blocks);
    total = len;
    pendingLen = len & 63;
    memory.copy(pending, p + (blocks << 6), pendingLen);
    finish(output + (i << 5));
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
