import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import fc from "fast-check";
import { decompress as fzstdDecompress } from "fzstd";
import { afterAll, describe, expect, it } from "vitest";
import { toTransformStream, transformAll } from "../../src/kernels/stream.js";
import { createZstdChunkDecoder } from "../../src/kernels/zstd.js";
import { createZstdCompressor, createZstdEncoder, type ZstdEncoder } from "../../src/kernels/zstdenc.js";
import { ports } from "../helpers/kernels.js";

const MiB = 1 << 20;
const scratch = mkdtempSync(join(tmpdir(), "strata-zstdenc-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** Deterministic pseudo-random bytes (xorshift32). */
function randomBytes(size: number, seed: number): Uint8Array {
  const out = new Uint8Array(size);
  let x = seed | 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** Text-like bytes: words from a vocabulary with numbers, so matches occur at many distances. */
function textBytes(size: number, seed: number): Uint8Array {
  const words = ["the", "layer", "chunk", "blob", "nydus", "rafs", "image", "digest", "of", "file", "/usr/lib/", "x86_64", "{\n", "}\n", "=", "é"];
  const noise = randomBytes(Math.max(size, 1), seed);
  const enc = new TextEncoder();
  const out = new Uint8Array(size);
  let at = 0;
  for (let i = 0; at < size; i++) {
    const r = noise[i % noise.length]!;
    const w = enc.encode(r < 32 ? String(r * 7919) + " " : words[r % words.length]! + " ");
    out.set(w.subarray(0, size - at), at);
    at += w.length;
  }
  return out;
}

/** Binary-like bytes: small integers, zero runs, bytes above 127 (exercises FSE-coded weights). */
function binaryBytes(size: number, seed: number): Uint8Array {
  const noise = randomBytes(size, seed);
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) {
    const r = noise[i]!;
    out[i] = r < 80 ? 0 : r < 160 ? (r * 3) & 0x8f : i > 64 && r < 230 ? out[i - 16 - (r & 31)]! : r;
  }
  return out;
}

/** Decodes concatenated frames with the zstd CLI (which also verifies content checksums). */
function zstdDecode(frames: Uint8Array): Uint8Array {
  return new Uint8Array(execFileSync("zstd", ["-d", "-c", "-q"], { input: frames, maxBuffer: 512 * MiB }));
}

function firstDifference(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? -1 : n;
}

function expectBytes(actual: Uint8Array, expected: Uint8Array): void {
  expect(firstDifference(actual, expected), `lengths ${actual.length} and ${expected.length}`).toBe(-1);
}

/** Compresses `data` to one frame, or a frame with a raw block when it does not shrink. */
function frameOf(encoder: ZstdEncoder, data: Uint8Array): Uint8Array | undefined {
  return encoder.compress(data)?.slice();
}

const encoders = new Map<string, Promise<ZstdEncoder>>();
function encoder(level: number, checksum = false): Promise<ZstdEncoder> {
  const key = `${level}/${checksum}`;
  let e = encoders.get(key);
  if (!e) encoders.set(key, (e = createZstdEncoder(ports, { level, checksum })));
  return e;
}

describe("zstd encoder: frames decode with the zstd CLI", () => {
  it("round-trips random, text-like and binary inputs at every level (property)", async () => {
    const all = await Promise.all([1, 2, 3, 4, 5, 6, 7, 8, 9].flatMap((l) => [encoder(l), encoder(l, true)]));
    const frames: Uint8Array[] = [];
    const inputs: Uint8Array[] = [];
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 400_000 }),
        fc.integer({ min: 1, max: 2 ** 31 - 1 }),
        fc.constantFrom("random", "text", "binary", "runs", "mixed"),
        fc.integer({ min: 0, max: all.length - 1 }),
        (size, seed, kind, which) => {
          let data: Uint8Array;
          if (kind === "random") data = randomBytes(size, seed);
          else if (kind === "text") data = textBytes(size, seed);
          else if (kind === "binary") data = binaryBytes(size, seed);
          else if (kind === "runs") data = new Uint8Array(size).fill(seed & 0xff);
          else {
            data = textBytes(size, seed);
            data.set(randomBytes(size >> 2, seed), size >> 1);
          }
          const frame = frameOf(all[which]!, data);
          if (frame === undefined) {
            expect(kind === "random" || size < 32).toBe(true);
            return;
          }
          expect(frame.length).toBeLessThan(data.length);
          frames.push(frame);
          inputs.push(data);
        },
      ),
      { numRuns: 150, seed: 0x2b },
    );
    // One CLI run decodes all the frames back to back.
    const total = inputs.reduce((n, d) => n + d.length, 0);
    const joined = new Uint8Array(total);
    inputs.reduce((at, d) => (joined.set(d, at), at + d.length), 0);
    expectBytes(zstdDecode(concatBytes(frames)), joined);
    expect(frames.length).toBeGreaterThan(100);
    // Two more decoders agree: fzstd (pure JS) and strata's own chunk decoder.
    const ownDecoder = await createZstdChunkDecoder(ports);
    frames.forEach((frame, i) => {
      expectBytes(fzstdDecompress(frame), inputs[i]!);
      expectBytes(ownDecoder.decompress(frame, inputs[i]!.length), inputs[i]!);
    });
  });

  it("round-trips every size from 0 to 300 bytes (frame content-size forms, raw/RLE literals)", async () => {
    const enc = await encoder(3);
    const frames: Uint8Array[] = [];
    const inputs: Uint8Array[] = [];
    const phrase = new TextEncoder().encode("the layer chunk blob 1234 ".repeat(20));
    for (let size = 0; size <= 300; size++) {
      const data = phrase.slice(0, size);
      const frame = frameOf(enc, data);
      if (frame === undefined) continue;
      frames.push(frame);
      inputs.push(data);
    }
    expect(frames.length).toBeGreaterThan(200);
    expectBytes(zstdDecode(concatBytes(frames)), concatBytes(inputs));
  });

  it("round-trips big inputs up to the 16 MiB maximum, across block boundaries", async () => {
    const cases = [textBytes(16 * MiB, 1), binaryBytes(5 * MiB + 7, 2), interleaved(3 * MiB, 3)];
    for (const level of [1, 3, 6]) {
      const enc = await encoder(level, level === 3);
      for (const data of cases) {
        const frame = frameOf(enc, data)!;
        expect(frame.length).toBeLessThan(data.length);
        expectBytes(zstdDecode(frame), data);
      }
    }
  });

  it("keeps repeat offsets right around raw blocks in the middle of a frame", async () => {
    // 128 KiB blocks alternate compressible and random content; random blocks are stored raw.
    const data = interleaved(2 * MiB, 9);
    for (const level of [1, 3, 5, 9]) {
      const frame = frameOf(await encoder(level), data)!;
      expectBytes(zstdDecode(frame), data);
      expect(blockTypes(frame)).toContain(0);
      expect(blockTypes(frame)).toContain(2);
    }
  });

  it("writes single-segment frames with the content size and an optional XXH64 checksum", async () => {
    for (const size of [100, 255, 256, 65791, 65792, 3 * MiB]) {
      const data = textBytes(size, size);
      for (const checksum of [false, true]) {
        const frame = frameOf(await encoder(3, checksum), data)!;
        const dv = new DataView(frame.buffer, frame.byteOffset);
        expect(dv.getUint32(0, true)).toBe(0xfd2fb528);
        const descriptor = frame[4]!;
        expect((descriptor >> 5) & 1).toBe(1); // single segment
        expect((descriptor >> 2) & 1).toBe(checksum ? 1 : 0);
        const fcsFlag = descriptor >> 6;
        const contentSize = fcsFlag === 0 ? frame[5]! : fcsFlag === 1 ? dv.getUint16(5, true) + 256 : dv.getUint32(5, true);
        expect(contentSize).toBe(size);
        const file = join(scratch, `frame-${size}-${checksum}.zst`);
        writeFileSync(file, frame);
        const listed = execFileSync("zstd", ["-lv", file]).toString();
        expect(listed).toMatch(checksum ? /Check: XXH64/ : /Check: None/);
        if (checksum) {
          // A damaged checksum must be caught by the decoder: it is really the content's XXH64.
          const damaged = frame.slice();
          damaged[damaged.length - 1]! ^= 1;
          expect(() => zstdDecode(damaged)).toThrow();
        }
        expectBytes(zstdDecode(frame), data);
      }
    }
  });

  it("round-trips literals with Fibonacci-skewed frequencies (Huffman codes limited to 11 bits)", async () => {
    // Symbol i occurs fib(i) times: an unlimited Huffman code would be about 20 bits deep.
    const counts: number[] = [1, 1];
    while (counts.length < 22) counts.push(counts.at(-1)! + counts.at(-2)!);
    const symbols: number[] = counts.flatMap((n, i) => Array<number>(n).fill(i * 11 + 3));
    const order = randomBytes(symbols.length * 4, 17);
    for (let i = symbols.length - 1; i > 0; i--) {
      const j = (order[4 * i]! | (order[4 * i + 1]! << 8) | (order[4 * i + 2]! << 16)) % (i + 1);
      [symbols[i], symbols[j]] = [symbols[j]!, symbols[i]!];
    }
    const data = new Uint8Array(symbols);
    for (const level of [1, 3, 7]) {
      const frame = frameOf(await encoder(level), data)!;
      expect(frame.length).toBeLessThan(data.length / 2);
      expectBytes(zstdDecode(frame), data);
    }
  });

  it("is deterministic", async () => {
    const enc = await encoder(3);
    const data = binaryBytes(700_000, 4);
    const first = frameOf(enc, data)!;
    frameOf(enc, textBytes(300_000, 5));
    expectBytes(frameOf(enc, data)!, first);
    const other = await createZstdEncoder(ports, { level: 3 });
    expectBytes(frameOf(other, data)!, first);
  });

  it("leaves incompressible chunks to be stored raw", async () => {
    expect((await encoder(3)).compress(randomBytes(MiB, 77))).toBeUndefined();
    expect((await encoder(1)).compress(new Uint8Array(0))).toBeUndefined();
  });
});

