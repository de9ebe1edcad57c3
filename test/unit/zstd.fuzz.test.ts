// Mutation fuzzing of the zstd decoder: 12 000 corrupted frames (deterministic seed). Each must
// either throw a StrataError or decode to exactly what fzstd or the zstd CLI decode it to.
import { execFileSync } from "node:child_process";
import { decompress as fzstd } from "fzstd";
import { beforeAll, describe, expect, it } from "vitest";
import { isStrataError } from "../../src/errors.js";
import type { ByteTransform } from "../../src/kernels/kernel.js";
import { transformAll } from "../../src/kernels/stream.js";
import { createZstdChunkDecoder, createZstdDecoder, type ZstdChunkDecoder } from "../../src/kernels/zstd.js";
import { ports } from "../helpers/kernels.js";

const MUTANTS_PER_BASE = 1000;

/** xorshift32: deterministic stream of 32-bit values. */
function rng(seed: number): () => number {
  let x = seed | 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return x >>> 0;
  };
}

function textBytes(size: number, seed: number): Uint8Array {
  const next = rng(seed);
  const words = ["zstd", "frame", "block", "literal", "offset", "match", "\n", "the", "a", "huffman", "0x7f", "/etc/"];
  const out = new Uint8Array(size);
  const enc = new TextEncoder();
  let at = 0;
  while (at < size) {
    const w = enc.encode(words[next() % words.length]! + " ");
    out.set(w.subarray(0, size - at), at);
    at += w.length;
  }
  return out;
}

function randomBytes(size: number, seed: number): Uint8Array {
  const next = rng(seed);
  return Uint8Array.from({ length: size }, () => next() & 0xff);
}

const compress = (data: Uint8Array, ...args: string[]) => new Uint8Array(execFileSync("zstd", ["-q", "-c", ...args], { input: data }));

/** Small frames covering raw/RLE/compressed blocks, all literal and sequence table modes. */
function bases(): Uint8Array[] {
  const text = textBytes(24 * 1024, 1);
  const mixed = new Uint8Array(20 * 1024);
  mixed.set(textBytes(8000, 2));
  mixed.set(randomBytes(4000, 3), 8000);
  mixed.fill(7, 12000, 14000);
  mixed.set(textBytes(6000, 4), 14000);
  return [
    compress(text, "-1", "--no-check"),
    compress(text, "-3"),
    compress(text, "-19", "--no-check"),
    compress(mixed, "-9"),
    compress(mixed, "-3", "--no-check", "--zstd=wlog=10"),
    compress(textBytes(600, 5), "-19", "--no-check"),
    compress(randomBytes(3000, 6), "-3", "--no-check"),
    new Uint8Array([...compress(textBytes(3000, 7), "-1"), ...compress(textBytes(2000, 8), "-22", "--ultra", "--no-check")]),
    compress(new Uint8Array(40000).map((_, i) => (i * 31) % 7), "-5", "--no-check"),
    compress(textBytes(130 * 1024, 9), "-2", "--no-check"),
    compress(textBytes(9000, 10), "-12", "--no-check", "--no-content-size"),
    compress(Uint8Array.from({ length: 5000 }, (_, i) => i & 0xff), "-7", "--no-check"),
  ];
}

function mutate(input: Uint8Array, next: () => number): Uint8Array {
  // Headers and tables sit near the start, so half of the edits land in the first 64 bytes.
  const position = (len: number) => (len === 0 ? 0 : next() & 1 ? next() % Math.min(len, 64) : next() % len);
  let out = input.slice();
  const edits = 1 + (next() % 3);
  for (let e = 0; e < edits; e++) {
    const at = position(out.length);
    switch (next() % 8) {
      case 0:
      case 1:
        out[at]! ^= 1 << (next() & 7);
        break;
      case 2:
        out[at] = next() & 0xff;
        break;
      case 3:
        out[at] = [0, 0xff, 0x80, 0x7f, 1][next() % 5]!;
        break;
      case 4:
        out = out.slice(0, at + (next() % 8));
        break;
      case 5: {
        const bytes = randomBytes(1 + (next() % 16), next());
        out = new Uint8Array([...out.subarray(0, at), ...bytes, ...out.subarray(at)]);
        break;
      }
      case 6:
        out = new Uint8Array([...out.subarray(0, at), ...out.subarray(at + 1 + (next() % 32))]);
        break;
      default: {
        const from = position(out.length);
        const n = Math.min(1 + (next() % 24), out.length - from, out.length - at);
        out.copyWithin(at, from, from + n);
      }
    }
  }
  return out;
}

