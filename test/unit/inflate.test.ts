import { readdirSync, readFileSync } from "node:fs";
import {
  constants,
  crc32,
  deflateRawSync,
  deflateSync,
  gunzipSync,
  gzipSync,
  inflateRawSync,
  inflateSync,
  type ZlibOptions,
} from "node:zlib";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { type ErrorCode, isStrataError } from "../../src/errors.js";
import { createInflate, type InflateFormat, inflateAll } from "../../src/kernels/inflate.js";
import type { ByteTransform } from "../../src/kernels/kernel.js";
import { toTransformStream } from "../../src/kernels/stream.js";
import { ports } from "../helpers/kernels.js";

const MiB = 1 << 20;
const zranDir = new URL("../../../shared/fixtures/nydus/tests/texture/zran/", import.meta.url);

const compressors: Record<InflateFormat, (data: Uint8Array, options?: ZlibOptions) => Buffer> = {
  gzip: gzipSync,
  zlib: deflateSync,
  raw: deflateRawSync,
};
const decompressors: Record<InflateFormat, (data: Uint8Array) => Buffer> = {
  gzip: gunzipSync,
  zlib: inflateSync,
  raw: inflateRawSync,
};
const FORMATS: InflateFormat[] = ["gzip", "zlib", "raw"];
const STRATEGIES = {
  default: constants.Z_DEFAULT_STRATEGY,
  filtered: constants.Z_FILTERED,
  huffmanOnly: constants.Z_HUFFMAN_ONLY,
  rle: constants.Z_RLE,
  fixed: constants.Z_FIXED,
};

/** Deterministic PRNG (mulberry32). */
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

const samples: Record<string, Uint8Array> = (() => {
  const rand = prng(7);
  const words = "the of and usr lib bin etc share config layer image manifest tar gzip {}:;,.\n".split(" ");
  let text = "";
  while (text.length < 120_000) text += words[Math.floor(rand() * words.length)] + (rand() < 0.1 ? "\n" : " ");
  const binary = new Uint8Array(90_000);
  for (let i = 0; i < binary.length; i++) binary[i] = rand() < 0.4 ? 0 : rand() < 0.5 ? i & 0xff : Math.floor(rand() * 16);
  const random = new Uint8Array(70_000).map(() => Math.floor(rand() * 256));
  // Runs with periods 1-17 (every match-copy path), then one long period-9 pattern.
  const repetitive = new Uint8Array(200_000).map((_, i) => (i < 100_000 ? (i % (1 + ((i >> 10) % 17))) + 65 : "abcabcabd".charCodeAt(i % 9)));
  return { text: new TextEncoder().encode(text), binary, random, empty: new Uint8Array(0), repetitive };
})();

let kernel: ByteTransform;
beforeAll(async () => {
  kernel = await createInflate(ports, { format: "gzip" });
});

/** Inflates `data` with a fresh kernel, feeding it in the given piece sizes (cycled). */
async function inflatePieces(format: InflateFormat, data: Uint8Array, sizes: number[], maxOutput?: number): Promise<Uint8Array> {
  const k = await createInflate(ports, { format, maxOutput });
  const parts: Uint8Array[] = [];
  k.init((b) => parts.push(b.slice()));
  for (let at = 0, i = 0; at < data.length; i++) {
    const n = Math.max(1, sizes[i % sizes.length] ?? data.length);
    k.update(data.subarray(at, at + n));
    at += n;
  }
  k.final();
  return Buffer.concat(parts);
}

async function failure(run: () => unknown): Promise<{ code: ErrorCode; details: Record<string, unknown> }> {
  try {
    await run();
  } catch (e) {
    if (isStrataError(e)) return { code: e.code, details: { ...e.details } };
    throw e;
  }
  throw new Error("expected a StrataError, but decoding succeeded");
}

