// The Nydus blob writer: the real Nydus blob be7d77… rebuilt from its own chunks must come out
// byte for byte (but for the ToC entries' reserved bytes, which hold stray values in the
// fixture); blobs of random chunks must stream out, hash to their id and read back through
// strata's blob reader with every ToC digest checked.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { isStrataError } from "../../src/errors.js";
import { createSha256, createStreamingSha256 } from "../../src/kernels/sha256.js";
import { bytesSource, openBlob } from "../../src/rafs/blob-reader.js";
import { BLOB_FEATURES, BlobWriter, tarHeader, type BlobWriterOptions } from "../../src/rafs/blob-writer.js";
import { BlobSection, ChunkFlags, TOC_ENTRY_SIZE } from "../../src/rafs/layout.js";
import type { ChunkInfo } from "../../src/rafs/types.js";
import { nodeSha256 as nativeSha256Port } from "../../runtimes/node/sha256.js";
import { ports } from "../helpers/kernels.js";

const texture = new URL("../../../shared/fixtures/nydus/tests/texture/", import.meta.url);
const fixtureBlob = new Uint8Array(readFileSync(new URL("blobs/be7d77eeb719f70884758d1aa800ed0fb09d701aaec469964e9d54325f0d5fef", texture)));
const sha256 = () => createSha256(ports);
const nodeSha256 = (b: Uint8Array) => createHash("sha256").update(b).digest();

async function writer(extra: Partial<BlobWriterOptions> = {}): Promise<{ w: BlobWriter; pieces: Uint8Array[]; bytes: () => Uint8Array }> {
  const pieces: Uint8Array[] = [];
  const w = new BlobWriter({ blobIndex: 0, chunkSize: 0x10_0000, compressor: "zstd", digester: "blake3", sha256: await sha256(), sink: (b) => void pieces.push(b.slice()), ...extra });
  return { w, pieces, bytes: () => new Uint8Array(Buffer.concat(pieces)) };
}

describe("the fixture blob be7d77… rebuilt from its chunks", async () => {
  // Its two zstd chunks, as its compression table and blob.digest section describe them.
  const digests = fixtureBlob.subarray(12954, 12954 + 64);
  const chunks = [
    { data: fixtureBlob.subarray(0, 4828), uncompressedSize: 16931, digest: digests.subarray(0, 32) },
    { data: fixtureBlob.subarray(4828, 7802), uncompressedSize: 13400, digest: digests.subarray(32, 64) },
  ];
  const { w, bytes } = await writer({ idSha256: await createStreamingSha256(ports) });
  const infos: ChunkInfo[] = [];
  for (const c of chunks) infos.push(await w.addChunk({ ...c, compressed: true }));
  const info = await w.finish();
  const ours = bytes();

  test("every byte but the ToC entries' reserved tails matches", () => {
    expect(ours.length).toBe(fixtureBlob.length);
    const tocStart = fixtureBlob.length - 512 - 4 * TOC_ENTRY_SIZE;
    const differing: number[] = [];
    for (let i = 0; i < ours.length; i++) if (ours[i] !== fixtureBlob[i]) differing.push(i);
    // Only bytes 124..127 of the four ToC entries (reserved2 in storage/src/meta/toc.rs) differ.
    const reserved = new Set([0, 1, 2, 3].flatMap((e) => [124, 125, 126, 127].map((b) => tocStart + e * TOC_ENTRY_SIZE + b)));
    expect(differing.filter((i) => !reserved.has(i))).toEqual([]);
    expect(ours.subarray(tocStart).filter((_, i) => reserved.has(tocStart + i)).every((b) => b === 0)).toBe(true);
  });

  test("chunk records and blob-table fields are the ones the fixture bootstrap holds", () => {
    expect(infos.map((c) => [c.index, c.compressedOffset, c.compressedSize, c.uncompressedOffset, c.uncompressedSize, c.flags])).toEqual([
      [0, 0, 4828, 0, 16931, ChunkFlags.COMPRESSED],
      [1, 4828, 2974, 20480, 13400, ChunkFlags.COMPRESSED],
    ]);
    // rafs-v6-2.2.boot's blob table entry at 0x1000.
    const boot = readFileSync(new URL("bootstrap/rafs-v6-2.2.boot", texture));
    const entry = new DataView(boot.buffer, boot.byteOffset + 0x1000, 256);
    expect(info.chunkCount).toBe(entry.getUint32(72, true));
    expect(info.features).toBe(entry.getUint32(84, true));
    expect(info.compressedSize).toBe(Number(entry.getBigUint64(88, true)));
    expect(info.uncompressedSize).toBe(Number(entry.getBigUint64(96, true)));
    expect(info.meta.tocSize).toBe(entry.getUint32(104, true));
    expect(info.meta.offset).toBe(Number(entry.getBigUint64(112, true)));
    expect(info.meta.compressedSize).toBe(Number(entry.getBigUint64(120, true)));
    expect(info.meta.uncompressedSize).toBe(Number(entry.getBigUint64(128, true)));
    expect(info.features).toBe(BLOB_FEATURES);
    expect(info.blobId).toBe(createHash("sha256").update(ours).digest("hex"));
    expect(Buffer.from(info.meta.tocDigest!).equals(nodeSha256(ours.subarray(ours.length - info.meta.tocSize)))).toBe(true);
  });

  test("tar headers equal Nydus's, whatever the name and size", () => {
    for (const [name, at, size] of [
      [BlobSection.DATA, 7802, 7802],
      [BlobSection.META, 12442, 4128],
      [BlobSection.DIGEST, 13530 - 512, 64],
      [BlobSection.TOC, fixtureBlob.length - 512, 512],
    ] as const) {
      expect(Buffer.from(tarHeader(name, size)).equals(Buffer.from(fixtureBlob.subarray(at, at + 512))), name).toBe(true);
    }
  });
});

