import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import fc from "fast-check";
import { blake3, xxhash32 } from "hash-wasm";
import { beforeAll, describe, expect, it } from "vitest";
import { isStrataError } from "../../src/errors.js";
import type { ChunkCodec } from "../../src/kernels/kernel.js";
import { createLz4 } from "../../src/kernels/lz4.js";
import { ports } from "../helpers/kernels.js";

const MiB = 1 << 20;
const fixtures = new URL("../../../shared/fixtures/nydus/", import.meta.url);

let lz4: ChunkCodec;
beforeAll(async () => {
  lz4 = await createLz4(ports);
});

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

/** Text-like bytes: words from a small vocabulary, so there are matches at many distances. */
function textBytes(size: number, seed: number): Uint8Array {
  const words = ["the", "layer", "chunk", "blob", "nydus", "rafs", "image", "\n", "digest", "of", "a", "file", "/usr/lib/", "x86_64"];
  const noise = randomBytes(size, seed);
  const out = new Uint8Array(size);
  const enc = new TextEncoder();
  let at = 0;
  for (let i = 0; at < size; i++) {
    const w = enc.encode(words[noise[i % size]! % words.length]! + " ");
    out.set(w.subarray(0, size - at), at);
    at += w.length;
  }
  return out;
}

/** Index of the first difference between a and b (-1 when equal): keeps failures readable for MiB arrays. */
function firstDifference(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? -1 : n;
}

function expectBytes(actual: Uint8Array, expected: Uint8Array): void {
  expect(firstDifference(actual, expected), `lengths ${actual.length} and ${expected.length}`).toBe(-1);
}

function roundTrip(data: Uint8Array): void {
  const packed = lz4.compress(data);
  if (packed === undefined) {
    // Only incompressible (or tiny) inputs may be left raw.
    expect(data.length < 64 || isMostlyRandom(data)).toBe(true);
    return;
  }
  expect(packed.length).toBeLessThan(data.length);
  const copy = packed.slice();
  expectBytes(lz4.decompress(copy, data.length), data);
}

function isMostlyRandom(data: Uint8Array): boolean {
  const seen = new Set<number>();
  for (let i = 0; i + 3 < data.length; i += 4) seen.add(data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16));
  return seen.size > data.length / 8;
}

// --- LZ4 frames for the CLI: one independent block per frame -------------------------------------

/** Wraps one raw block into a minimal LZ4 frame (4 MiB max block, independent, no checksums). */
async function frameOf(block: Uint8Array): Promise<Uint8Array> {
  const flg = 0b0110_0000; // version 01, independent blocks
  const bd = 7 << 4; // 4 MiB blocks
  const hc = (parseInt(await xxhash32(new Uint8Array([flg, bd]), 0), 16) >>> 8) & 0xff;
  const frame = new Uint8Array(4 + 3 + 4 + block.length + 4);
  const dv = new DataView(frame.buffer);
  dv.setUint32(0, 0x184d2204, true);
  frame.set([flg, bd, hc], 4);
  dv.setUint32(7, block.length, true);
  frame.set(block, 11);
  dv.setUint32(11 + block.length, 0, true);
  return frame;
}

/** The raw blocks of an LZ4 frame the CLI wrote (compressed blocks only; uncompressed are raw). */
function blocksOf(frame: Uint8Array): { data: Uint8Array; compressed: boolean }[] {
  const dv = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  expect(dv.getUint32(0, true)).toBe(0x184d2204);
  const flg = frame[4]!;
  let at = 4 + 2 + ((flg & 0x08) !== 0 ? 8 : 0) + ((flg & 0x01) !== 0 ? 4 : 0) + 1;
  const blockChecksum = (flg & 0x10) !== 0;
  const blocks = [];
  for (;;) {
    const word = dv.getUint32(at, true);
    at += 4;
    if (word === 0) break;
    const size = word & 0x7fffffff;
    blocks.push({ data: frame.subarray(at, at + size), compressed: (word & 0x80000000) === 0 });
    at += size + (blockChecksum ? 4 : 0);
  }
  return blocks;
}

