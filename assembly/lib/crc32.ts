// CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320) as gzip uses it, slicing-by-16:
// sixteen 256-entry tables let one step fold sixteen input bytes with independent lookups.

import { reserve } from "./window";

const POLY: u32 = 0xedb88320;
/**
 * tables + k*1024 is the table for a byte k positions before the end of a 16-byte step; the
 * loads below carry k*1024 as their immediate offset.
 */
const tables = reserve(16 * 256 * 4);

function buildTables(): void {
  for (let i: u32 = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ POLY : c >>> 1;
    store<u32>(tables + (<usize>i << 2), c);
  }
  for (let i: usize = 0; i < 256; i++) {
    let c = load<u32>(tables + (i << 2));
    for (let t: usize = 1; t < 16; t++) {
      c = (c >>> 8) ^ load<u32>(tables + ((<usize>c & 0xff) << 2));
      store<u32>(tables + (t << 10) + (i << 2), c);
    }
  }
}
buildTables();

/** Where byte's entry of table 0 is. */
@inline function slot(byte: u32): usize {
  return tables + (<usize>(byte & 0xff) << 2);
}

/** The CRC-32 of `crc`'s message followed by the `len` bytes at `ptr` (start with crc = 0). */
export function crc32Update(crc: u32, ptr: usize, len: usize): u32 {
  let c = ~crc;
  const end = ptr + len;
  while (end - ptr >= 16) {
    const w0 = load<u32>(ptr) ^ c;
    const w1 = load<u32>(ptr, 4);
    const w2 = load<u32>(ptr, 8);
    const w3 = load<u32>(ptr, 12);
    c =
      load<u32>(slot(w0), 15 << 10) ^
      load<u32>(slot(w0 >>> 8), 14 << 10) ^
      load<u32>(slot(w0 >>> 16), 13 << 10) ^
      load<u32>(slot(w0 >>> 24), 12 << 10) ^
      load<u32>(slot(w1), 11 << 10) ^
      load<u32>(slot(w1 >>> 8), 10 << 10) ^
      load<u32>(slot(w1 >>> 16), 9 << 10) ^
      load<u32>(slot(w1 >>> 24), 8 << 10) ^
      load<u32>(slot(w2), 7 << 10) ^
      load<u32>(slot(w2 >>> 8), 6 << 10) ^
      load<u32>(slot(w2 >>> 16), 5 << 10) ^
      load<u32>(slot(w2 >>> 24), 4 << 10) ^
      load<u32>(slot(w3), 3 << 10) ^
      load<u32>(slot(w3 >>> 8), 2 << 10) ^
      load<u32>(slot(w3 >>> 16), 1 << 10) ^
      load<u32>(slot(w3 >>> 24));
    ptr += 16;
  }
  while (ptr < end) {
    c = (c >>> 8) ^ load<u32>(slot(c ^ load<u8>(ptr)));
    ptr++;
  }
  return ~c;
}

/** The CRC-32 of `crc`'s message followed by one byte. */
export function crc32Byte(crc: u32, byte: u32): u32 {
  const c = ~crc;
  return ~((c >>> 8) ^ load<u32>(slot(c ^ byte)));
}