/** GNU tar size field: 11 octal digits and NUL, or 0x80 then a big-endian number. */
function tarSize(h: Uint8Array): number {
  if (h[124]! & 0x80) return h.subarray(125, 136).reduce((n, b) => n * 256 + b, 0);
  return parseInt(new TextDecoder().decode(h.subarray(124, 135)), 8);
}

test("tar header sizes beyond 11 octal digits use GNU base-256, checksums stay valid", () => {
  fc.assert(
    fc.property(fc.oneof(fc.integer({ min: 0, max: 8 ** 11 - 1 }), fc.integer({ min: 8 ** 11, max: Number.MAX_SAFE_INTEGER })), (size) => {
      const h = tarHeader(BlobSection.DATA, size);
      expect(tarSize(h)).toBe(size);
      let sum = 0;
      for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 0x20 : h[i]!;
      expect(parseInt(new TextDecoder().decode(h.subarray(148, 155)), 8)).toBe(sum);
    }),
  );
});

describe("blobs of random chunks", () => {
  const chunkArb = fc.record({ size: fc.integer({ min: 1, max: 20_000 }), seed: fc.integer({ min: 0, max: 255 }), compress: fc.boolean() });

  test("stream out in order, hash to their id, and read back with every section digest checked", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(chunkArb, { minLength: 1, maxLength: 12 }), async (specs) => {
        const { w, pieces, bytes } = await writer({ chunkSize: 32_768, compressor: "lz4_block", dataSha256: await createStreamingSha256({ ...ports, sha256: nativeSha256Port }), idSha256: await createStreamingSha256(ports) });
        const raw: Uint8Array[] = [];
        const infos: ChunkInfo[] = [];
        for (const s of specs) {
          const data = new Uint8Array(s.size).map((_, i) => (s.seed * 31 + i * 7) & 0xff);
          // "Compressed" stand-in: any shorter payload; the writer stores what it is given.
          const stored = s.compress && s.size > 1 ? data.subarray(0, s.size - 1) : data;
          raw.push(stored);
          infos.push(await w.addChunk({ digest: nodeSha256(data), uncompressedSize: s.size, data: stored, compressed: stored !== data }));
          expect(w.size).toBe(pieces.reduce((n, p) => n + p.length, 0));
        }
        const info = await w.finish();
        const blob = bytes();
        expect(info.compressedSize).toBe(blob.length);
        expect(info.blobId).toBe(createHash("sha256").update(blob).digest("hex"));
        expect(Buffer.concat(raw).equals(Buffer.from(blob.subarray(0, raw.reduce((n, r) => n + r.length, 0))))).toBe(true);

        const opened = await openBlob(bytesSource(blob), { info, sha256: await sha256() });
        for (const entry of opened.toc!) if (entry.name !== BlobSection.DATA) await opened.section(entry.name);
        // image.blob: offset recorded equal to its size (Nydus), digest over data + its tar header.
        const data = opened.toc!.find((e) => e.name === BlobSection.DATA)!;
        expect(data.compressedOffset).toBe(data.compressedSize);
        expect(Buffer.from(data.digest).equals(nodeSha256(blob.subarray(0, data.compressedSize + 512)))).toBe(true);
        expect(data.uncompressedSize).toBe(info.uncompressedSize);

        let offset = 0;
        for (const [i, c] of infos.entries()) {
          expect(c.uncompressedOffset).toBe(offset);
          offset += Math.ceil(c.uncompressedSize / 4096) * 4096;
          expect(opened.table![i]).toEqual({ compressedOffset: c.compressedOffset, compressedSize: c.compressedSize, uncompressedOffset: c.uncompressedOffset, uncompressedSize: c.uncompressedSize, compressed: c.flags === ChunkFlags.COMPRESSED });
          expect(Buffer.from(await opened.readChunk(c)).equals(Buffer.from(raw[i]!))).toBe(true);
        }
        expect(info.uncompressedSize).toBe(offset);
      }),
      { numRuns: 25 },
    );
  });
});

