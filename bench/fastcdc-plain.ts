// FastCDC in plain TypeScript, written for speed as a fair peer for the wasm kernel: the same
// gear table, masks and cut rules (so the same cut points), with the hot loops kept to local
// variables, typed arrays and 32-bit integer arithmetic.

export interface PlainFastCdcParams {
  minSize: number;
  avgSize: number;
  maxSize: number;
  level: number;
}

/** gear[i] = fmix32((i + 1) * 0x9E3779B9), as in assembly/chunker.ts. */
function gearTable(): Int32Array {
  const gear = new Int32Array(256);
  for (let i = 0; i < 256; i++) {
    let z = Math.imul(i + 1, 0x9e3779b9);
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    gear[i] = z ^ (z >>> 16);
  }
  return gear;
}

/** `bits` one-bits ending at bit 30 (as a signed 32-bit value). */
const maskOf = (bits: number) => ((2 ** bits - 1) * 2 ** (31 - bits)) | 0;

/** Returns a function that reports the chunk lengths of one whole buffer. */
export function plainFastCdc({ minSize, avgSize, maxSize, level }: PlainFastCdcParams) {
  const gear = gearTable();
  const bits = Math.log2(avgSize);
  const maskS = maskOf(bits + level);
  const maskL = maskOf(bits - level);
  return (data: Uint8Array, onChunk: (length: number) => void): void => {
    const n = data.length;
    let start = 0;
    while (start < n) {
      const remaining = n - start;
      if (remaining <= minSize) {
        onChunk(remaining);
        return;
      }
      const normalEnd = start + Math.min(remaining, avgSize);
      const end = start + Math.min(remaining, maxSize);
      let h = 0;
      let i = start + minSize;
      let cut = end;
      for (; i < normalEnd; i++) {
        h = ((h << 1) + gear[data[i]!]!) | 0;
        if ((h & maskS) === 0) break;
      }
      if (i < normalEnd) cut = i + 1;
      else {
        for (; i < end; i++) {
          h = ((h << 1) + gear[data[i]!]!) | 0;
          if ((h & maskL) === 0) break;
        }
        if (i < end) cut = i + 1;
      }
      onChunk(cut - start);
      start = cut;
    }
  };
}
