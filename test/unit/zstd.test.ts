// Differential tests of the zstd decoder against the zstd CLI and fzstd: frames from many levels
// and options, pushed in random pieces, plus hand-built frames for every rejection path.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { decompress as fzstd } from "fzstd";
import { beforeAll, describe, expect, it } from "vitest";
import { type ErrorCode, isStrataError, StrataError } from "../../src/errors.js";
import type { ByteTransform } from "../../src/kernels/kernel.js";
import { concat, toTransformStream, transformAll } from "../../src/kernels/stream.js";
import { createZstdChunkDecoder, createZstdDecoder, type ZstdChunkDecoder } from "../../src/kernels/zstd.js";
import { ports } from "../helpers/kernels.js";

const KiB = 1024;
const MiB = 1 << 20;
const BLOCK = 128 * KiB;

function zstdCli(args: string[], input: Uint8Array): Uint8Array {
  return new Uint8Array(execFileSync("zstd", ["-q", ...args], { input, maxBuffer: 1 << 30 }));
}
/** Compresses through stdin, so the frame has no content size unless the CLI is told it. */
const compress = (data: Uint8Array, ...args: string[]) => zstdCli(["-c", ...args], data);

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

/** Words from a small vocabulary: matches at many distances, skewed literals (Huffman). */
function textBytes(size: number, seed: number): Uint8Array {
  const words = ["the", "layer", "chunk", "blob", "nydus", "rafs", "image", "\n", "digest", "of", "a", "file", "/usr/lib/", "x86_64"];
  const noise = randomBytes(size, seed);
  const out = new Uint8Array(size);
  const enc = new TextEncoder();
  let at = 0;
  for (let i = 0; at < size; i++) {
    const w = enc.encode(words[noise[i % size]! % words.length]! + (noise[(i + 7) % size]! < 20 ? String(noise[i % size]) : " "));
    out.set(w.subarray(0, size - at), at);
    at += w.length;
  }
  return out;
}

/** Binary-like bytes: small integers, zero runs, repeated records with short offsets. */
function binaryBytes(size: number, seed: number): Uint8Array {
  const noise = randomBytes(size, seed);
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) {
    const n = noise[i]!;
    out[i] = n < 64 ? 0 : n < 128 ? (i * 7) & 0x1f : n < 160 && i >= 12 ? out[i - 12]! : n & 3;
  }
  return out;
}

const repetitive = (size: number) => Uint8Array.from({ length: size }, (_, i) => "abcabcabd"[i % 9]!.charCodeAt(0));

function firstDifference(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? -1 : n;
}
function expectBytes(actual: Uint8Array, expected: Uint8Array): void {
  expect(firstDifference(actual, expected), `lengths ${actual.length} and ${expected.length}`).toBe(-1);
}

const concatBytes = (...parts: Uint8Array[]) => concat(parts);

/** A skippable frame (magic 0x184D2A50 + nibble) holding `payload`. */
function skippable(nibble: number, payload: Uint8Array): Uint8Array {
  const header = new Uint8Array(8);
  const view = new DataView(header.buffer);
  view.setUint32(0, 0x184d2a50 + nibble, true);
  view.setUint32(4, payload.length, true);
  return concatBytes(header, payload);
}

/** Feeds `input` in pieces of the given sizes (cycled) and returns the whole output. */
function decodeInPieces(decoder: ByteTransform, input: Uint8Array, sizes: number[]): Uint8Array {
  const parts: Uint8Array[] = [];
  decoder.init((bytes) => parts.push(bytes.slice()));
  let at = 0;
  for (let i = 0; at < input.length; i++) {
    const n = sizes.length ? sizes[i % sizes.length]! : input.length;
    decoder.update(input.subarray(at, at + n));
    at += n;
  }
  decoder.final();
  return concatBytes(...parts);
}

function expectError(fn: () => unknown, code: ErrorCode): StrataError {
  try {
    fn();
  } catch (e) {
    if (!isStrataError(e)) throw e;
    expect(e.code, e.message).toBe(code);
    return e;
  }
  throw new Error(`expected ${code}, but it succeeded`);
}