describe("inflate: real gzip files", () => {
  const files = readdirSync(zranDir).filter((f) => f.endsWith(".gz"));

  it("finds the zran fixtures", () => {
    expect(files).toContain("bgzip.tar.gz");
    expect(files).toContain("zlib_sample.txt.gz");
  });

  for (const file of files) {
    it(`${file} decodes exactly as node:zlib does, whole and in small pushes`, async () => {
      const gz = new Uint8Array(readFileSync(new URL(file, zranDir)));
      const expected = gunzipSync(gz);
      expect(Buffer.from(await inflateAll(ports, gz, { format: "gzip" })).equals(expected)).toBe(true);
      expect((await inflatePieces("gzip", gz, [1, 7, 100, 4093])).length).toBe(expected.length);
      expect(Buffer.from(await inflatePieces("gzip", gz, [1, 7, 100, 4093])).equals(expected)).toBe(true);
    });
  }

  it("bgzip.tar.gz really is many gzip members, each decoded in turn", async () => {
    const gz = readFileSync(new URL("bgzip.tar.gz", zranDir));
    // Walk the members with node:zlib (plain 10-byte headers): how much deflate data each uses.
    const members: Buffer[] = [];
    for (let at = 0; at < gz.length; ) {
      expect([gz[at], gz[at + 1], gz[at + 3]]).toEqual([0x1f, 0x8b, 0]);
      const { engine } = inflateRawSync(gz.subarray(at + 10), { info: true }) as unknown as { engine: { bytesWritten: number } };
      const end = at + 10 + engine.bytesWritten + 8;
      members.push(gunzipSync(gz.subarray(at, end)));
      at = end;
    }
    expect(members.length).toBeGreaterThan(1);
    expect(Buffer.from(await inflateAll(ports, gz, { format: "gzip" })).equals(Buffer.concat(members))).toBe(true);
  });

  it("zlib_sample.txt.gz is a gzip member with FNAME (not a zlib stream)", async () => {
    const gz = readFileSync(new URL("zlib_sample.txt.gz", zranDir));
    expect([gz[0], gz[1], gz[2]]).toEqual([0x1f, 0x8b, 8]);
    expect(gz[3]! & 8).toBe(8);
    expect((await failure(() => inflateAll(ports, gz, { format: "zlib" }))).code).toBe("CORRUPT_DATA");
    expect(Buffer.from(await inflateAll(ports, gz, { format: "gzip" })).equals(gunzipSync(gz))).toBe(true);
  });

  it("works through toTransformStream", async () => {
    const gz = readFileSync(new URL("bgzip.tar.gz", zranDir));
    const stream = new Blob([gz]).stream().pipeThrough(toTransformStream(await createInflate(ports, { format: "gzip" })));
    const out = Buffer.from(await new Response(stream).arrayBuffer());
    expect(out.equals(gunzipSync(gz))).toBe(true);
  });
});

