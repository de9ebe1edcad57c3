// Blob devices: each chunk decompressed at its uncompressed offset, zeros between, digest-checked.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { isStrataError } from "../../src/errors.js";
import { createBlake3 } from "../../src/kernels/blake3.js";
import { chunkCodecFor, rafsKernels } from "../../src/kernels/index.js";
import { createSha256, createStreamingSha256 } from "../../src/kernels/sha256.js";
import { bytesSource, openBlob } from "../../src/rafs/blob-reader.js";
import { BlobWriter } from "../../src/rafs/blob-writer.js";
import { blobChunks, blobDevice } from "../../src/rafs/device.js";
import type { BlobInfo, ChunkInfo } from "../../src/rafs/types.js";
import { ports } from "../helpers/kernels.js";

const kernels = await rafsKernels(ports);
const blake3 = await createBlake3(ports);
const texture = new URL("../../../shared/fixtures/nydus/tests/texture/", import.meta.url);
const sha256hex = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

async function device(blobBytes: Uint8Array, info: BlobInfo, chunks?: Iterable<ChunkInfo>): Promise<Uint8Array> {
  const blob = await openBlob(bytesSource(blobBytes), { info });
  const parts: Uint8Array[] = [];
  for await (const p of blobDevice(blob, info, chunks ?? blobChunks(blob, info), kernels.codec(info.compressor), kernels.hasher(info.digester))) parts.push(p.slice());
  return new Uint8Array(Buffer.concat(parts));
}

async function code(p: Promise<unknown>): Promise<string> {
  return p.then(() => "ok", (e: unknown) => (isStrataError(e) ? e.code : String(e)));
}

test("the fixture blob be7d77…: its two zstd chunks land at 0 and 20480 of a 9-block device", async () => {
  const id = "be7d77eeb719f70884758d1aa800ed0fb09d701aaec469964e9d54325f0d5fef";
  const bytes = new Uint8Array(readFileSync(new URL(`blobs/${id}`, texture)));
  const info: BlobInfo = { blobId: id, blobIndex: 0, chunkSize: 1 << 20, chunkCount: 2, compressor: "zstd", digester: "blake3", features: 0, compressedSize: bytes.length, uncompressedSize: 36864, meta: { compressor: "none", offset: 8314, compressedSize: 32, uncompressedSize: 32, tocSize: 1024 } };
  const dev = await device(bytes, info);
  expect(dev.length).toBe(36864);
  // The README's sha256 sums of lib.rs and sync_io.rs.
  expect(sha256hex(dev.subarray(0, 16931)).slice(0, 8)).toBe("1810eba8");
  expect(sha256hex(dev.subarray(20480, 20480 + 13400)).slice(0, 8)).toBe("e629ab26");
  expect(dev.subarray(16931, 20480).every((b) => b === 0) && dev.subarray(33880).every((b) => b === 0)).toBe(true);
});

/** A blob of the given raw chunks written by BlobWriter, with their records. */
async function written(raw: Uint8Array[], compressor: "none" | "lz4_block"): Promise<{ bytes: Uint8Array; info: BlobInfo; chunks: ChunkInfo[] }> {
  const codec = await chunkCodecFor(ports, compressor);
  const pieces: Uint8Array[] = [];
  const w = new BlobWriter({ blobIndex: 0, chunkSize: 65536, compressor, digester: "blake3", sha256: await createSha256(ports), dataSha256: await createStreamingSha256(ports), idSha256: await createStreamingSha256(ports), sink: (p) => void pieces.push(p.slice()) });
  const chunks: ChunkInfo[] = [];
  for (const r of raw) {
    const packed = codec?.compress(r);
    chunks.push(await w.addChunk({ digest: blake3.digest(r), uncompressedSize: r.length, data: packed ?? r, compressed: packed !== undefined }));
  }
  const info = await w.finish();
  return { bytes: new Uint8Array(Buffer.concat(pieces)), info, chunks };
}

describe("devices of written blobs", () => {
  test("equal the chunks laid at 4 KiB-aligned offsets, whatever order and repetition the records come in", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.record({ size: fc.integer({ min: 1, max: 30_000 }), fill: fc.integer({ min: 0, max: 255 }), seed: fc.integer() }), { minLength: 1, maxLength: 8 }), fc.boolean(), async (specs, lz4) => {
        const raw = specs.map((s) => new Uint8Array(s.size).map((_, i) => (i % 3 === 0 ? s.fill : (s.seed + i * 13) & 0xff)));
        const { bytes, info, chunks } = await written(raw, lz4 ? "lz4_block" : "none");
        const expected = new Uint8Array(info.uncompressedSize);
        chunks.forEach((c, i) => expected.set(raw[i]!, c.uncompressedOffset));
        const shuffled = [...chunks, ...chunks].reverse();
        expect(Buffer.from(await device(bytes, info, shuffled)).equals(Buffer.from(expected))).toBe(true);
        expect(Buffer.from(await device(bytes, info)).equals(Buffer.from(expected))).toBe(true);
      }),
      { numRuns: 20 },
    );
  });

  test("a chunk that does not match its digest, overlaps, is misaligned or runs past the device is refused", async () => {
    const raw = [new Uint8Array(5000).fill(7), new Uint8Array(100).fill(9)];
    const { bytes, info, chunks } = await written(raw, "none");
    const [a, b] = chunks as [ChunkInfo, ChunkInfo];
    const tampered = bytes.slice();
    tampered[b.compressedOffset + 50]! ^= 1;
    expect(await code(device(tampered, info, [a, b]))).toBe("DIGEST_MISMATCH");
    expect(await code(device(bytes, info, [a, { ...b, uncompressedOffset: 4096 }]))).toBe("BAD_BLOB");
    expect(await code(device(bytes, info, [a, { ...b, uncompressedOffset: 8200 }]))).toBe("BAD_BLOB");
    expect(await code(device(bytes, { ...info, uncompressedSize: 8192 }, [a, { ...b, uncompressedOffset: 8192 }]))).toBe("BAD_BLOB");
  });

  test("a blob without compression table has no chunk list of its own", async () => {
    const id = "7334a2594e133cf8ae364189c2276b090fc490c627bcc3fb1077f0419a538e00";
    const bytes = new Uint8Array(readFileSync(new URL(`repeatable/blobs/${id}`, texture)));
    const info: BlobInfo = { blobId: id, blobIndex: 0, chunkSize: 1 << 20, chunkCount: 0, compressor: "none", digester: "sha256", features: 0, compressedSize: bytes.length, uncompressedSize: bytes.length, meta: { compressor: "none", offset: 0, compressedSize: 0, uncompressedSize: 0, tocSize: 0 } };
    expect(await code(device(bytes, info))).toBe("UNSUPPORTED");
  });
});