let decoder: ByteTransform;
let chunks: ZstdChunkDecoder;
beforeAll(async () => {
  decoder = await createZstdDecoder(ports);
  chunks = await createZstdChunkDecoder(ports);
});

const samples: [string, Uint8Array][] = [
  ["empty", new Uint8Array(0)],
  ["one byte", Uint8Array.of(42)],
  ["text 100 KiB", textBytes(100 * KiB, 1)],
  ["binary 300 KiB", binaryBytes(300 * KiB, 2)],
  ["random 200 KiB", randomBytes(200 * KiB, 3)],
  ["repetitive 500 KiB", repetitive(500 * KiB)],
  ["zeros 300 KiB (RLE blocks)", new Uint8Array(300 * KiB)],
  ["small alphabet (direct Huffman weights)", randomBytes(6000, 14).map((x) => (x < 128 ? 1 + (x & 1) : x & 15))],
  ["text block-1", textBytes(BLOCK - 1, 4)],
  ["text block", textBytes(BLOCK, 5)],
  ["text block+1", textBytes(BLOCK + 1, 6)],
  ["random 2 blocks+3", randomBytes(2 * BLOCK + 3, 7)],
  ["mixed 3 MiB", concatBytes(textBytes(MiB, 8), binaryBytes(MiB, 9), randomBytes(MiB / 2, 10), repetitive(MiB / 2))],
];

describe("zstd decoder vs the zstd CLI", () => {
  for (const level of [1, 3, 9, 19]) {
    for (const [name, data] of samples) {
      if (level >= 9 && data.length > MiB) continue; // slow to compress; the lower levels cover it
      it(`level ${level}: ${name}`, () => {
        const check = (level & 1) === 1 ? "--check" : "--no-check";
        const frame = compress(data, `-${level}`, check);
        const streamed = transformAll(decoder, frame);
        expectBytes(streamed, data);
        expectBytes(fzstd(frame), data);
        expectBytes(chunks.decompress(frame, data.length), data);
      });
    }
  }

  it("frames with and without a content size decode alike", () => {
    const data = textBytes(700 * KiB, 11);
    for (const args of [["--content-size"], ["--no-content-size"], ["--no-content-size", "--no-check"]]) {
      const withSize = zstdCli(["-c", "-3", ...args, "--stream-size=" + data.length], data);
      expectBytes(transformAll(decoder, withSize), data);
      expectBytes(chunks.decompress(withSize, data.length), data);
    }
  });

  it("small windows slide the history many times", () => {
    const data = concatBytes(textBytes(2 * MiB, 12), binaryBytes(MiB, 13));
    for (const wlog of [10, 14, 17, 20]) {
      const frame = compress(data, "-3", `--zstd=wlog=${wlog}`);
      expectBytes(transformAll(decoder, frame), data);
    }
  });

  it("memory stays bounded by the window, not the content size", async () => {
    const data = binaryBytes(48 * MiB, 40);
    const frame = compress(data, "-1", "--zstd=wlog=20"); // 1 MiB window, no content size
    const fresh = await createZstdDecoder(ports);
    let memory = 0;
    let at = 0;
    let same = true;
    fresh.init((bytes) => {
      memory = Math.max(memory, bytes.buffer.byteLength); // views over the kernel's memory
      same &&= firstDifference(bytes, data.subarray(at, at + bytes.length)) === -1;
      at += bytes.length;
    });
    fresh.update(frame).final();
    expect(same && at === data.length).toBe(true);
    expect(memory).toBeLessThan(8 * MiB);
  });

  it("long-distance matches in a 128 MiB window (--long=27)", async () => {
    const half = randomBytes(12 * MiB, 14);
    const data = concatBytes(half, textBytes(MiB, 15), half);
    const frame = compress(data, "-1", "--long=27");
    expect(frame.length).toBeLessThan(14 * MiB); // the second half really is a match 13 MiB back
    const big = await createZstdDecoder(ports);
    expectBytes(transformAll(big, frame), data);
    const small = await createZstdDecoder(ports, { maxWindow: 8 * MiB });
    const e = expectError(() => transformAll(small, frame), "UNSUPPORTED");
    expect(e.details.offset).toBe(0);
  });

  it("ultra level 22 with a 128 MiB window", async () => {
    const data = concatBytes(textBytes(MiB, 16), binaryBytes(MiB, 17));
    const frame = compress(data, "--ultra", "-22", "--long=27");
    expectBytes(transformAll(decoder, frame), data);
  });

  it("concatenated frames with skippable frames between them", () => {
    const a = textBytes(200 * KiB, 18);
    const b = binaryBytes(50 * KiB, 19);
    const c = randomBytes(3000, 20);
    const stream = concatBytes(
      skippable(0, randomBytes(100, 21)),
      compress(a, "-3"),
      skippable(15, new Uint8Array(0)),
      compress(b, "-19", "--no-check"),
      skippable(7, randomBytes(300 * KiB, 22)),
      compress(new Uint8Array(0), "-1"),
      compress(c, "-9"),
      skippable(3, randomBytes(5, 23)),
    );
    const expected = concatBytes(a, b, c);
    expectBytes(transformAll(decoder, stream), expected);
    expectBytes(chunks.decompress(stream, expected.length), expected);
    expectBytes(new Uint8Array(execFileSync("zstd", ["-dc"], { input: stream })), expected);
  });

  it("any split of the input decodes the same (fast-check)", () => {
    const data = concatBytes(textBytes(150 * KiB, 24), binaryBytes(100 * KiB, 25));
    const stream = concatBytes(compress(data, "-3"), skippable(1, randomBytes(40, 26)), compress(data.subarray(0, 5000), "-19"));
    const expected = concatBytes(data, data.subarray(0, 5000));
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.integer({ min: 1, max: 16 }), fc.integer({ min: 1, max: 300 * KiB })), { maxLength: 40 }), (sizes) => {
        expectBytes(decodeInPieces(decoder, stream, sizes), expected);
      }),
      { numRuns: 60, seed: 0x5eed },
    );
  });

  it("works as a Web TransformStream", async () => {
    const data = textBytes(400 * KiB, 27);
    const frame = compress(data, "-3");
    const stream = new Blob([frame]).stream().pipeThrough(toTransformStream(await createZstdDecoder(ports)));
    expectBytes(new Uint8Array(await new Response(stream).arrayBuffer()), data);
  });
});