describe("inflate: node:zlib output at every level and strategy", () => {
  for (const format of FORMATS) {
    it(`${format}: every sample, level 1-9, every strategy, random pushes`, async () => {
      const rand = prng(format.length);
      for (const [name, data] of Object.entries(samples)) {
        for (let level = 1; level <= 9; level++) {
          for (const [strategyName, strategy] of Object.entries(STRATEGIES)) {
            const z = compressors[format](data, { level, strategy });
            const sizes = Array.from({ length: 5 }, () => 1 + Math.floor(rand() * rand() * 20_000));
            const out = await inflatePieces(format, z, sizes);
            expect(Buffer.from(out).equals(Buffer.from(data)), `${format} ${name} level ${level} ${strategyName}`).toBe(true);
          }
        }
      }
    }, 120_000);
  }

  it("stored blocks (level 0) in every format", async () => {
    for (const format of FORMATS) {
      const z = compressors[format](samples.binary!, { level: 0 });
      expect(Buffer.from(await inflatePieces(format, z, [3, 1000, 65_537])).equals(Buffer.from(samples.binary!))).toBe(true);
    }
  });

  it("any push sizes give the same output (fast-check)", async () => {
    const streams = FORMATS.flatMap((format) =>
      Object.entries(samples).map(([name, data]) => ({ format, name, data, z: compressors[format](data, { level: 6 }) })),
    );
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...streams), fc.array(fc.integer({ min: 1, max: 9000 }), { minLength: 1, maxLength: 12 }), async (s, sizes) => {
        const out = await inflatePieces(s.format, s.z, sizes);
        expect(Buffer.from(out).equals(Buffer.from(s.data))).toBe(true);
      }),
      { numRuns: 150, seed: 42 },
    );
  }, 60_000);

  it("byte-at-a-time input resumes at every bit position", async () => {
    for (const format of FORMATS) {
      for (const strategy of [constants.Z_DEFAULT_STRATEGY, constants.Z_FIXED]) {
        const data = samples.text!.subarray(0, 30_000);
        const z = compressors[format](data, { level: 9, strategy });
        expect(Buffer.from(await inflatePieces(format, z, [1])).equals(Buffer.from(data))).toBe(true);
      }
    }
  }, 60_000);

  it("outputs larger than the output window keep a correct 32 KiB history", async () => {
    // 6 MiB of text with long-distance repeats, pushed in one update larger than the input window.
    const base = samples.text!;
    const big = new Uint8Array(6 * MiB);
    const rand = prng(3);
    for (let at = 0; at < big.length; ) {
      const from = Math.floor(rand() * (base.length - 40_000));
      const n = Math.min(1000 + Math.floor(rand() * 30_000), big.length - at);
      big.set(base.subarray(from, from + n), at);
      at += n;
    }
    for (const format of FORMATS) {
      const z = compressors[format](big, { level: 6 });
      expect(Buffer.from(await inflateAll(ports, z, { format })).equals(Buffer.from(big))).toBe(true);
    }
    const randomBig = new Uint8Array(3 * MiB).map(() => Math.floor(rand() * 256));
    const z = gzipSync(randomBig, { level: 1 });
    expect(z.length).toBeGreaterThan(256 << 10);
    expect(Buffer.from(await inflateAll(ports, z, { format: "gzip" })).equals(Buffer.from(randomBig))).toBe(true);
  }, 60_000);

  it("the kernel is reusable: init starts a new stream", async () => {
    for (const data of [samples.text!, samples.random!, samples.empty!]) {
      const z = gzipSync(data);
      const parts: Uint8Array[] = [];
      kernel.init((b) => parts.push(b.slice()));
      kernel.update(z).final();
      expect(Buffer.concat(parts).equals(Buffer.from(data))).toBe(true);
    }
  });
});

