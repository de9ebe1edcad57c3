import { describe, expect, it } from "vitest";
import { isStrataError } from "../../src/errors.js";
import { createLz4 } from "../../src/kernels/lz4.js";
import { ports } from "../helpers/kernels.js";

/** Deterministic PRNG (mulberry32) so every run fuzzes the same inputs. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A plain byte-at-a-time LZ4 block decoder written straight from the format description: the
 * oracle. Returns undefined where the block is malformed or does not decode to exactly `size`.
 */
function referenceDecode(src: Uint8Array, size: number): Uint8Array | undefined {
  const out = new Uint8Array(size);
  let ip = 0;
  let op = 0;
  const readLength = (base: number): number | undefined => {
    let len = base;
    if (base !== 15) return len;
    for (;;) {
      if (ip >= src.length) return undefined;
      const b = src[ip++]!;
      len += b;
      if (b !== 255) return len;
    }
  };
  for (;;) {
    if (ip >= src.length) return undefined;
    const token = src[ip++]!;
    const lit = readLength(token >> 4);
    if (lit === undefined || ip + lit > src.length || op + lit > size) return undefined;
    for (let i = 0; i < lit; i++) out[op++] = src[ip++]!;
    if (ip === src.length) return op === size ? out : undefined;
    if (ip + 2 > src.length) return undefined;
    const offset = src[ip]! | (src[ip + 1]! << 8);
    ip += 2;
    if (offset === 0 || offset > op) return undefined;
    const m = readLength(token & 15);
    if (m === undefined || op + m + 4 > size) return undefined;
    for (let i = 0; i < m + 4; i++, op++) out[op] = out[op - offset]!;
  }
}

/** Letters with frequent back-references (runs of 4..19 bytes from up to 2000 back). */
function textLike(size: number, next: () => number): Uint8Array {
  const alphabet = "abcdefgh \n/._-0123";
  const out = new Uint8Array(size);
  for (let i = 0; i < size; ) {
    if (i > 32 && next() < 0.5) {
      const distance = 1 + Math.floor(next() * Math.min(i, 2000));
      for (let n = 4 + Math.floor(next() * 16); n > 0 && i < size; n--, i++) out[i] = out[i - distance]!;
    } else {
      out[i++] = alphabet.charCodeAt(Math.floor(next() * alphabet.length));
    }
  }
  return out;
}

describe("lz4 decompress fuzzing", () => {
  it("agrees with a reference decoder on 12 000 mutated blocks, or throws CORRUPT_DATA", async () => {
    const lz4 = await createLz4(ports);
    const next = prng(0x5eed);
    const seeds: { block: Uint8Array; size: number }[] = [];
    for (const size of [200, 700, 3000, 20_000, 70_000]) {
      const data = textLike(size, next);
      seeds.push({ block: lz4.compress(data)!.slice(), size });
    }
    let decoded = 0;
    let rejected = 0;
    for (let round = 0; round < 12_000; round++) {
      const seed = seeds[round % seeds.length]!;
      const input = mutate(seed.block, next);
      const roll = next();
      const size = roll < 0.7 ? seed.size : roll < 0.85 ? Math.floor(next() * seed.size * 2) : seed.size + Math.floor(next() * 5) - 2;
      const expected = referenceDecode(input, size);
      try {
        const got = lz4.decompress(input, size);
        expect(expected, `round ${round}: decoded a block the reference rejects`).toBeDefined();
        expect(Buffer.compare(got, expected!), `round ${round}`).toBe(0);
        decoded++;
      } catch (e) {
        if (!isStrataError(e, "CORRUPT_DATA")) throw e;
        expect(expected, `round ${round}: rejected a block the reference decodes`).toBeUndefined();
        rejected++;
      }
    }
    expect(decoded).toBeGreaterThan(100);
    expect(rejected).toBeGreaterThan(1000);
    // The kernel still works after all that.
    const data = textLike(50_000, next);
    expect(Buffer.compare(lz4.decompress(lz4.compress(data)!.slice(), data.length), data)).toBe(0);
  });

  it("rejects random garbage with CORRUPT_DATA or decodes it like the reference (2 000 inputs)", async () => {
    const lz4 = await createLz4(ports);
    const next = prng(42);
    for (let round = 0; round < 2000; round++) {
      const input = new Uint8Array(Math.floor(next() * 64));
      for (let i = 0; i < input.length; i++) input[i] = Math.floor(next() * 256);
      const size = Math.floor(next() * 300);
      const expected = referenceDecode(input, size);
      try {
        expect(Buffer.compare(lz4.decompress(input, size), expected!)).toBe(0);
      } catch (e) {
        if (!isStrataError(e, "CORRUPT_DATA")) throw e;
        expect(expected).toBeUndefined();
      }
    }
  });
});

/** One to four random edits: bit flips, byte overwrites, truncation, insertion, deletion. */
function mutate(block: Uint8Array, next: () => number): Uint8Array {
  let out = block.slice();
  const edits = 1 + Math.floor(next() * 4);
  for (let e = 0; e < edits; e++) {
    const at = Math.floor(next() * out.length);
    const kind = Math.floor(next() * 6);
    if (kind === 0) out[at]! ^= 1 << Math.floor(next() * 8);
    else if (kind === 1) out[at] = Math.floor(next() * 256);
    else if (kind === 2) out[at] = next() < 0.5 ? 0xff : 0x0f;
    else if (kind === 3) out = out.slice(0, at);
    else if (kind === 4) {
      const bigger = new Uint8Array(out.length + 1);
      bigger.set(out.subarray(0, at));
      bigger[at] = Math.floor(next() * 256);
      bigger.set(out.subarray(at), at + 1);
      out = bigger;
    } else {
      out = new Uint8Array([...out.subarray(0, at), ...out.subarray(at + 1)]);
    }
  }
  return out;
}