/** A frame (128 KiB window, no checksum) of hand-built compressed blocks, the last one flagged. */
function handBlocks(...blocks: number[][]): Uint8Array {
  const parts = blocks.map((content, i) => {
    const header = (content.length << 3) | (2 << 1) | (i === blocks.length - 1 ? 1 : 0);
    return Uint8Array.of(header & 0xff, (header >> 8) & 0xff, header >> 16, ...content);
  });
  return concatBytes(Uint8Array.of(0x28, 0xb5, 0x2f, 0xfd, 0x00, 7 << 3), ...parts);
}
const ascii = (s: string) => [...s].map((c) => c.charCodeAt(0));
// Literals: raw "abcdefgh". Two sequences, all three tables in RLE mode: literal length code 4,
// offset code 2 (extra bits 0b11: offset value 7, a new offset of 4), match length code 5 (8).
const rleSequences = [0x40, ...ascii("abcdefgh"), 2, 0x54, 4, 2, 5, 0b0001_1111];
// No literals; one sequence with literal length 0 and offset value 3: repeat offset 1 minus one.
const repeatMinusOne = [0x00, 1, 0x54, 0, 1, 0, 0b11];
// No literals; 32 512 sequences (3-byte count) of length 3 alternating repeat offsets 2 and 1.
const manySequences = [0x00, 0xff, 0x00, 0x00, 0x54, 0, 0, 0, 0x01];
// RLE literals only: 20 × "Q" (1-byte header), then 1000 × "R" (2-byte header); no sequences.
const rleLiterals = [(20 << 3) | 1, 0x51, 0, ((1000 & 15) << 4) | (1 << 2) | 1, 1000 >> 4, 0x52, 0];

