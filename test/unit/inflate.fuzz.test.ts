import { constants, deflateRawSync, deflateSync, gunzipSync, gzipSync, inflateRawSync, inflateSync, type ZlibOptions } from "node:zlib";
import { describe, expect, it } from "vitest";
import { isStrataError } from "../../src/errors.js";
import { createInflate, type InflateFormat } from "../../src/kernels/inflate.js";
import type { ByteTransform } from "../../src/kernels/kernel.js";
import { ports } from "../helpers/kernels.js";

const MAX_OUTPUT = 1 << 20;
const CASES = 12_000;

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

const compress: Record<InflateFormat, (d: Uint8Array, o: ZlibOptions) => Buffer> = { gzip: gzipSync, zlib: deflateSync, raw: deflateRawSync };
const oracle: Record<InflateFormat, (d: Uint8Array, o: ZlibOptions) => Buffer> = { gzip: gunzipSync, zlib: inflateSync, raw: inflateRawSync };

/** Small valid streams of every format: text, binary and runs, several levels and strategies. */
function seeds(rand: () => number): { format: InflateFormat; z: Uint8Array }[] {
  const words = ["usr", "lib", "bin", "the", "layer", "\n", "0000", "{}", "tar"];
  const text = new TextEncoder().encode(Array.from({ length: 600 }, () => words[Math.floor(rand() * words.length)]).join(" "));
  const binary = new Uint8Array(2500).map((_, i) => (rand() < 0.3 ? 0 : (i * 7) & 0x3f));
  const runs = new Uint8Array(3000).map((_, i) => (i >> 6) & 3);
  const out: { format: InflateFormat; z: Uint8Array }[] = [];
  for (const format of ["gzip", "zlib", "raw"] as const) {
    for (const data of [text, binary, runs]) {
      for (const [level, strategy] of [
        [1, constants.Z_DEFAULT_STRATEGY],
        [9, constants.Z_DEFAULT_STRATEGY],
        [6, constants.Z_FIXED],
        [6, constants.Z_HUFFMAN_ONLY],
        [6, constants.Z_RLE],
        [0, constants.Z_DEFAULT_STRATEGY],
      ] as const) {
        out.push({ format, z: new Uint8Array(compress[format](data.subarray(0, 200 + Math.floor(rand() * 2000)), { level, strategy })) });
      }
    }
  }
  return out;
}

function mutate(rand: () => number, z: Uint8Array, other: Uint8Array): Uint8Array {
  const at = (n: number) => Math.floor(rand() * n);
  const b = Uint8Array.from(z);
  switch (at(6)) {
    case 0: {
      const flips = 1 + at(4);
      for (let i = 0; i < flips; i++) b[at(b.length)]! ^= 1 << at(8);
      return b;
    }
    case 1:
      return b.subarray(0, at(b.length));
    case 2: {
      const p = at(b.length + 1);
      const extra = Uint8Array.from({ length: 1 + at(4) }, () => at(256));
      return Uint8Array.from([...b.subarray(0, p), ...extra, ...b.subarray(p)]);
    }
    case 3: {
      const p = at(b.length);
      return Uint8Array.from([...b.subarray(0, p), ...b.subarray(p + 1 + at(4))]);
    }
    case 4: // splice of two valid streams
      return Uint8Array.from([...b.subarray(0, at(b.length)), ...other.subarray(at(other.length))]);
    default: {
      const p = at(b.length);
      for (let i = p; i < Math.min(b.length, p + 1 + at(16)); i++) b[i] = at(256);
      return b;
    }
  }
}

describe("inflate fuzz", () => {
  it(`${CASES} mutated streams: node:zlib's exact output or a StrataError`, async () => {
    const rand = prng(20261128);
    const pool = seeds(rand);
    const kernels = new Map<InflateFormat, ByteTransform>();
    for (const format of ["gzip", "zlib", "raw"] as const) kernels.set(format, await createInflate(ports, { format, maxOutput: MAX_OUTPUT }));
    const outcomes = { agreed: 0, rejected: 0 };
    for (let i = 0; i < CASES; i++) {
      const { format, z } = pool[Math.floor(rand() * pool.length)]!;
      const input = mutate(rand, z, pool[Math.floor(rand() * pool.length)]!.z);
      const k = kernels.get(format)!;
      const parts: Uint8Array[] = [];
      let ours: Buffer | undefined;
      try {
        k.init((bytes) => parts.push(bytes.slice()));
        const piece = 1 + Math.floor(rand() * input.length);
        for (let at = 0; at < input.length; at += piece) k.update(input.subarray(at, at + piece));
        k.final();
        ours = Buffer.concat(parts);
      } catch (e) {
        if (!isStrataError(e)) throw new Error(`case ${i}: not a StrataError: ${String(e)}`);
        outcomes.rejected++;
      }
      if (ours) {
        let theirs: Buffer | undefined;
        try {
          theirs = oracle[format](input, { maxOutputLength: MAX_OUTPUT });
        } catch {
          theirs = undefined;
        }
        expect(theirs, `case ${i}: accepted ${format} input node:zlib rejects`).toBeDefined();
        expect(ours.equals(theirs!), `case ${i}: ${format} output differs from node:zlib`).toBe(true);
        outcomes.agreed++;
      }
    }
    // Both kinds of outcome occur, so the oracle comparison really ran.
    expect(outcomes.agreed).toBeGreaterThan(100);
    expect(outcomes.rejected).toBeGreaterThan(CASES / 2);
  }, 300_000);
});