describe("lz4 round trips", () => {
  it("round-trips random, text-like and repetitive inputs (property)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 200_000 }),
        fc.integer({ min: 1, max: 2 ** 31 - 1 }),
        fc.constantFrom("random", "text", "runs", "mixed"),
        (size, seed, kind) => {
          let data: Uint8Array;
          if (kind === "random") data = randomBytes(size, seed);
          else if (kind === "text") data = textBytes(size, seed);
          else if (kind === "runs") data = new Uint8Array(size).fill(seed & 0xff);
          else {
            data = textBytes(size, seed);
            data.set(randomBytes(size >> 1, seed).subarray(0, size >> 2), size >> 2);
          }
          roundTrip(data);
        },
      ),
      { numRuns: 200, seed: 0x1234 },
    );
  });

  it("round-trips arbitrary byte arrays (property)", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 3000 }), (data) => {
        const packed = lz4.compress(data);
        if (packed !== undefined) expect(lz4.decompress(packed.slice(), data.length)).toEqual(data);
      }),
      { numRuns: 500, seed: 7 },
    );
  });

  it("round-trips sizes around the end-of-block limits", () => {
    for (let size = 0; size <= 40; size++) {
      const data = new Uint8Array(size).fill(0x61);
      const packed = lz4.compress(data);
      if (packed !== undefined) expect(lz4.decompress(packed.slice(), size)).toEqual(data);
    }
  });

  it("round-trips multi-MiB inputs, including the 16 MiB maximum and offsets near 64 KiB", () => {
    const big = textBytes(16 * MiB, 99);
    roundTrip(big);
    // A 64 KiB random block repeated: matches sit exactly at offset 65536 (too far) and 65535.
    const block = randomBytes(65535, 5);
    const rep = new Uint8Array(3 * MiB);
    for (let at = 0; at < rep.length; at += block.length) rep.set(block.subarray(0, rep.length - at), at);
    roundTrip(rep);
    roundTrip(randomBytes(4 * MiB, 3));
  });

  it("is deterministic", () => {
    const data = textBytes(300_000, 11);
    const a = lz4.compress(data)!.slice();
    lz4.compress(randomBytes(100_000, 1));
    expectBytes(lz4.compress(data)!, a);
  });

  it("leaves incompressible chunks raw and compresses repetitive chunks well", () => {
    expect(lz4.compress(randomBytes(MiB, 8))).toBeUndefined();
    expect(lz4.compress(new Uint8Array(0))).toBeUndefined();
    expect(lz4.compress(new Uint8Array(MiB))!.length).toBeLessThan(MiB / 200);
  });

  it("rejects chunks over 16 MiB and impossible sizes", () => {
    expect(() => lz4.compress(new Uint8Array(16 * MiB + 1))).toThrow(expect.objectContaining({ code: "INVALID_ARGUMENT" }));
    expect(() => lz4.decompress(new Uint8Array([0]), 16 * MiB + 1)).toThrow(expect.objectContaining({ code: "INVALID_ARGUMENT" }));
    expect(() => lz4.decompress(new Uint8Array([0]), -1)).toThrow(expect.objectContaining({ code: "INVALID_ARGUMENT" }));
  });
});

