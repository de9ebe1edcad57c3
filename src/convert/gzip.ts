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
  out.bits(LIT_CODE[256]!, LIT_BITS[256]!); // end of block
  out.align();
  const crc = crc32(data);
  out.bits(crc & 0xffff, 16);
  out.bits(crc >>> 16, 16);
  out.bits(data.length & 0xffff, 16);
  out.bits((data.length >>> 16) & 0xffff, 16);
  return out.bytes();
}

const WINDOW = 1 << 15;
const MIN_MATCH = 3;
const MAX_MATCH = 258;
/** Candidates tried per position, and a match long enough to stop looking: metadata gains little beyond. */
const MAX_CHAIN = 16;
const NICE_MATCH = 64;
const MAX_INSERT = 128;
const HASH_BITS = 15;

const LENGTH_BASE = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258];
const LENGTH_EXTRA = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0];
const DIST_BASE = [1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577];
const DIST_EXTRA = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13];

/** Huffman codes are sent most significant bit first: stored here already reversed. */
function reverse(code: number, bits: number): number {
  let r = 0;
  for (let k = 0; k < bits; k++) r |= ((code >>> k) & 1) << (bits - 1 - k);
  return r;
}

// The fixed literal/length code (RFC 1951 3.2.6) and the 5-bit distance code.
const LIT_CODE = new Uint16Array(288);
const LIT_BITS = new Uint8Array(288);
for (let v = 0; v < 288; v++) {
  const [code, bits] = v < 144 ? [0x30 + v, 8] : v < 256 ? [0x190 + v - 144, 9] : v < 280 ? [v - 256, 7] : [0xc0 + v - 280, 8];
  LIT_CODE[v] = reverse(code, bits);
  LIT_BITS[v] = bits;
}
const DIST_CODE = Uint8Array.from({ length: 30 }, (_, d) => reverse(d, 5));
/** Length 3..258 → its length code index; distance 1..32768 → its distance code (by table, not search). */
const LENGTH_INDEX = new Uint8Array(MAX_MATCH + 1);
for (let l = 0; l < 29; l++) for (let n = LENGTH_BASE[l]!; n <= MAX_MATCH && (l === 28 || n < LENGTH_BASE[l + 1]!); n++) LENGTH_INDEX[n] = l;
const DIST_INDEX = new Uint8Array(WINDOW + 1);
for (let d = 0; d < 30; d++) for (let n = DIST_BASE[d]!; n <= WINDOW && (d === 29 || n < DIST_BASE[d + 1]!); n++) DIST_INDEX[n] = d;

function deflateFixed(data: Uint8Array, out: BitWriter): void {
  const head = new Int32Array(1 << HASH_BITS).fill(-1);
  const prev = new Int32Array(WINDOW);
  const end = data.length;
  const hashAt = (i: number) => Math.imul((data[i]! << 16) | (data[i + 1]! << 8) | data[i + 2]!, 0x9e3779b1) >>> (32 - HASH_BITS);
  const insert = (i: number) => {
    if (i + MIN_MATCH > end) return;
    const h = hashAt(i);
    prev[i & (WINDOW - 1)] = head[h]!;
    head[h] = i;
  };
  let i = 0;
  while (i < end) {
    let bestLength = 0;
    let bestDistance = 0;
    if (i + MIN_MATCH <= end) {
      const limit = Math.min(MAX_MATCH, end - i);
      let candidate = head[hashAt(i)]!;
      // Positions inserted are all below i, so a chain only goes back and stops at -1 or the window's edge.
      for (let chain = 0; candidate >= 0 && i - candidate < WINDOW && chain < MAX_CHAIN; chain++) {
        if (data[candidate + bestLength] === data[i + bestLength]) {
          let n = 0;
          while (n < limit && data[candidate + n] === data[i + n]) n++;
          if (n > bestLength) {
            bestLength = n;
            bestDistance = i - candidate;
            if (n >= NICE_MATCH) break;
          }
        }
        candidate = prev[candidate & (WINDOW - 1)]!;
      }
    }
    if (bestLength >= MIN_MATCH) {
      const l = LENGTH_INDEX[bestLength]!;
      out.bits(LIT_CODE[257 + l]!, LIT_BITS[257 + l]!);
      out.bits(bestLength - LENGTH_BASE[l]!, LENGTH_EXTRA[l]!);
      const d = DIST_INDEX[bestDistance]!;
      out.bits(DIST_CODE[d]!, 5);
      out.bits(bestDistance - DIST_BASE[d]!, DIST_EXTRA[d]!);
      // Positions inside a long match are left out of the chains, as zlib's faster levels do.
      if (bestLength <= MAX_INSERT) for (const stop = i + bestLength; i < stop; i++) insert(i);
      else i += bestLength;
    } else {
      out.bits(LIT_CODE[data[i]!]!, LIT_BITS[data[i]!]!);
      insert(i++);
    }
  }
}

/** Bits packed least significant first, as deflate stores everything (Huffman codes come reversed). */
class BitWriter {
  private buffer: Uint8Array;
  private at = 0;
  private acc = 0;
  private count = 0;

  constructor(capacity: number) {
    this.buffer = new Uint8Array(capacity);
  }

  /** The `n` (≤ 16) low bits of `value`. */
  bits(value: number, n: number): void {
    this.acc |= value << this.count;
    this.count += n;
    while (this.count >= 8) {
      if (this.at === this.buffer.length) this.grow();
      this.buffer[this.at++] = this.acc & 0xff;
      this.acc >>>= 8;
      this.count -= 8;
    }
  }

  align(): void {
    if (this.count > 0) this.bits(0, 8 - this.count);
  }

  bytes(): Uint8Array {
    return this.buffer.slice(0, this.at);
  }

  private grow(): void {
    const grown = new Uint8Array(this.buffer.length * 2);
    grown.set(this.buffer);
    this.buffer = grown;
  }
}