describe("zstd encoder: hostile settings", () => {
  it("rejects levels out of range and inputs over 16 MiB with INVALID_ARGUMENT", async () => {
    for (const level of [0, -1, 10, 2.5, Number.NaN, 1e9]) {
      await expect(createZstdEncoder(ports, { level })).rejects.toMatchObject({ code: "INVALID_ARGUMENT" });
    }
    const enc = await encoder(3);
    expect(() => enc.compress(new Uint8Array(16 * MiB + 1))).toThrow(expect.objectContaining({ code: "INVALID_ARGUMENT" }));
    // Still usable afterwards.
    const data = textBytes(10_000, 3);
    expectBytes(zstdDecode(frameOf(enc, data)!), data);
  });
});

describe("zstd encoder: streams", () => {
  it("compresses a 40 MiB stream fed in uneven pieces (window slides) to a frame the CLI decodes", async () => {
    // 8 MiB of mixed content, repeated: matches sit right at the 8 MiB window edge.
    const unit = interleaved(8 * MiB, 12);
    unit.set(binaryBytes(2 * MiB, 13), 3 * MiB);
    const data = new Uint8Array(40 * MiB);
    for (let at = 0; at < data.length; at += unit.length) data.set(unit, at);
    const rng = randomBytes(4096, 14);
    for (const [level, checksum] of [[1, true], [3, false], [6, true]] as const) {
      const compressor = await createZstdCompressor(ports, { level, checksum });
      const parts: Uint8Array[] = [];
      compressor.init((bytes) => parts.push(bytes.slice()));
      let at = 0;
      for (let i = 0; at < data.length; i++) {
        const n = Math.min(data.length - at, (rng[i % rng.length]! << 10) + rng[(i + 1) % rng.length]! * 3);
        compressor.update(data.subarray(at, at + n));
        at += n;
      }
      compressor.final();
      const frame = concatBytes(parts);
      expect(frame.length).toBeLessThan(data.length);
      expectBytes(zstdDecode(frame), data);
    }
  });

  it("streams empty, tiny and block-sized inputs, also through a TransformStream", async () => {
    const compressor = await createZstdCompressor(ports, { checksum: true });
    for (const size of [0, 1, 1000, 128 << 10, (128 << 10) + 1, 3 * MiB]) {
      const data = textBytes(size, size);
      expectBytes(zstdDecode(transformAll(compressor, data)), data);
    }
    const data = binaryBytes(MiB, 15);
    const stream = new Blob([data.subarray(0, 1000), data.subarray(1000)]).stream().pipeThrough(toTransformStream(compressor));
    const frame = new Uint8Array(await new Response(stream).arrayBuffer());
    expectBytes(zstdDecode(frame), data);
  });

  it("rejects use before init and after final with KERNEL_STATE", async () => {
    const compressor = await createZstdCompressor(ports);
    expect(() => compressor.update(new Uint8Array(10))).toThrow(expect.objectContaining({ code: "KERNEL_STATE" }));
    compressor.init(() => {}).final();
    expect(() => compressor.final()).toThrow(expect.objectContaining({ code: "KERNEL_STATE" }));
    await expect(createZstdCompressor(ports, { level: 99 })).rejects.toMatchObject({ code: "INVALID_ARGUMENT" });
  });
});