describe("inflate: gzip framing", () => {
  /** A gzip member with a hand-built header around node's raw deflate of `data`. */
  function member(data: Uint8Array, header: { flags: number; extra?: Uint8Array; name?: string; comment?: string; hcrc?: "good" | "bad" }): Uint8Array {
    const head: number[] = [0x1f, 0x8b, 8, header.flags, 1, 2, 3, 4, 0, 3];
    if (header.extra) head.push(header.extra.length & 0xff, header.extra.length >> 8, ...header.extra);
    if (header.name !== undefined) head.push(...Buffer.from(header.name, "latin1"), 0);
    if (header.comment !== undefined) head.push(...Buffer.from(header.comment, "latin1"), 0);
    if (header.hcrc) {
      const c = crc32(Uint8Array.from(head)) ^ (header.hcrc === "bad" ? 1 : 0);
      head.push(c & 0xff, (c >>> 8) & 0xff);
    }
    const trailer = Buffer.alloc(8);
    trailer.writeUInt32LE(crc32(data), 0);
    trailer.writeUInt32LE(data.length, 4);
    return Buffer.concat([Uint8Array.from(head), deflateRawSync(data), trailer]);
  }
  const data = samples.text!.subarray(0, 5000);
  const extra = new Uint8Array(300).map((_, i) => i * 7);

  it("FTEXT, FEXTRA, FNAME, FCOMMENT and FHCRC headers decode as node:zlib decodes them", async () => {
    const variants = [
      member(data, { flags: 1 }),
      member(data, { flags: 4, extra }),
      member(data, { flags: 8, name: "layer.tar" }),
      member(data, { flags: 16, comment: "a comment" }),
      member(data, { flags: 2, hcrc: "good" }),
      member(data, { flags: 31, extra, name: "n", comment: "", hcrc: "good" }),
    ];
    for (const gz of variants) {
      expect(gunzipSync(gz).equals(Buffer.from(data))).toBe(true);
      expect(Buffer.from(await inflatePieces("gzip", gz, [1, 2, 3, 5])).equals(Buffer.from(data))).toBe(true);
    }
  });

  it("rejects a wrong header CRC, reserved flags, another method and bad magic", async () => {
    const badHcrc = member(data, { flags: 2 | 8, name: "x", hcrc: "bad" });
    expect(() => gunzipSync(badHcrc)).toThrow();
    expect((await failure(() => inflateAll(ports, badHcrc, { format: "gzip" }))).code).toBe("CHECKSUM_MISMATCH");
    for (const reserved of [0x20, 0x40, 0x80]) {
      expect((await failure(() => inflateAll(ports, member(data, { flags: reserved }), { format: "gzip" }))).code).toBe("CORRUPT_DATA");
    }
    const method7 = member(data, { flags: 0 });
    method7[2] = 7;
    expect((await failure(() => inflateAll(ports, method7, { format: "gzip" }))).code).toBe("CORRUPT_DATA");
    expect((await failure(() => inflateAll(ports, deflateSync(data), { format: "gzip" }))).code).toBe("CORRUPT_DATA");
  });

  it("concatenated members decode as one stream; zero padding after them is accepted like node:zlib", async () => {
    const a = gzipSync(samples.text!);
    const b = gzipSync(samples.empty!);
    const c = gzipSync(samples.random!);
    const multi = Buffer.concat([a, b, c]);
    const expected = gunzipSync(multi);
    expect(expected.length).toBe(samples.text!.length + samples.random!.length);
    expect(Buffer.from(await inflatePieces("gzip", multi, [999])).equals(expected)).toBe(true);
    const padded = Buffer.concat([multi, Buffer.alloc(1000)]);
    expect(Buffer.from(await inflatePieces("gzip", padded, [4096])).equals(gunzipSync(padded))).toBe(true);
  });

  it("a member may not reach back into the previous member's output", async () => {
    // Second member: fixed block whose first symbol is a match (raw stream built by hand below).
    const match = rawFixedMatchFirst();
    const trailer = Buffer.alloc(8);
    const second = Buffer.concat([Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3]), match, trailer]);
    const gz = Buffer.concat([gzipSync(samples.text!), second]);
    expect(() => gunzipSync(gz)).toThrow();
    expect((await failure(() => inflateAll(ports, gz, { format: "gzip" }))).code).toBe("CORRUPT_DATA");
  });

  it("trailing garbage is TRAILING_DATA with its offset, for every format", async () => {
    for (const format of FORMATS) {
      const z = compressors[format](samples.text!);
      const junk = Buffer.concat([z, Buffer.from("garbage")]);
      const f = await failure(() => inflatePieces(format, junk, [z.length + 3]));
      expect(f.code).toBe("TRAILING_DATA");
      expect(f.details.offset).toBe(z.length);
    }
    const gz = gzipSync(samples.text!);
    expect((await failure(() => inflateAll(ports, Buffer.concat([gz, Buffer.alloc(10), Buffer.from([1])]), { format: "gzip" }))).code).toBe(
      "TRAILING_DATA",
    );
    // A second member that is not gzip at all.
    expect((await failure(() => inflateAll(ports, Buffer.concat([gz, Buffer.from([0x1f, 0x00, 1, 2])]), { format: "gzip" }))).code).toBe(
      "TRAILING_DATA",
    );
  });

  it("wrong CRC-32 and wrong ISIZE are CHECKSUM_MISMATCH", async () => {
    const gz = gzipSync(samples.binary!);
    for (const at of [gz.length - 8, gz.length - 5, gz.length - 4, gz.length - 1]) {
      const bad = Buffer.from(gz);
      bad[at]! ^= 0x10;
      expect(() => gunzipSync(bad)).toThrow();
      expect((await failure(() => inflateAll(ports, bad, { format: "gzip" }))).code).toBe("CHECKSUM_MISMATCH");
    }
  });

  it("an empty input is TRUNCATED, the empty stream decodes to nothing", async () => {
    for (const format of FORMATS) {
      expect((await failure(() => inflateAll(ports, new Uint8Array(0), { format }))).code).toBe("TRUNCATED");
      expect((await inflateAll(ports, compressors[format](new Uint8Array(0)), { format })).length).toBe(0);
    }
  });
});

