// SHA-256 (FIPS 180-4): streaming, one-shot and batch digests over a static input window.
import { reserve } from "./lib/window";

const WINDOW: u32 = 1 << 20;
const MAX_BATCH: u32 = 4096;

const input = reserve(WINDOW);
const output = reserve(32 * MAX_BATCH);
const sizes = reserve(4 * MAX_BATCH);
const pending = reserve(64); // a partial block carried between updates
const schedule = reserve(64 * 4);
const saved = reserve(64 + 48); // the stream's state while a batch runs
const K = memory.data<u32>([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);

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

/** Compresses `blocks` 64-byte blocks at `p` into the state. */
function compress(p: usize, blocks: usize): void {
  let a0 = h0, b0 = h1, c0 = h2, d0 = h3, e0 = h4, f0 = h5, g0 = h6, k0 = h7;
  for (let n: usize = 0; n < blocks; n++, p += 64) {
    for (let i: usize = 0; i < 16; i++) store<u32>(schedule + (i << 2), bswap<u32>(load<u32>(p + (i << 2))));
    for (let i: usize = 16; i < 64; i++) {
      const w15 = load<u32>(schedule + ((i - 15) << 2));
      const w2 = load<u32>(schedule + ((i - 2) << 2));
      store<u32>(schedule + (i << 2), s1(w2) + load<u32>(schedule + ((i - 7) << 2)) + s0(w15) + load<u32>(schedule + ((i - 16) << 2)));
    }
    let a = a0, b = b0, c = c0, d = d0, e = e0, f = f0, g = g0, h = k0;
    for (let i: usize = 0; i < 64; i++) {
      const t1 = h + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + load<u32>(K + (i << 2)) + load<u32>(schedule + (i << 2));
      const t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
      h = g; g = f; f = e; e = d + t1; d = c; c = b; b = a; a = t1 + t2;
    }
    a0 += a; b0 += b; c0 += c; d0 += d; e0 += e; f0 += f; g0 += g; k0 += h;
  }
  h0 = a0; h1 = b0; h2 = c0; h3 = d0; h4 = e0; h5 = f0; h6 = g0; h7 = k0;
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