// --- Compression ratio against the reference encoder -------------------------------------------

/** 1 MiB chunks of the largest base layer tar of /tmp/corpus, or undefined without the corpus. */
function corpusChunks(): Uint8Array[] | undefined {
  const blobs = "/tmp/corpus/images/base/blobs/sha256";
  if (!existsSync(blobs)) return undefined;
  const largest = readdirSync(blobs)
    .map((f) => join(blobs, f))
    .sort((a, b) => statSync(b).size - statSync(a).size)[0];
  if (!largest) return undefined;
  const raw = readFileSync(largest);
  const tar = new Uint8Array(raw[0] === 0x1f && raw[1] === 0x8b ? gunzipSync(raw) : raw);
  const chunks = [];
  for (let at = 0; at < tar.length; at += MiB) chunks.push(tar.subarray(at, Math.min(at + MiB, tar.length)));
  return chunks;
}

/** A generated 1 MiB-chunk mix of text, binaries and random data. */
function generatedChunks(): Uint8Array[] {
  return [textBytes(MiB, 1), binaryBytes(MiB, 2), interleaved(MiB, 3), randomBytes(MiB, 4), textBytes(MiB, 5), binaryBytes(MiB, 6)];
}

/** Stored size of a chunk: the frame, or the chunk itself when stored raw. */
function storedSize(enc: ZstdEncoder, chunk: Uint8Array): number {
  return enc.compress(chunk)?.length ?? chunk.length;
}

