/**
 * gzip for the bootstrap layer. It must be tar+gzip (nydusify's convention), and its bytes must be
 * identical in every runtime; CompressionStream is backed by different zlib builds per runtime,
 * so strata compresses the (small) bootstrap tar itself.
 */

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

export function crc32(data: Uint8Array, crc = 0): number {
  let c = ~crc >>> 0;
  for (let i = 0; i < data.length; i++) c = CRC_TABLE[(c ^ data[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

/**
 * A gzip member holding one deflate block with the fixed Huffman codes (RFC 1951 3.2.6) and
 * greedy LZ77 matches from hash chains. Fixed codes need no code tables, and a bootstrap, mostly
 * inode records, names and chunk records with repeating fields, still shrinks about threefold.
 */
export function gzip(data: Uint8Array): Uint8Array {
  const out = new BitWriter(data.length + 64);
  // ID1 ID2 CM=8 FLG=0 MTIME=0 XFL=0 OS=255 (unknown): no timestamps, same bytes everywhere.
  for (const b of [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255]) out.bits(b, 8);
  out.bits(1, 1); // BFINAL
  out.bits(1, 2); // BTYPE=01: fixed codes
  deflateFixed(data, out);
  out.code(256, 7); // end of block: 7-bit code 0000000
  out.align();
  out.bits(crc32(data), 32);
  out.bits(data.length >>> 0, 32);
  return out.bytes();
}

const WINDOW = 1 << 15;
const MIN_MATCH = 3;
const MAX_MATCH = 258;
/** Candidates tried per position: longer chains find little more in metadata. */
const MAX_CHAIN = 48;
const HASH_BITS = 15;

const LENGTH_BASE = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258];
const LENGTH_EXTRA = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0];
const DIST_BASE = [1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577];
const DIST_EXTRA = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13];

function deflateFixed(data: Uint8Array, out: BitWriter): void {
  const head = new Int32Array(1 << HASH_BITS).fill(-1);
  const prev = new Int32Array(WINDOW);
  const hashAt = (i: number) => (((data[i]! << 16) | (data[i + 1]! << 8) | data[i + 2]!) * 0x9e3779b1) >>> (32 - HASH_BITS);
  const insert = (i: number) => {
    if (i + MIN_MATCH > data.length) return;
    const h = hashAt(i);
    prev[i & (WINDOW - 1)] = head[h]!;
    head[h] = i;
  };
  let i = 0;
  while (i < data.length) {
    let bestLength = 0;
    let bestDistance = 0;
    if (i + MIN_MATCH <= data.length) {
      const limit = Math.min(MAX_MATCH, data.length - i);
      let candidate = head[hashAt(i)]!;
      for (let chain = 0; candidate >= 0 && i - candidate <= WINDOW - 1 && chain < MAX_CHAIN; chain++) {
        if (data[candidate + bestLength] === data[i + bestLength]) {
          let n = 0;
          while (n < limit && data[candidate + n] === data[i + n]) n++;
          if (n > bestLength) {
            bestLength = n;
            bestDistance = i - candidate;
            if (n === limit) break;
          }
        }
        const next = prev[candidate & (WINDOW - 1)]!;
        if (next >= candidate) break; // the slot was reused by a newer position
        candidate = next;
      }
    }
    if (bestLength >= MIN_MATCH) {
      writeMatch(out, bestLength, bestDistance);
      for (const end = i + bestLength; i < end; i++) insert(i);
    } else {
      writeLiteral(out, data[i]!);
      insert(i++);
    }
  }
}

function writeLiteral(out: BitWriter, byte: number): void {
  if (byte < 144) out.code(0x30 + byte, 8);
  else out.code(0x190 + byte - 144, 9);
}

function writeMatch(out: BitWriter, length: number, distance: number): void {
  let l = 0;
  while (l < 28 && LENGTH_BASE[l + 1]! <= length) l++;
  const symbol = 257 + l;
  if (symbol < 280) out.code(symbol - 256, 7);
  else out.code(0xc0 + symbol - 280, 8);
  out.bits(length - LENGTH_BASE[l]!, LENGTH_EXTRA[l]!);
  let d = 0;
  while (d < 29 && DIST_BASE[d + 1]! <= distance) d++;
  out.code(d, 5);
  out.bits(distance - DIST_BASE[d]!, DIST_EXTRA[d]!);
}

/** Bits packed least significant first, as deflate stores everything but Huffman codes. */
class BitWriter {
  private buffer: Uint8Array;
  private at = 0;
  private acc = 0;
  private count = 0;

  constructor(capacity: number) {
    this.buffer = new Uint8Array(capacity);
  }

  /** `n` (≤ 32) low bits of `value`, least significant first. */
  bits(value: number, n: number): void {
    for (let k = 0; k < n; k += 16) {
      const take = Math.min(16, n - k);
      this.acc |= ((value >>> k) & ((1 << take) - 1)) << this.count;
      this.count += take;
      while (this.count >= 8) {
        this.push(this.acc & 0xff);
        this.acc >>>= 8;
        this.count -= 8;
      }
    }
  }

  /** A Huffman code of `n` bits: stored most significant bit first. */
  code(value: number, n: number): void {
    let reversed = 0;
    for (let k = 0; k < n; k++) reversed |= ((value >>> k) & 1) << (n - 1 - k);
    this.bits(reversed, n);
  }

  align(): void {
    if (this.count > 0) this.bits(0, 8 - this.count);
  }

  bytes(): Uint8Array {
    return this.buffer.slice(0, this.at);
  }

  private push(byte: number): void {
    if (this.at === this.buffer.length) {
      const grown = new Uint8Array(this.buffer.length * 2);
      grown.set(this.buffer);
      this.buffer = grown;
    }
    this.buffer[this.at++] = byte;
  }
}
