// Streaming XXH64 (zstd's content checksum is its low 32 bits with seed 0).
// The state lives in caller-owned memory (XXH64_STATE_SIZE bytes, 8-byte aligned) so kernels can
// keep it in a reserved window and nothing is allocated per call.

const P1: u64 = 11400714785074694791;
const P2: u64 = 14029467366897019727;
const P3: u64 = 1609587929392839161;
const P4: u64 = 9650029242287828579;
const P5: u64 = 2870177450012600261;

// State layout: four lane accumulators, total length, buffered tail length, 32-byte tail buffer.
const V1 = 0;
const V2 = 8;
const V3 = 16;
const V4 = 24;
const TOTAL = 32;
const BUFFERED = 40;
const BUFFER = 48;
export const XXH64_STATE_SIZE: usize = 80;

@inline function round(acc: u64, lane: u64): u64 {
  return rotl(acc + lane * P2, 31) * P1;
}

@inline function mergeRound(acc: u64, lane: u64): u64 {
  return (acc ^ round(0, lane)) * P1 + P4;
}

export function xxh64Reset(state: usize, seed: u64): void {
  store<u64>(state, seed + P1 + P2, V1);
  store<u64>(state, seed + P2, V2);
  store<u64>(state, seed, V3);
  store<u64>(state, seed - P1, V4);
  store<u64>(state, 0, TOTAL);
  store<u32>(state, 0, BUFFERED);
}

/** Consumes whole 32-byte stripes from `ptr`; returns how many bytes it consumed. */
function stripes(state: usize, ptr: usize, len: usize): usize {
  let v1 = load<u64>(state, V1);
  let v2 = load<u64>(state, V2);
  let v3 = load<u64>(state, V3);
  let v4 = load<u64>(state, V4);
  const end = ptr + (len & ~<usize>31);
  let p = ptr;
  while (p < end) {
    v1 = round(v1, load<u64>(p));
    v2 = round(v2, load<u64>(p, 8));
    v3 = round(v3, load<u64>(p, 16));
    v4 = round(v4, load<u64>(p, 24));
    p += 32;
  }
  store<u64>(state, v1, V1);
  store<u64>(state, v2, V2);
  store<u64>(state, v3, V3);
  store<u64>(state, v4, V4);
  return p - ptr;
}

export function xxh64Update(state: usize, ptr: usize, len: usize): void {
  store<u64>(state, load<u64>(state, TOTAL) + <u64>len, TOTAL);
  let buffered = <usize>load<u32>(state, BUFFERED);
  if (buffered + len < 32) {
    memory.copy(state + BUFFER + buffered, ptr, len);
    store<u32>(state, <u32>(buffered + len), BUFFERED);
    return;
  }
  if (buffered > 0) {
    const fill: usize = 32 - buffered;
    memory.copy(state + BUFFER + buffered, ptr, fill);
    stripes(state, state + BUFFER, 32);
    ptr += fill;
    len -= fill;
  }
  const done = stripes(state, ptr, len);
  const rest = len - done;
  memory.copy(state + BUFFER, ptr + done, rest);
  store<u32>(state, <u32>rest, BUFFERED);
}

export function xxh64Digest(state: usize): u64 {
  const total = load<u64>(state, TOTAL);
  let h: u64;
  if (total >= 32) {
    const v1 = load<u64>(state, V1);
    const v2 = load<u64>(state, V2);
    const v3 = load<u64>(state, V3);
    const v4 = load<u64>(state, V4);
    h = rotl(v1, 1) + rotl(v2, 7) + rotl(v3, 12) + rotl(v4, 18);
    h = mergeRound(h, v1);
    h = mergeRound(h, v2);
    h = mergeRound(h, v3);
    h = mergeRound(h, v4);
  } else {
    h = load<u64>(state, V3) + P5; // V3 holds the seed until the first stripe
  }
  h += total;
  let p = state + BUFFER;
  const end = p + <usize>load<u32>(state, BUFFERED);
  while (p + 8 <= end) {
    h = rotl(h ^ round(0, load<u64>(p)), 27) * P1 + P4;
    p += 8;
  }
  if (p + 4 <= end) {
    h = rotl(h ^ (<u64>load<u32>(p) * P1), 23) * P2 + P3;
    p += 4;
  }
  while (p < end) {
    h = rotl(h ^ (<u64>load<u8>(p) * P5), 11) * P1;
    p++;
  }
  h ^= h >> 33;
  h *= P2;
  h ^= h >> 29;
  h *= P3;
  h ^= h >> 32;
  return h;
}