function referenceSize(chunk: Uint8Array): number {
  return Math.min(chunk.length, execFileSync("zstd", ["-3", "--no-check", "-c", "-q"], { input: chunk, maxBuffer: 64 * MiB }).length);
}

describe("zstd encoder: compression ratio", () => {
  const corpus = corpusChunks();

  it("default level stays within 1.10x of `zstd -3` on generated 1 MiB chunks", async () => {
    const enc = await createZstdEncoder(ports);
    const chunks = generatedChunks();
    const ours = chunks.reduce((n, c) => n + storedSize(enc, c), 0);
    const theirs = chunks.reduce((n, c) => n + referenceSize(c), 0);
    expect(ours / theirs).toBeLessThanOrEqual(1.1);
  });

  it.skipIf(!corpus)("every 1 MiB chunk of a real layer tar decodes with the CLI (needs /tmp/corpus)", async () => {
    const enc = await createZstdEncoder(ports);
    const frames: Uint8Array[] = [];
    const raw: Uint8Array[] = [];
    for (const chunk of corpus!) {
      const frame = enc.compress(chunk);
      if (frame === undefined) continue;
      frames.push(frame.slice());
      raw.push(chunk);
    }
    expect(frames.length).toBeGreaterThan(0);
    expectBytes(zstdDecode(concatBytes(frames)), concatBytes(raw));
  });

  it.skipIf(!corpus)("default level stays within 1.10x of `zstd -3` on a real layer's 1 MiB chunks (needs /tmp/corpus)", async () => {
    const enc = await createZstdEncoder(ports);
    const chunks = corpus!.slice(0, 24);
    const ours = chunks.reduce((n, c) => n + storedSize(enc, c), 0);
    const theirs = chunks.reduce((n, c) => n + referenceSize(c), 0);
    expect(ours / theirs).toBeLessThanOrEqual(1.1);
  });
});

// --- helpers ---------------------------------------------------------------------------------------

function concatBytes(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  parts.reduce((at, p) => (out.set(p, at), at + p.length), 0);
  return out;
}

/** 128 KiB stretches alternating between text and random bytes. */
function interleaved(size: number, seed: number): Uint8Array {
  const out = textBytes(size, seed);
  for (let at = 128 << 10; at < size; at += 256 << 10) out.set(randomBytes(Math.min(128 << 10, size - at), seed + at), at);
  return out;
}

/** Block types (0 raw, 1 RLE, 2 compressed) of a single-segment frame without dictionary. */
function blockTypes(frame: Uint8Array): number[] {
  const fcsFlag = frame[4]! >> 6;
  let at = 5 + [1, 2, 4, 8][fcsFlag]!;
  const types: number[] = [];
  for (;;) {
    const header = frame[at]! | (frame[at + 1]! << 8) | (frame[at + 2]! << 16);
    const type = (header >> 1) & 3;
    types.push(type);
    at += 3 + (type === 1 ? 1 : header >>> 3);
    if (header & 1) return types;
  }
}
