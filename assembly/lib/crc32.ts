// CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320) as gzip uses it, slicing-by-16:
// sixteen 256-entry tables let one step fold sixteen input bytes with independent lookups.

const POLY: u32 = 0xedb88320;
/**
 * tables + k*1024 is the table for a byte k positions before the end of a 16-byte step. A static
 * segment rather than a reserved window: its address is then a compile-time constant that every
 * lookup carries as its immediate offset, leaving shift, mask and load per byte.
 */
const tables: usize = memory.data(16 * 256 * 4, 16);

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

/** Byte offsets, within one table, of the entries for the bytes of `w`. */
@inline function b0(w: u32): usize {
  return <usize>((w << 2) & 0x3fc);
}
@inline function b1(w: u32): usize {
  return <usize>((w >>> 6) & 0x3fc);
}
@inline function b2(w: u32): usize {
  return <usize>((w >>> 14) & 0x3fc);
}
@inline function b3(w: u32): usize {
  return <usize>((w >>> 22) & 0x3fc);
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
      load<u32>(b0(w0), tables + (15 << 10)) ^
      load<u32>(b1(w0), tables + (14 << 10)) ^
      load<u32>(b2(w0), tables + (13 << 10)) ^
      load<u32>(b3(w0), tables + (12 << 10)) ^
      load<u32>(b0(w1), tables + (11 << 10)) ^
      load<u32>(b1(w1), tables + (10 << 10)) ^
      load<u32>(b2(w1), tables + (9 << 10)) ^
      load<u32>(b3(w1), tables + (8 << 10)) ^
      load<u32>(b0(w2), tables + (7 << 10)) ^
      load<u32>(b1(w2), tables + (6 << 10)) ^
      load<u32>(b2(w2), tables + (5 << 10)) ^
      load<u32>(b3(w2), tables + (4 << 10)) ^
      load<u32>(b0(w3), tables + (3 << 10)) ^
      load<u32>(b1(w3), tables + (2 << 10)) ^
      load<u32>(b2(w3), tables + (1 << 10)) ^
      load<u32>(b3(w3), tables + (0 << 10));
    ptr += 16;
  }
  while (ptr < end) {
    c = (c >>> 8) ^ load<u32>(b0(c ^ load<u8>(ptr)), tables);
    ptr++;
  }
  return ~c;
}

/** The CRC-32 of `crc`'s message followed by one byte. */
export function crc32Byte(crc: u32, byte: u32): u32 {
  const c = ~crc;
  return ~((c >>> 8) ^ load<u32>(b0(c ^ byte), tables));
}