describe("zstd decoder on hand-built blocks (vs the zstd CLI)", () => {
  const cli = (frame: Uint8Array) => new Uint8Array(execFileSync("zstd", ["-dc"], { input: frame }));

  it("RLE table modes, new and repeat offsets, rep1 - 1", () => {
    const frame = handBlocks(rleSequences, repeatMinusOne);
    const expected = new TextEncoder().encode("abcdabcdabcdefghefghefgh" + "fgh");
    expectBytes(cli(frame), expected);
    expectBytes(transformAll(decoder, frame), expected);
  });

  it("a 3-byte sequence count and sequences without extra bits", () => {
    const frame = handBlocks(rleSequences, manySequences);
    const ours = transformAll(decoder, frame);
    expect(ours.length).toBe(24 + 32512 * 3);
    expectBytes(ours, cli(frame));
  });

  it("RLE literals and blocks without sequences", () => {
    const frame = handBlocks(rleLiterals.slice(0, 3), rleLiterals.slice(3));
    const expected = new TextEncoder().encode("Q".repeat(20) + "R".repeat(1000));
    expectBytes(cli(frame), expected);
    expectBytes(transformAll(decoder, frame), expected);
  });

  it("reserved bits in the sequence modes byte are CORRUPT_DATA", () => {
    const bad = handBlocks([0x00, 1, 0x55, 0, 1, 0, 0b11]);
    expectError(() => transformAll(decoder, bad), "CORRUPT_DATA");
    expect(() => cli(bad)).toThrow();
  });

  it("an offset beyond the decoded history is CORRUPT_DATA", () => {
    // first block: rep1 - 1 with rep1 = 1 is offset 0
    expectError(() => transformAll(decoder, handBlocks(repeatMinusOne)), "CORRUPT_DATA");
    // 32 512 sequences reaching 4 bytes back with nothing decoded yet
    expectError(() => transformAll(decoder, handBlocks(manySequences)), "CORRUPT_DATA");
  });
});

describe("zstd chunks of a real Nydus blob", () => {
  // tests/texture/blobs/be7d77ee...: two zstd chunks, lib.rs (16931 B, sha256 1810eba8...) and
  // sync_io.rs (13400 B, sha256 e629ab26...), then the blob's tar-framed metadata sections.
  const blob = new URL("../../../shared/fixtures/nydus/tests/texture/blobs/be7d77eeb719f70884758d1aa800ed0fb09d701aaec469964e9d54325f0d5fef", import.meta.url);
  it.skipIf(!existsSync(blob))("decode to the files the bootstrap records", () => {
    const bytes = new Uint8Array(readFileSync(blob));
    const files: [number, number, number, string][] = [
      [0, 4828, 16931, "1810eba8"],
      [4828, 7802, 13400, "e629ab26"],
    ];
    for (const [start, end, size, sha256] of files) {
      const chunk = bytes.subarray(start, end);
      const decoded = chunks.decompress(chunk, size);
      expect(createHash("sha256").update(decoded).digest("hex").startsWith(sha256)).toBe(true);
      expectBytes(decoded, zstdCli(["-dc"], chunk));
      expectBytes(transformAll(decoder, chunk), decoded);
    }
  });
});

describe("zstd layers of real OCI images", () => {
  // Every tar+zstd layer must decode, in random pushes, to the tar whose sha256 the config lists.
  const corpus = "/tmp/corpus/images";
  const images = existsSync(corpus) ? readdirSync(corpus).filter((name) => name.endsWith("-zstd")) : [];
  it.skipIf(images.length === 0)("decode to their diff_ids (skipped without /tmp/corpus)", async () => {
    const blob = (image: string, digest: string) => readFileSync(join(corpus, image, "blobs", ...digest.split(":")));
    const json = (image: string, digest: string) => JSON.parse(blob(image, digest).toString("utf8"));
    const noise = randomBytes(4096, 50);
    const streaming = await createZstdDecoder(ports);
    let layers = 0;
    for (const image of images) {
      const index = JSON.parse(readFileSync(join(corpus, image, "index.json"), "utf8"));
      const manifest = json(image, index.manifests[0].digest);
      const diffIds: string[] = json(image, manifest.config.digest).rootfs.diff_ids;
      manifest.layers.forEach((layer: { mediaType: string; digest: string }, i: number) => {
        if (!layer.mediaType.endsWith("+zstd")) return;
        const hash = createHash("sha256");
        const compressed = blob(image, layer.digest);
        streaming.init((bytes) => hash.update(bytes));
        for (let at = 0, k = 0; at < compressed.length; k++) {
          const n = 1 + ((noise[k % noise.length]! << 10) | noise[(k + 1) % noise.length]!);
          streaming.update(compressed.subarray(at, at + n));
          at += n;
        }
        streaming.final();
        expect(`sha256:${hash.digest("hex")}`, `${image} layer ${i}`).toBe(diffIds[i]);
        layers++;
      });
    }
    expect(layers).toBeGreaterThan(0);
  });
});

