// A deliberately simple FastCDC (Xia et al., TPDS 2020) to check the wasm kernel against: the
// whole input at once, one byte at a time, the gear table rebuilt from its documented generator.

export interface FastCdcParams {
  minSize: number;
  avgSize: number;
  maxSize: number;
  level: number;
}

/** gear[i] = fmix32((i + 1) * 0x9E3779B9), MurmurHash3's finalizer over a golden-ratio Weyl sequence. */
export function gearTable(): Uint32Array {
  const gear = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let z = Math.imul(i + 1, 0x9e3779b9) >>> 0;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    gear[i] = (z ^ (z >>> 16)) >>> 0;
  }
  return gear;
}

/** `bits` one-bits ending at bit 30. */
export function maskOf(bits: number): number {
  return ((2 ** bits - 1) * 2 ** (31 - bits)) >>> 0;
}

/** Lengths of the chunks FastCDC cuts `data` into. */
export function referenceFastCdc(data: Uint8Array, { minSize, avgSize, maxSize, level }: FastCdcParams): number[] {
  const gear = gearTable();
  const bits = Math.log2(avgSize);
  const maskS = maskOf(bits + level);
  const maskL = maskOf(bits - level);
  const lengths: number[] = [];
  let start = 0;
  while (start < data.length) {
    const remaining = data.length - start;
    let length = Math.min(remaining, maxSize);
    let hash = 0;
    // The first minSize bytes are skipped, never hashed.
    for (let i = minSize; i < Math.min(remaining, maxSize); i++) {
      hash = (hash * 2 + gear[data[start + i]!]!) >>> 0;
      const mask = i < avgSize ? maskS : maskL;
      if ((hash & mask) === 0) {
        length = i + 1;
        break;
      }
    }
    lengths.push(length);
    start += length;
  }
  return lengths;
}