describe("inflate: zlib framing", () => {
  it("checks Adler-32, the header check bits, the method and the window size; FDICT is UNSUPPORTED", async () => {
    const z = deflateSync(samples.binary!);
    const badAdler = Buffer.from(z);
    badAdler[badAdler.length - 2]! ^= 1;
    expect(() => inflateSync(badAdler)).toThrow();
    expect((await failure(() => inflateAll(ports, badAdler, { format: "zlib" }))).code).toBe("CHECKSUM_MISMATCH");

    const badCheck = Buffer.from(z);
    badCheck[1]! ^= 1;
    expect((await failure(() => inflateAll(ports, badCheck, { format: "zlib" }))).code).toBe("CORRUPT_DATA");

    /** A header with `cmf`, FLG's check bits fixed up. */
    const header = (cmf: number, flg: number) => {
      const f = flg & 0xe0;
      return [cmf, f + (31 - ((cmf * 256 + f) % 31))];
    };
    const body = z.subarray(2);
    const withHeader = (h: number[]) => Buffer.concat([Buffer.from(h), body]);
    expect((await failure(() => inflateAll(ports, withHeader(header(0x77, 0)), { format: "zlib" }))).code).toBe("CORRUPT_DATA");
    expect((await failure(() => inflateAll(ports, withHeader(header(0x88, 0)), { format: "zlib" }))).code).toBe("CORRUPT_DATA");
    const dict = withHeader(header(0x78, 0x20));
    expect(() => inflateSync(dict)).toThrow();
    expect((await failure(() => inflateAll(ports, dict, { format: "zlib" }))).code).toBe("UNSUPPORTED");
    // A smaller declared window (CINFO 7 -> 5) is still decodable when matches stay inside it.
    const small = deflateSync(samples.text!, { windowBits: 13 });
    expect(small[0]! >> 4).toBe(5);
    expect(Buffer.from(await inflateAll(ports, small, { format: "zlib" })).equals(Buffer.from(samples.text!))).toBe(true);
  });
});

// ---------------------------------------------------------------------------------------------
// Hand-built deflate streams

/** Writes deflate bits: fields LSB first, Huffman codes MSB first. */
class BitWriter {
  private bytes: number[] = [];
  private bit = 0;
  bits(value: number, n: number): this {
    for (let i = 0; i < n; i++) {
      if (this.bit === 0) this.bytes.push(0);
      this.bytes[this.bytes.length - 1]! |= ((value >> i) & 1) << this.bit;
      this.bit = (this.bit + 1) & 7;
    }
    return this;
  }
  code(code: number, len: number): this {
    for (let i = len - 1; i >= 0; i--) this.bits((code >> i) & 1, 1);
    return this;
  }
  done(): Uint8Array {
    return Uint8Array.from(this.bytes);
  }
}

/** Raw deflate: one fixed block starting with a length-3, distance-1 match (nothing to copy from). */
function rawFixedMatchFirst(): Uint8Array {
  // Fixed codes: 257 = 0000001 (7 bits), distance 0 = 00000, end of block 256 = 0000000.
  return new BitWriter().bits(1, 1).bits(1, 2).code(1, 7).code(0, 5).code(0, 7).done();
}