describe("misuse is a typed error", () => {
  const chunk = { digest: new Uint8Array(32), uncompressedSize: 100, data: new Uint8Array(100), compressed: false };
  const code = async (p: Promise<unknown>) => p.then(() => "ok", (e: unknown) => (isStrataError(e) ? e.code : String(e)));

  test("a blob without chunks, a second finish, a chunk after finish", async () => {
    expect(await code((await writer()).w.finish())).toBe("INVALID_ARGUMENT");
    const { w } = await writer();
    await w.addChunk(chunk);
    await w.finish();
    expect(await code(w.finish())).toBe("KERNEL_STATE");
    expect(await code(w.addChunk(chunk))).toBe("KERNEL_STATE");
  });

  test("a chunk size that is no power of two from 4 KiB to 16 MiB, a blob index a chunk index cannot name", async () => {
    for (const chunkSize of [0, 2048, 5000, 1 << 25]) expect(await code(writer({ chunkSize }))).toBe("INVALID_ARGUMENT");
    for (const blobIndex of [-1, 255, 1.5]) expect(await code(writer({ blobIndex }))).toBe("INVALID_ARGUMENT");
    expect(await code(writer({ chunkSize: 1 << 24, blobIndex: 254 }))).toBe("ok");
  });

  test("chunks that do not fit the chunk size or their compressed flag, or a short digest", async () => {
    const { w } = await writer({ chunkSize: 4096 });
    expect(await code(w.addChunk({ ...chunk, uncompressedSize: 4097, data: new Uint8Array(4097) }))).toBe("INVALID_ARGUMENT");
    expect(await code(w.addChunk({ ...chunk, compressed: true }))).toBe("INVALID_ARGUMENT");
    expect(await code(w.addChunk({ ...chunk, data: new Uint8Array(99) }))).toBe("INVALID_ARGUMENT");
    expect(await code(w.addChunk({ ...chunk, uncompressedSize: 0, data: new Uint8Array(0) }))).toBe("INVALID_ARGUMENT");
    expect(await code(w.addChunk({ ...chunk, digest: new Uint8Array(20) }))).toBe("INVALID_ARGUMENT");
    expect(w.chunkCount).toBe(0);
  });
});
