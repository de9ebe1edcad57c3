import { randomBytes } from "node:crypto";
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { createFastCdc, createFixedChunker, FASTCDC_DEFAULTS } from "../../src/kernels/chunker.js";
import type { Chunker } from "../../src/kernels/kernel.js";
import { referenceFastCdc, type FastCdcParams } from "../helpers/fastcdc-reference.js";
import { ports } from "../helpers/kernels.js";

/** Chunk lengths from pushing `pieces` through `chunker`. */
function chunkLengths(chunker: Chunker, pieces: Uint8Array[]): number[] {
  const lengths: number[] = [];
  chunker.init((n) => lengths.push(n));
  for (const p of pieces) chunker.update(p);
  chunker.final();
  return lengths;
}

function splitAt(data: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => c % (data.length + 1)))].sort((a, b) => a - b);
  const pieces: Uint8Array[] = [];
  let at = 0;
  for (const p of [...points, data.length]) {
    pieces.push(data.subarray(at, p));
    at = p;
  }
  return pieces;
}

const small: FastCdcParams = { minSize: 256, avgSize: 1024, maxSize: 4096, level: 2 };
const defaults: FastCdcParams = { ...FASTCDC_DEFAULTS };

describe("FastCDC kernel vs the plain reference", () => {
  test("default sizes on 8 MiB of random data, whole and in window-crossing pushes", async () => {
    const data = randomBytes(8 << 20);
    const expected = referenceFastCdc(data, defaults);
    const chunker = await createFastCdc(ports);
    expect(chunkLengths(chunker, [data])).toEqual(expected);
    expect(chunkLengths(chunker, splitAt(data, [1, 3 << 20, (3 << 20) + 1, 7_000_001]))).toEqual(expected);
    // Averages between 32 and 128 KiB: content-defined cuts, not just forced max-size ones.
    expect(expected.length).toBeGreaterThan(64);
    expect(expected.length).toBeLessThan(256);
  });

  test("every level and odd min/max, on random data and every random split of pushes", async () => {
    for (const level of [1, 2, 3]) {
      const params = { minSize: 300, avgSize: 2048, maxSize: 7001, level };
      const chunker = await createFastCdc(ports, params);
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 60_000 }), fc.array(fc.nat(), { maxLength: 12 }), (data, cuts) => {
          expect(chunkLengths(chunker, splitAt(data, cuts))).toEqual(referenceFastCdc(data, params));
        }),
        { numRuns: 60 },
      );
    }
  });

  test("low-entropy data: runs of one byte hit max, then the reference still agrees", async () => {
    const data = new Uint8Array(50_000);
    data.fill(7, 20_000, 30_000);
    data.set(randomBytes(10_000), 40_000);
    const chunker = await createFastCdc(ports, small);
    const lengths = chunkLengths(chunker, [data]);
    expect(lengths).toEqual(referenceFastCdc(data, small));
    expect(lengths).toContain(small.maxSize);
  });

  test("every chunk but the last is within [min, max] and the lengths cover the input", async () => {
    const chunker = await createFastCdc(ports, small);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40_000 }), (data) => {
        const lengths = chunkLengths(chunker, [data]);
        expect(lengths.reduce((a, b) => a + b, 0)).toBe(data.length);
        for (const n of lengths.slice(0, -1)) {
          expect(n).toBeGreaterThanOrEqual(small.minSize);
          expect(n).toBeLessThanOrEqual(small.maxSize);
        }
        if (lengths.length > 0) expect(lengths.at(-1)).toBeGreaterThan(0);
      }),
      { numRuns: 100 },
    );
  });

  test("inserting bytes near the start of 64 MiB keeps >= 90% of later cut points (shifted)", async () => {
    const data = randomBytes(64 << 20);
    const inserted = randomBytes(1234);
    const at = 100_000;
    const edited = new Uint8Array(data.length + inserted.length);
    edited.set(data.subarray(0, at));
    edited.set(inserted, at);
    edited.set(data.subarray(at), at + inserted.length);
    const chunker = await createFastCdc(ports);
    const cutPoints = (lengths: number[]) => lengths.map(((sum) => (n: number) => (sum += n))(0));
    const before = cutPoints(chunkLengths(chunker, [data])).filter((p) => p > at);
    const after = new Set(cutPoints(chunkLengths(chunker, [edited])).map((p) => p - inserted.length));
    const kept = before.filter((p) => after.has(p)).length;
    expect(before.length).toBeGreaterThan(500);
    expect(kept / before.length).toBeGreaterThanOrEqual(0.9);
  });

  test("empty and tiny inputs never trap; empty streams report no chunk", async () => {
    const chunker = await createFastCdc(ports, small);
    expect(chunkLengths(chunker, [])).toEqual([]);
    expect(chunkLengths(chunker, [new Uint8Array(0), new Uint8Array(0)])).toEqual([]);
    for (let n = 1; n < 600; n += 37) {
      const data = randomBytes(n);
      const lengths = chunkLengths(chunker, [data]);
      expect(lengths).toEqual(referenceFastCdc(data, small));
      if (n <= small.minSize) expect(lengths).toEqual([n]);
    }
  });

  test("options out of range and misuse are typed errors", async () => {
    const bad: FastCdcParams[] = [
      { ...small, avgSize: 1000 },
      { ...small, minSize: 1024 },
      { ...small, maxSize: 1024 },
      { ...small, minSize: 8 },
      { ...small, maxSize: 2 ** 29 },
      { ...small, level: 0 },
      { ...small, level: 4 },
      { ...small, level: 1.5 },
      { ...small, minSize: Number.NaN },
    ];
    for (const options of bad) {
      await expect(createFastCdc(ports, options), JSON.stringify(options)).rejects.toMatchObject({ code: "INVALID_ARGUMENT" });
    }
    const chunker = await createFastCdc(ports, small);
    expect(() => chunker.update(new Uint8Array(1))).toThrow(expect.objectContaining({ code: "KERNEL_STATE" }));
    chunker.init(() => {});
    expect(() => chunker.update("abc" as never)).toThrow(expect.objectContaining({ code: "INVALID_ARGUMENT" }));
    chunker.final();
    expect(() => chunker.final()).toThrow(expect.objectContaining({ code: "KERNEL_STATE" }));
  });
});

describe("fixed-size chunker", () => {
  test("full chunks then the short last one, across any split of pushes", () => {
    fc.assert(
      fc.property(fc.nat(100_000), fc.array(fc.nat(), { maxLength: 8 }), fc.integer({ min: 12, max: 14 }), (length, cuts, bits) => {
        const size = 2 ** bits;
        const lengths = chunkLengths(createFixedChunker(size), splitAt(new Uint8Array(length), cuts));
        const full = Math.floor(length / size);
        expect(lengths).toEqual([...Array<number>(full).fill(size), ...(length % size ? [length % size] : [])]);
      }),
      { numRuns: 100 },
    );
  });

  test("chunk sizes must be powers of two from 4 KiB to 16 MiB", () => {
    for (const size of [0, 2048, 5000, 32 << 20, Number.NaN, 4096.5]) {
      expect(() => createFixedChunker(size)).toThrow(expect.objectContaining({ code: "INVALID_ARGUMENT" }));
    }
    expect(chunkLengths(createFixedChunker(16 << 20), [new Uint8Array(17 << 20)])).toEqual([16 << 20, 1 << 20]);
  });
});