describe("lz4 against the lz4 CLI", () => {
  it("our blocks decode with `lz4 -d`", async () => {
    const inputs = [textBytes(1, 1), textBytes(5000, 2), textBytes(MiB, 3), new Uint8Array(2 * MiB).fill(7), randomBytes(4 * MiB, 4).fill(1, MiB, 3 * MiB)];
    for (const data of inputs) {
      const block = lz4.compress(data);
      if (block === undefined) continue;
      const out = execFileSync("lz4", ["-d", "-c"], { input: await frameOf(block), maxBuffer: 64 * MiB });
      expectBytes(new Uint8Array(out), data);
    }
  });

  it("decodes blocks the CLI compressed, at fast and high levels", () => {
    const inputs = [textBytes(100_000, 21), textBytes(4 * MiB, 22), new Uint8Array(MiB).fill(3), randomBytes(MiB, 23).fill(0, 1000, 500_000)];
    for (const level of ["-1", "-9", "--fast=5"]) {
      for (const data of inputs) {
        const frame = execFileSync("lz4", [level, "-B7", "-c", "--no-frame-crc"], { input: data, maxBuffer: 64 * MiB });
        const blocks = blocksOf(new Uint8Array(frame));
        expect(blocks).toHaveLength(1);
        expect(blocks[0]!.compressed).toBe(true);
        expectBytes(lz4.decompress(blocks[0]!.data, data.length), data);
      }
    }
  });
});

describe("lz4 on malformed blocks", () => {
  const corrupt = (data: Uint8Array, size: number) =>
    expect(() => lz4.decompress(data, size)).toThrow(expect.objectContaining({ code: "CORRUPT_DATA" }));

  it("rejects empty, truncated and overlong blocks", () => {
    corrupt(new Uint8Array(0), 0);
    corrupt(new Uint8Array([0x50, 1, 2, 3]), 5); // literals run past the input
    corrupt(new Uint8Array([0x10, 0x61]), 2); // decodes to fewer bytes than asked
    corrupt(new Uint8Array([0x20, 0x61, 0x62]), 1); // more bytes than asked
    corrupt(new Uint8Array([0xf0]), 15); // length continuation missing
    corrupt(new Uint8Array([0xf0, 255, 255, 255]), 100); // length beyond the output
    corrupt(new Uint8Array([0x10, 0x61, 0x01]), 5); // offset cut short
  });

  it("rejects offsets of zero and offsets before the start of the output", () => {
    corrupt(new Uint8Array([0x10, 0x61, 0x00, 0x00, 0x00]), 6);
    corrupt(new Uint8Array([0x10, 0x61, 0x02, 0x00, 0x00]), 6);
    corrupt(new Uint8Array([0x1f, 0x61, 0x02, 0x00, 0xff, 0xff, 0xff, 0x10]), 900);
  });

  it("rejects a match that runs past the output", () => {
    // "a" then a 4-byte match of offset 1 and 5 literal bytes, asked for 5 bytes.
    corrupt(new Uint8Array([0x10, 0x61, 0x01, 0x00, 0x50, 1, 2, 3, 4, 5]), 5);
    expect(lz4.decompress(new Uint8Array([0x10, 0x61, 0x01, 0x00, 0x50, 1, 2, 3, 4, 5]), 10)).toEqual(
      new Uint8Array([0x61, 0x61, 0x61, 0x61, 0x61, 1, 2, 3, 4, 5]),
    );
  });

  it("reports a typed error for every truncation of a valid block", () => {
    const data = textBytes(20_000, 31);
    const block = lz4.compress(data)!.slice();
    for (let cut = 0; cut < block.length; cut += 7) {
      try {
        lz4.decompress(block.subarray(0, cut), data.length);
        expect.unreachable(`truncated at ${cut} decoded`);
      } catch (e) {
        expect(isStrataError(e, "CORRUPT_DATA")).toBe(true);
      }
    }
  });
});

// --- The real Nydus fixture: an lz4_block blob and its RAFS v5 bootstrap -------------------------

interface ChunkRecord {
  id: Uint8Array;
  compressed: boolean;
  compressedOffset: number;
  compressedSize: number;
  uncompressedOffset: number;
  uncompressedSize: number;
}

