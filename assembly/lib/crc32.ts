// CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320) as gzip uses it, slicing-by-8: eight
// 256-entry tables let one step fold eight input bytes with eight independent lookups.

import { reserve } from "./window";

const POLY: u32 = 0xedb88320;
/** tables + k*1024 is the table for a byte k positions before the end of an 8-byte step. */
const tables = reserve(8 * 256 * 4);

function buildTables(): void {
  for (let i: u32 = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ POLY : c >>> 1;
    store<u32>(tables + (<usize>i << 2), c);
  }
  for (let i: usize = 0; i < 256; i++) {
    let c = load<u32>(tables + (i << 2));
    for (let t: usize = 1; t < 8; t++) {
      c = (c >>> 8) ^ load<u32>(tables + ((<usize>c & 0xff) << 2));
      store<u32>(tables + (t << 10) + (i << 2), c);
    }
  }
}
buildTables();

@inline function entry(t: usize, byte: u32): u32 {
  return load<u32>(tables + (t << 10) + (<usize>(byte & 0xff) << 2));
}

/** The CRC-32 of `crc`'s message followed by the `len` bytes at `ptr` (start with crc = 0). */
export function crc32Update(crc: u32, ptr: usize, len: usize): u32 {
  let c = ~crc;
  const end = ptr + len;
  while (end - ptr >= 8) {
    const lo = load<u32>(ptr) ^ c;
    const hi = load<u32>(ptr, 4);
    c =
      entry(7, lo) ^
      entry(6, lo >>> 8) ^
      entry(5, lo >>> 16) ^
      entry(4, lo >>> 24) ^
      entry(3, hi) ^
      entry(2, hi >>> 8) ^
      entry(1, hi >>> 16) ^
      entry(0, hi >>> 24);
    ptr += 8;
  }
  while (ptr < end) {
    c = (c >>> 8) ^ entry(0, c ^ load<u8>(ptr));
    ptr++;
  }
  return ~c;
}

/** The CRC-32 of `crc`'s message followed by one byte. */
export function crc32Byte(crc: u32, byte: u32): u32 {
  const c = ~crc;
  return ~((c >>> 8) ^ entry(0, c ^ byte));
}
