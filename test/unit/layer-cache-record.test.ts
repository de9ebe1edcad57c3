// Layer cache records: what a converted layer contributes to the merge, as JSON. Every record
// decodes to what was encoded; anything else is CORRUPT_DATA, never a crash.
import fc from "fast-check";
import { expect, test } from "vitest";
import { decodeRecord, encodeRecord, type LayerRecord, type RecordedEntry } from "../../src/convert/layer-cache.js";
import { isStrataError } from "../../src/errors.js";

const hex64 = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => Buffer.from(b).toString("hex"));
const u32 = fc.integer({ min: 0, max: 0xffff_ffff });
const chunk = (blobs: number) =>
  fc.record({
    digest: fc.uint8Array({ minLength: 32, maxLength: 32 }),
    blobIndex: fc.integer({ min: 0, max: blobs - 1 }),
    flags: fc.integer({ min: 0, max: 0x1f }),
    compressedOffset: fc.integer({ min: 0, max: 2 ** 40 }),
    compressedSize: u32,
    uncompressedOffset: fc.integer({ min: 0, max: 2 ** 44 }),
    uncompressedSize: u32,
    fileOffset: fc.integer({ min: 0, max: 2 ** 50 }),
    index: fc.integer({ min: 0, max: 0xff_ffff }),
    crc32: u32,
  });
const entry = (blobs: number): fc.Arbitrary<RecordedEntry> =>
  fc.record({
    header: fc.record({
      path: fc.string(),
      type: fc.constantFrom("file", "hardlink", "symlink", "chardev", "blockdev", "dir", "fifo" as const),
      mode: fc.integer({ min: 0, max: 0o7777 }),
      uid: u32,
      gid: u32,
      mtime: fc.integer({ min: -(2 ** 40), max: 2 ** 40 }),
      mtimeNsec: fc.integer({ min: 0, max: 999_999_999 }),
      size: fc.integer({ min: 0, max: 2 ** 40 }),
      linkname: fc.string(),
      devmajor: fc.integer({ min: 0, max: 4095 }),
      devminor: fc.integer({ min: 0, max: 2 ** 20 }),
      xattrs: fc.array(fc.tuple(fc.string({ minLength: 1 }), fc.uint8Array({ maxLength: 40 }))).map((pairs) => new Map(pairs)),
    }),
    chunks: fc.option(fc.array(chunk(blobs), { maxLength: 5 }), { nil: undefined }),
  }).map((e) => (e.chunks === undefined ? { header: e.header } : e));

const record: fc.Arbitrary<LayerRecord> = fc.array(hex64, { minLength: 1, maxLength: 4 }).chain((blobs) =>
  fc.record({
    blobs: fc.constant(blobs),
    entries: fc.array(entry(blobs.length), { maxLength: 12 }),
    blob: fc.option(
      fc.record({
        blobId: fc.constant(blobs[0]!),
        blobIndex: fc.nat(254),
        chunkSize: fc.constant(1 << 20),
        chunkCount: u32,
        compressor: fc.constantFrom("none", "lz4_block", "zstd" as const),
        digester: fc.constantFrom("blake3", "sha256" as const),
        features: u32,
        compressedSize: fc.nat(),
        uncompressedSize: fc.nat(),
        meta: fc.record({ compressor: fc.constant("none" as const), offset: fc.nat(), compressedSize: fc.nat(), uncompressedSize: fc.nat(), tocSize: fc.nat(), tocDigest: fc.uint8Array({ minLength: 32, maxLength: 32 }), metaDigest: fc.uint8Array({ minLength: 32, maxLength: 32 }), metaSize: fc.nat() }),
      }),
      { nil: undefined },
    ),
  }),
);

test("records decode to what was encoded", () => {
  fc.assert(
    fc.property(record, (r) => {
      expect(decodeRecord(encodeRecord(r))).toEqual(r);
    }),
    { numRuns: 200 },
  );
});

test("damaged records are CORRUPT_DATA", () => {
  const good = encodeRecord({ blobs: ["ab".repeat(32)], entries: [{ header: { path: "a", type: "file", mode: 0o644, uid: 0, gid: 0, mtime: 0, mtimeNsec: 0, size: 3, linkname: "", devmajor: 0, devminor: 0, xattrs: new Map() }, chunks: [] }] });
  const text = new TextDecoder().decode(good);
  const variants = [
    "",
    "null",
    "[]",
    text.slice(0, text.length - 3),
    text.replace('"file"', '"socket"'),
    text.replace('"format":"strata-layer-cache-1"', '"format":"strata-layer-cache-0"'),
    text.replace(`"${"ab".repeat(32)}"`, '"xyz"'),
    text.replace("[[", "[[1,"),
  ];
  for (const v of variants) {
    let error: unknown;
    try {
      decodeRecord(new TextEncoder().encode(v));
    } catch (e) {
      error = e;
    }
    expect(isStrataError(error, "CORRUPT_DATA"), v).toBe(true);
  }
  fc.assert(
    fc.property(fc.integer({ min: 0, max: good.length - 1 }), fc.integer({ min: 1, max: 255 }), (at, flip) => {
      const bytes = good.slice();
      bytes[at] ^= flip;
      try {
        decodeRecord(bytes);
      } catch (e) {
        expect(isStrataError(e, "CORRUPT_DATA")).toBe(true);
      }
    }),
    { numRuns: 300 },
  );
});