/** The chunk records of every regular file in a RAFS v5 bootstrap (NYDUS-FORMAT.md, RAFS v5). */
function v5Chunks(boot: Uint8Array): ChunkRecord[] {
  const dv = new DataView(boot.buffer, boot.byteOffset, boot.byteLength);
  expect(dv.getUint32(0, true)).toBe(0x52414653);
  expect(dv.getUint32(4, true)).toBe(0x500);
  const inodeTable = Number(dv.getBigUint64(32, true));
  const inodeCount = dv.getUint32(56, true);
  const pad8 = (n: number) => (n + 7) & ~7;
  const chunks: ChunkRecord[] = [];
  for (let i = 0; i < inodeCount; i++) {
    const inode = dv.getUint32(inodeTable + 4 * i, true) * 8;
    const mode = dv.getUint32(inode + 60, true);
    const flags = dv.getBigUint64(inode + 80, true);
    const chunkCount = dv.getUint32(inode + 96, true);
    let at = inode + 128 + pad8(dv.getUint16(inode + 100, true)) + pad8(dv.getUint16(inode + 102, true));
    if ((flags & 4n) !== 0n) at += 8 + pad8(Number(dv.getBigUint64(at, true)));
    if ((mode & 0o170000) !== 0o100000) continue;
    for (let c = 0; c < chunkCount; c++, at += 80) {
      chunks.push({
        id: boot.subarray(at, at + 32),
        compressed: (dv.getUint32(at + 36, true) & 1) !== 0,
        compressedSize: dv.getUint32(at + 40, true),
        uncompressedSize: dv.getUint32(at + 44, true),
        compressedOffset: Number(dv.getBigUint64(at + 48, true)),
        uncompressedOffset: Number(dv.getBigUint64(at + 56, true)),
      });
    }
  }
  return chunks;
}

describe("lz4 on the real Nydus lz4_block blob", () => {
  const bootPath = new URL("_history/5be153feb0c08571e88934e9020c208d85aefeb0/tests/texture/repeatable/blake3-lz4_block-non_repeatable", fixtures);
  const lz4BlobPath = new URL("tests/texture/repeatable/blobs/d7b86b1e74e316fe945741d1a9fa1b271459fe41481e304977659e0c6ecf56ac", fixtures);
  const rawBlobPath = new URL("tests/texture/repeatable/blobs/7334a2594e133cf8ae364189c2276b090fc490c627bcc3fb1077f0419a538e00", fixtures);
  const present = existsSync(bootPath) && existsSync(lz4BlobPath) && existsSync(rawBlobPath);

  it.skipIf(!present)("decompresses all 29 chunks to the uncompressed blob's bytes and their BLAKE3 ids", async () => {
    const chunks = v5Chunks(readFileSync(bootPath));
    const lz4Blob = new Uint8Array(readFileSync(lz4BlobPath));
    const rawBlob = new Uint8Array(readFileSync(rawBlobPath));
    expect(chunks).toHaveLength(29);
    let compressedChunks = 0;
    for (const c of chunks) {
      const stored = lz4Blob.subarray(c.compressedOffset, c.compressedOffset + c.compressedSize);
      let data = stored;
      if (c.compressed) {
        data = lz4.decompress(stored, c.uncompressedSize).slice();
        compressedChunks++;
      }
      expectBytes(data, rawBlob.subarray(c.uncompressedOffset, c.uncompressedOffset + c.uncompressedSize));
      expect(await blake3(data)).toBe(Buffer.from(c.id).toString("hex"));
    }
    expect(compressedChunks).toBeGreaterThan(20);
  });

  it.skipIf(!present)("compresses the same chunks to blocks that decode to them", () => {
    const rawBlob = new Uint8Array(readFileSync(rawBlobPath));
    for (const c of v5Chunks(readFileSync(bootPath))) {
      const chunk = rawBlob.slice(c.uncompressedOffset, c.uncompressedOffset + c.uncompressedSize);
      const packed = lz4.compress(chunk);
      if (packed !== undefined) expectBytes(lz4.decompress(packed.slice(), chunk.length), chunk);
    }
  });
});