describe("zstd decoder errors", () => {
  const data = textBytes(300 * KiB, 30);
  const frame = compress(data, "-3", "--check");

  it("truncation anywhere inside a frame is TRUNCATED", () => {
    const cuts = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, frame.length - 1, frame.length - 4, frame.length - 5];
    for (let i = 1; i < 40; i++) cuts.push(Math.floor((frame.length * i) / 40));
    for (const cut of cuts) {
      const e = expectError(() => transformAll(decoder, frame.subarray(0, cut)), "TRUNCATED");
      expect(e.details.offset).toBe(cut);
      expectError(() => chunks.decompress(frame.subarray(0, cut), data.length), "TRUNCATED");
    }
  });

  it("a wrong checksum is CHECKSUM_MISMATCH at the checksum's offset", () => {
    const bad = frame.slice();
    bad[bad.length - 2]! ^= 0x10;
    const e = expectError(() => transformAll(decoder, bad), "CHECKSUM_MISMATCH");
    expect(e.details.offset).toBe(bad.length - 4);
    expectError(() => chunks.decompress(bad, data.length), "CHECKSUM_MISMATCH");
  });

  it("bit flips give a typed error or exactly what the zstd CLI decodes", () => {
    const small = compress(textBytes(20 * KiB, 31), "-19", "--check");
    const noise = randomBytes(400, 32);
    for (let i = 0; i < 200; i++) {
      const bad = small.slice();
      const at = ((noise[2 * i]! << 8) | noise[2 * i + 1]!) % bad.length;
      bad[at]! ^= 1 << (i & 7);
      let ours: Uint8Array | undefined;
      try {
        ours = transformAll(decoder, bad);
      } catch (e) {
        if (!isStrataError(e)) throw e;
        continue;
      }
      expectBytes(ours, new Uint8Array(execFileSync("zstd", ["-dc"], { input: bad })));
    }
  });

  /** A hand-built frame: magic, descriptor, then the given header fields and one empty raw block. */
  const handFrame = (...header: number[]) => Uint8Array.of(0x28, 0xb5, 0x2f, 0xfd, ...header, 0x01, 0x00, 0x00);

  it("hand-built frames: a valid empty frame decodes to nothing", () => {
    // single segment, 1-byte dictionary id 0, 1-byte content size 0
    expect(transformAll(decoder, handFrame(0x21, 0, 0)).length).toBe(0);
    expect(chunks.decompress(handFrame(0x21, 0, 0), 0).length).toBe(0);
  });

  it("a dictionary id is UNSUPPORTED", () => {
    expectError(() => transformAll(decoder, handFrame(0x21, 7, 0)), "UNSUPPORTED");
    expectError(() => transformAll(decoder, handFrame(0x02, 0x50, 1, 0)), "UNSUPPORTED"); // 2-byte id
    expectError(() => chunks.decompress(handFrame(0x23, 0, 0, 0, 1, 0), 0), "UNSUPPORTED"); // 4-byte id
  });

  it("a window beyond the limit is UNSUPPORTED", async () => {
    // window descriptor exponent 20: a 1 GiB window, no content size
    expectError(() => transformAll(decoder, handFrame(0x00, 20 << 3)), "UNSUPPORTED");
    const limited = await createZstdDecoder(ports, { maxWindow: 64 * KiB });
    expectError(() => transformAll(limited, compress(data, "-3", "--zstd=wlog=17")), "UNSUPPORTED");
    expectBytes(transformAll(limited, compress(data, "-3", "--zstd=wlog=16")), data);
  });

  it("reserved bits are CORRUPT_DATA", () => {
    expectError(() => transformAll(decoder, handFrame(0x28, 0)), "CORRUPT_DATA"); // descriptor bit 3
    // block type 3 is reserved
    expectError(() => transformAll(decoder, Uint8Array.of(0x28, 0xb5, 0x2f, 0xfd, 0x20, 0, 0x07, 0, 0)), "CORRUPT_DATA");
  });

  it("blocks larger than the window or 128 KiB are CORRUPT_DATA", () => {
    // raw block of 128 KiB + 1 in a frame with an 8 MiB window
    const size = BLOCK + 1;
    const header = [0x28, 0xb5, 0x2f, 0xfd, 0x00, 13 << 3, ((size << 3) | 1) & 0xff, (size >> 5) & 0xff, (size >> 13) & 0xff];
    expectError(() => transformAll(decoder, concatBytes(Uint8Array.from(header), new Uint8Array(size))), "CORRUPT_DATA");
    // a single-segment frame of 10 bytes whose raw block claims 11
    const bad = Uint8Array.of(0x28, 0xb5, 0x2f, 0xfd, 0x20, 10, (11 << 3) | 1, 0, 0, ...new Uint8Array(11));
    expectError(() => transformAll(decoder, bad), "CORRUPT_DATA");
  });

  it("a content size that does not match the blocks is CORRUPT_DATA", () => {
    // single segment, content size 5, one raw block of 4 bytes
    expectError(() => transformAll(decoder, Uint8Array.of(0x28, 0xb5, 0x2f, 0xfd, 0x20, 5, (4 << 3) | 1, 0, 0, 1, 2, 3, 4)), "CORRUPT_DATA");
  });

  it("bad magic and trailing garbage are CORRUPT_DATA, after the good frames' output", () => {
    expectError(() => transformAll(decoder, Uint8Array.of(1, 2, 3, 4, 5)), "CORRUPT_DATA");
    const parts: Uint8Array[] = [];
    decoder.init((bytes) => parts.push(bytes.slice()));
    const e = expectError(() => decoder.update(concatBytes(frame, Uint8Array.of(0, 0, 0, 0))), "CORRUPT_DATA");
    expect(e.details.offset).toBe(frame.length);
    expectBytes(concatBytes(...parts), data);
  });

  it("maxOutput is enforced with OUTPUT_LIMIT", async () => {
    const limited = await createZstdDecoder(ports, { maxOutput: 100 * KiB });
    expectError(() => transformAll(limited, frame), "OUTPUT_LIMIT");
    const enough = await createZstdDecoder(ports, { maxOutput: data.length });
    expectBytes(transformAll(enough, frame), data);
  });

  it("the chunk decoder rejects a wrong size with CORRUPT_DATA", () => {
    expectError(() => chunks.decompress(frame, data.length - 1), "CORRUPT_DATA");
    expectError(() => chunks.decompress(frame, data.length + 1), "CORRUPT_DATA");
    expectBytes(chunks.decompress(frame, data.length), data); // still usable afterwards
  });

  it("use out of order is KERNEL_STATE and bad options are INVALID_ARGUMENT", async () => {
    const fresh = await createZstdDecoder(ports);
    expectError(() => fresh.update(frame), "KERNEL_STATE");
    await expect(createZstdDecoder(ports, { maxWindow: 5 })).rejects.toThrow(StrataError);
    await expect(createZstdDecoder(ports, { maxOutput: -1 })).rejects.toThrow(StrataError);
    expectError(() => chunks.decompress(frame, -1), "INVALID_ARGUMENT");
  });

  it("the decoder recovers after an error when re-initialised", () => {
    expectError(() => transformAll(decoder, frame.subarray(0, 1000)), "TRUNCATED");
    expectBytes(transformAll(decoder, frame), data);
  });
});