/**
 * Raw deflate: one dynamic block whose code-length code has two 1-bit codes
 * (the lengths in `clLengths`), then the given 1-bit code-length symbols and `tail`.
 */
function dynamicBlock(hlit: number, hdist: number, clLengths: Record<number, number>, symbols: number[], tail?: (w: BitWriter) => void): Uint8Array {
  const order = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15];
  const w = new BitWriter().bits(1, 1).bits(2, 2).bits(hlit, 5).bits(hdist, 5).bits(19 - 4, 4);
  for (const sym of order) w.bits(clLengths[sym] ?? 0, 3);
  for (const s of symbols) w.bits(s, 1); // with two 1-bit codes, code = rank among the two symbols
  tail?.(w);
  return w.done();
}

describe("inflate: malformed deflate data", () => {
  async function expectRawError(raw: Uint8Array, code: ErrorCode) {
    expect(() => inflateRawSync(raw)).toThrow();
    expect((await failure(() => inflateAll(ports, raw, { format: "raw" }))).code).toBe(code);
    expect((await failure(() => inflatePieces("raw", raw, [1]))).code).toBe(code);
  }

  it("the hand-built dynamic block decodes (control for the cases below)", async () => {
    // Literal/length code: symbols 0 and 256 with length 1; a lone 1-bit distance code (allowed).
    // Data: literal 0 (code 0), end of block (code 1).
    const lengths = [1, ...Array(255).fill(0), 1, 1];
    const block = dynamicBlock(0, 0, { 0: 1, 1: 1 }, lengths.map((l) => (l === 1 ? 1 : 0)), (w) => w.code(0, 1).code(1, 1));
    expect([...inflateRawSync(block)]).toEqual([0]);
    expect([...(await inflateAll(ports, block, { format: "raw" }))]).toEqual([0]);
  });

  it("invalid block type, stored length mismatch, distance too far back", async () => {
    await expectRawError(Uint8Array.of(0x07), "CORRUPT_DATA");
    await expectRawError(Uint8Array.of(0x01, 5, 0, 0, 0, 1, 2, 3, 4, 5), "CORRUPT_DATA");
    await expectRawError(rawFixedMatchFirst(), "CORRUPT_DATA");
  });

  it("over-subscribed, incomplete and endless Huffman tables", async () => {
    const allOnes: Record<number, number> = Object.fromEntries(Array.from({ length: 19 }, (_, i) => [i, 1]));
    await expectRawError(dynamicBlock(0, 0, allOnes, []), "CORRUPT_DATA");
    // Code-length code with one 1-bit code only: incomplete.
    await expectRawError(dynamicBlock(0, 0, { 0: 1 }, [0, 0, 0]), "CORRUPT_DATA");
    // Literal/length code: symbols 0 and 256 with length 2 only (half the code space unused).
    const incomplete = [1, ...Array(255).fill(0), 1, 0];
    await expectRawError(dynamicBlock(0, 0, { 0: 1, 2: 1 }, incomplete), "CORRUPT_DATA");
    // Literal/length code without an end-of-block code.
    const noEob = [1, 1, ...Array(254).fill(0), 0, 0];
    await expectRawError(dynamicBlock(0, 0, { 0: 1, 1: 1 }, noEob), "CORRUPT_DATA");
    // Repeat (16) with no previous length; repeat past the end (18 x 138 over 258 codes).
    // (Code-length symbols 1 and 16/18 have the 1-bit codes 0 and 1.)
    await expectRawError(dynamicBlock(0, 0, { 16: 1, 1: 1 }, [1], (w) => w.bits(0, 2)), "CORRUPT_DATA");
    await expectRawError(dynamicBlock(0, 0, { 18: 1, 1: 1 }, [1], (w) => w.bits(127, 7).bits(1, 1).bits(127, 7)), "CORRUPT_DATA");
    // HLIT = 287 codes.
    await expectRawError(dynamicBlock(30, 0, { 0: 1, 1: 1 }, []), "CORRUPT_DATA");
  });

  it("fixed-code symbols 286/287 and distance codes 30/31 are invalid", async () => {
    // 286 = 11000110 (8 bits), distance 30 = 11110.
    await expectRawError(new BitWriter().bits(1, 1).bits(1, 2).code(0xc6, 8).done(), "CORRUPT_DATA");
    const dist30 = new BitWriter().bits(1, 1).bits(1, 2).code(0x30 + 65, 8).code(1, 7).code(30, 5).done();
    await expectRawError(dist30, "CORRUPT_DATA");
  });

  it("every truncation of a stream is TRUNCATED (never success, never another error)", async () => {
    for (const format of FORMATS) {
      const k = await createInflate(ports, { format });
      for (const strategy of [constants.Z_DEFAULT_STRATEGY, constants.Z_FIXED]) {
        const z = compressors[format](samples.text!.subarray(0, 3000), { strategy });
        for (let n = 0; n < z.length; n++) {
          const piece = (n % 7) + 1;
          const f = await failure(() => {
            k.init(() => {});
            for (let at = 0; at < n; at += piece) k.update(z.subarray(at, Math.min(n, at + piece)));
            k.final();
          });
          expect(f.code, `${format} truncated to ${n} of ${z.length}`).toBe("TRUNCATED");
        }
      }
    }
  }, 60_000);

  it("every single bit flip of a small gzip stream is an error or node:zlib's exact output", async () => {
    const gz = gzipSync(samples.text!.subarray(0, 400), { level: 9 });
    const k = await createInflate(ports, { format: "gzip", maxOutput: MiB });
    let errors = 0;
    for (let bit = 0; bit < gz.length * 8; bit++) {
      const bad = Buffer.from(gz);
      bad[bit >> 3]! ^= 1 << (bit & 7);
      let ours: Uint8Array | undefined;
      try {
        const parts: Uint8Array[] = [];
        k.init((b) => parts.push(b.slice()));
        k.update(bad).final();
        ours = Buffer.concat(parts);
      } catch (e) {
        if (!isStrataError(e)) throw e;
        errors++;
      }
      if (ours) expect(Buffer.from(ours).equals(gunzipSync(bad)), `bit ${bit}`).toBe(true);
    }
    // Only MTIME, XFL, OS and a few header bits can flip harmlessly.
    expect(errors).toBeGreaterThan(gz.length * 8 - 64);
  });

  it("a gzip bomb stops at maxOutput with OUTPUT_LIMIT", async () => {
    const bomb = gzipSync(new Uint8Array(64 * MiB), { level: 9 });
    expect(bomb.length).toBeLessThan(100_000);
    let seen = 0;
    const k = await createInflate(ports, { format: "gzip", maxOutput: 4 * MiB });
    k.init((b) => (seen += b.length));
    const f = await failure(() => k.update(bomb));
    expect(f.code).toBe("OUTPUT_LIMIT");
    expect(seen).toBeLessThanOrEqual(4 * MiB);
    // The same limit is fine for a stream that fits.
    const fits = gzipSync(new Uint8Array(4 * MiB));
    expect((await inflateAll(ports, fits, { format: "gzip", maxOutput: 4 * MiB })).length).toBe(4 * MiB);
  });

  it("a failed kernel refuses further input until init; bad options are INVALID_ARGUMENT", async () => {
    const k = await createInflate(ports, { format: "raw" });
    expect((await failure(() => k.update(Uint8Array.of(1)))).code).toBe("KERNEL_STATE");
    k.init(() => {});
    expect((await failure(() => k.update(Uint8Array.of(0x07)))).code).toBe("CORRUPT_DATA");
    expect((await failure(() => k.final())).code).toBe("KERNEL_STATE");
    expect((await failure(() => createInflate(ports, { format: "lz4" as InflateFormat }))).code).toBe("INVALID_ARGUMENT");
    expect((await failure(() => createInflate(ports, { format: "gzip", maxOutput: -1 }))).code).toBe("INVALID_ARGUMENT");
  });
});