/** What the references decode `input` to, or undefined when they both reject it. */
function reference(input: Uint8Array, ours: Uint8Array): Uint8Array | undefined {
  try {
    const theirs = fzstd(input);
    if (Buffer.compare(theirs, ours) === 0) return theirs;
  } catch {
    // fzstd is not strict about everything: ask the reference decoder
  }
  try {
    return new Uint8Array(execFileSync("zstd", ["-q", "-dc", "--memory=2048MB"], { input, stdio: ["pipe", "pipe", "ignore"] }));
  } catch {
    return undefined;
  }
}

/** Decodes `input` pushed in pieces of the given sizes (cycled). */
function decodeInPieces(input: Uint8Array, sizes: number[]): Uint8Array {
  const parts: Uint8Array[] = [];
  decoder.init((bytes) => parts.push(bytes.slice()));
  for (let at = 0, i = 0; at < input.length; i++) {
    const n = sizes[i % sizes.length]!;
    decoder.update(input.subarray(at, at + n));
    at += n;
  }
  decoder.final();
  return new Uint8Array(Buffer.concat(parts));
}

let decoder: ByteTransform;
let chunks: ZstdChunkDecoder;
beforeAll(async () => {
  decoder = await createZstdDecoder(ports);
  chunks = await createZstdChunkDecoder(ports);
});

describe("zstd decoder under mutation", () => {
  const all = bases();
  all.forEach((base, index) => {
    it(`base ${index}: ${MUTANTS_PER_BASE} mutants give typed errors or reference output`, () => {
      const next = rng(0x2545f491 + index);
      const expectedSize = fzstd(base).length;
      for (let i = 0; i < MUTANTS_PER_BASE; i++) {
        const input = mutate(base, next);
        let ours: Uint8Array | undefined;
        let streamError: string | undefined;
        try {
          ours = transformAll(decoder, input);
        } catch (e) {
          if (!isStrataError(e)) throw new Error(`mutant ${i}: ${String(e)}`, { cause: e });
          streamError = e.code;
        }
        if (i % 8 === 0) {
          // Arbitrary pushes reach the same verdict: same bytes, or an error with the same code.
          const pieces = [1 + (next() % 7), 1 + (next() % 300), 1 + (next() % 5000)];
          let split: Uint8Array | string;
          try {
            split = decodeInPieces(input, pieces);
          } catch (e) {
            split = isStrataError(e) ? e.code : String(e);
          }
          if (ours) expect(split instanceof Uint8Array && Buffer.compare(split, ours) === 0, `mutant ${i}: pieces differ`).toBe(true);
          else expect(split, `mutant ${i}: pieces`).toBe(streamError);
        }
        try {
          const chunk = chunks.decompress(input, ours?.length ?? expectedSize);
          if (ours) expect(Buffer.compare(chunk, ours), `mutant ${i}: chunk path differs`).toBe(0);
        } catch (e) {
          if (!isStrataError(e)) throw new Error(`mutant ${i} (chunk): ${String(e)}`, { cause: e });
          // The chunk path sees the whole input at once; it may only fail where streaming failed.
          expect(ours, `mutant ${i}: chunk path failed with ${e.code} but streaming decoded`).toBeUndefined();
        }
        if (ours) {
          const theirs = reference(input, ours);
          expect(theirs, `mutant ${i}: decoded ${ours.length} bytes, the references reject it`).toBeDefined();
          expect(Buffer.compare(ours, theirs!), `mutant ${i}: output differs from the reference`).toBe(0);
        }
      }
    });
  });
});
