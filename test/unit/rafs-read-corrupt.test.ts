// Hostile input for the RAFS reader: corrupted and truncated bootstraps are BAD_BOOTSTRAP (never
// another exception, never a hang) and verifyBootstrap lists every problem; corrupted chunk data
// is DIGEST_MISMATCH naming file, chunk, blob and offset; corrupted blob sections are BAD_BLOB.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { isStrataError, type StrataError } from "../../src/errors.js";
import { bytesSource, openBlob } from "../../src/rafs/blob-reader.js";
import { parseBootstrap, verifyBootstrap } from "../../src/rafs/bootstrap.js";
import { lookup, MAX_IN_MEMORY_FILE, readFile, verifyChunks } from "../../src/rafs/read.js";
import { rafsKernels, type TestKernels } from "../helpers/rafs-kernels.js";

const texture = fileURLToPath(new URL("../../../shared/fixtures/nydus/tests/texture/", import.meta.url));
const V6 = new Uint8Array(readFileSync(join(texture, "bootstrap/rafs-v6-2.2.boot")));
const V6_BLOB = new Uint8Array(readFileSync(join(texture, "blobs/be7d77eeb719f70884758d1aa800ed0fb09d701aaec469964e9d54325f0d5fef")));
const V5 = new Uint8Array(readFileSync(join(texture, "repeatable/sha256-nocompress-repeatable")));
const V5_BLOB = new Uint8Array(readFileSync(join(texture, "repeatable/blobs/7334a2594e133cf8ae364189c2276b090fc490c627bcc3fb1077f0419a538e00")));

let kernels: TestKernels;
beforeAll(async () => {
  kernels = await rafsKernels();
});

// Standalone copies: Buffer#slice would share (and corrupt) the fixture bytes.
/** The StrataError `f` throws (failing the test if it throws anything else or nothing). */
function strataError(f: () => unknown): StrataError {
  try {
    f();
  } catch (e) {
    if (isStrataError(e)) return e;
    throw e;
  }
  throw new Error("expected a StrataError, nothing was thrown");
}

async function strataErrorAsync(f: () => Promise<unknown>): Promise<StrataError> {
  try {
    await f();
  } catch (e) {
    if (isStrataError(e)) return e;
    throw e;
  }
  throw new Error("expected a StrataError, nothing was thrown");
}

/** parse and verify must agree: parse throws BAD_BOOTSTRAP exactly when verify finds problems. */
function checkConsistent(bytes: Uint8Array): void {
  let problems;
  try {
    problems = verifyBootstrap(bytes).problems;
  } catch (e) {
    // Mutations can turn the image into a tarfs one: both entry points then say so.
    expect(isStrataError(e, "UNSUPPORTED"), String(e)).toBe(true);
    expect(strataError(() => parseBootstrap(bytes)).code).toBe("UNSUPPORTED");
    return;
  }
  let error: unknown;
  try {
    parseBootstrap(bytes);
  } catch (e) {
    error = e;
  }
  if (error === undefined) {
    expect(problems).toEqual([]);
  } else {
    expect(isStrataError(error, "BAD_BOOTSTRAP"), String(error)).toBe(true);
    expect(problems.length).toBeGreaterThan(0);
    expect((error as StrataError).message).toContain(problems[0]!.message);
  }
}

function mutate(base: Uint8Array, edits: [number, number][]): Uint8Array {
  const copy = base.slice();
  for (const [offset, value] of edits) copy[offset % copy.length] = value;
  return copy;
}

describe("corrupted RAFS v6 bootstraps", () => {
  it("every truncation is BAD_BOOTSTRAP", () => {
    for (let length = 0; length < V6.length; length += 97) {
      expect(strataError(() => parseBootstrap(V6.subarray(0, length))).code).toBe("BAD_BOOTSTRAP");
    }
  });

  // The structures that matter: superblocks and device table, blob table, inodes and dirents, chunk table.
  const hot = fc.oneof(
    fc.integer({ min: 1024, max: 1535 }),
    fc.integer({ min: 0x1000, max: 0x10ff }),
    fc.integer({ min: 0x3000, max: 0x315f }),
    fc.integer({ min: 0x4000, max: 0x409f }),
  );
  it("2 000 random mutations: parse is BAD_BOOTSTRAP exactly when verify lists problems", () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(hot, fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }), (edits) => {
        checkConsistent(mutate(V6, edits));
      }),
      { numRuns: 2000 },
    );
  });

  it("a dirent pointing back at the root is reported as a cycle, with the path", () => {
    const bytes = V6.slice();
    new DataView(bytes.buffer).setBigUint64(0x3058, 128n, true); // lib.rs's dirent → root nid
    const e = strataError(() => parseBootstrap(bytes));
    expect(e.code).toBe("BAD_BOOTSTRAP");
    expect(e.message).toMatch(/reached twice/);
    expect(e.details.path).toBe("/lib.rs");
  });

  it("a nid beyond the bootstrap is reported", () => {
    const bytes = V6.slice();
    new DataView(bytes.buffer).setBigUint64(0x3064, 1n << 40n, true); // sync_io.rs's dirent
    expect(strataError(() => parseBootstrap(bytes)).message).toMatch(/nid \d+ is outside the bootstrap/);
  });

  it("unsorted names are reported", () => {
    const bytes = V6.slice();
    bytes[0x3073] = "z".charCodeAt(0); // "lib.rs" → "zib.rs", now after "sync_io.rs"
    expect(strataError(() => parseBootstrap(bytes)).message).toMatch(/not strictly sorted/);
  });

  it("a chunk address naming a missing chunk is reported", () => {
    const bytes = V6.slice();
    bytes[0x30e0] = 7; // lib.rs chunk 0: compression-table index 0 → 7
    const e = strataError(() => parseBootstrap(bytes));
    expect(e.message).toMatch(/not in the chunk table/);
    expect(e.details).toMatchObject({ path: "/lib.rs", offset: 0x30e0 });
  });

  it("a directory block that overlaps an inode is reported", () => {
    const bytes = V6.slice();
    bytes[0x3000] = 1; // root: FLAT_INLINE → FLAT_PLAIN, so its i_u (block 3) holds its dirents: the root inode's own block
    const e = strataError(() => parseBootstrap(bytes));
    expect(e.message).toMatch(/data block 3 is also used by nid 128 \(\/\)/);
  });

  it("verifyBootstrap collects every problem instead of stopping at the first", () => {
    const bytes = V6.slice();
    const view = new DataView(bytes.buffer);
    view.setUint32(1024 + 4, 1, true); // superblock checksum
    view.setUint32(0x1040, 3, true); // blob table entry 0 says it is blob 3
    bytes[0x30e0] = 7; // missing chunk for /lib.rs
    bytes[0x4000] = 0xff; // chunk table no longer sorted by digest
    const { image, problems } = verifyBootstrap(bytes);
    expect(image).toBeDefined();
    const messages = problems.map((p) => p.message).join("\n");
    expect(messages).toMatch(/checksum/);
    expect(messages).toMatch(/says it is blob 3/);
    expect(messages).toMatch(/not sorted by digest/);
    expect(messages).toMatch(/not in the chunk table/);
    expect(problems.find((p) => p.path === "/lib.rs")).toBeDefined();
    // The good file is still read.
    expect(image!.root.entries!.get("sync_io.rs")!.chunks).toHaveLength(1);
  });

  it("tarfs images (512-byte blocks, TARTFS_MODE) are UNSUPPORTED, not BAD_BOOTSTRAP", () => {
    const small = V6.slice();
    small[1024 + 12] = 9;
    expect(strataError(() => parseBootstrap(small)).code).toBe("UNSUPPORTED");
    const tarfs = V6.slice();
    tarfs[1152 + 1] |= 0x2; // flags |= TARTFS_MODE (0x200)
    expect(strataError(() => verifyBootstrap(tarfs)).code).toBe("UNSUPPORTED");
  });

  it("a non-RAFS input is BAD_BOOTSTRAP", () => {
    expect(strataError(() => parseBootstrap(new Uint8Array(8192))).code).toBe("BAD_BOOTSTRAP");
    expect(verifyBootstrap(new Uint8Array(3)).problems).toHaveLength(1);
  });
});

describe("corrupted RAFS v5 bootstraps", () => {
  it("truncations are BAD_BOOTSTRAP or still parse consistently", () => {
    for (let length = 0; length < V5.length; length += 61) checkConsistent(V5.subarray(0, length));
  });

  it("an inode listed by two directories is reported, with both problems collected", () => {
    const bytes = V5.slice();
    const view = new DataView(bytes.buffer);
    const table = Number(view.getBigUint64(32, true));
    const hardlinkTest = view.getUint32(table + 4, true) * 8; // inode index 2: /hardlink-test
    view.setUint32(hardlinkTest + 92, 7, true); // its children now start at index 7, /normal-file-test's first child
    view.setUint32(hardlinkTest + 96, 1, true);
    const messages = verifyBootstrap(bytes).problems.map((p) => p.message);
    expect(messages.some((m) => /parent 3 is not the directory 2/.test(m))).toBe(true);
    expect(messages.some((m) => /inode index 7 is listed by two directories/.test(m))).toBe(true);
    expect(strataError(() => parseBootstrap(bytes)).code).toBe("BAD_BOOTSTRAP");
  });

  it("chunk records that run into the next inode are reported as an overlap", () => {
    const bytes = V5.slice();
    const view = new DataView(bytes.buffer);
    const table = Number(view.getBigUint64(32, true));
    const foo = view.getUint32(table + 4 * 4, true) * 8; // inode index 5: /hardlink-test/foo, 1 chunk
    view.setUint32(foo + 96, 3, true);
    const messages = verifyBootstrap(bytes).problems.map((p) => p.message);
    expect(messages).toContain("file has 3 chunks, its size needs 1");
    expect(messages.some((m) => /inode record overlaps inode 5 \(\/hardlink-test\/foo\)/.test(m))).toBe(true);
  });

  it("1 000 random mutations: parse is BAD_BOOTSTRAP exactly when verify lists problems", () => {
    const hot = fc.oneof(fc.integer({ min: 0, max: 127 }), fc.integer({ min: 8192, max: V5.length - 1 }));
    fc.assert(
      fc.property(fc.array(fc.tuple(hot, fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }), (edits) => {
        checkConsistent(mutate(V5, edits));
      }),
      { numRuns: 1000 },
    );
  });
});

describe("corrupted chunk data", () => {
  it("a flipped byte in an uncompressed v5 chunk is DIGEST_MISMATCH naming path, chunk, blob and offset", async () => {
    const image = parseBootstrap(V5);
    const path = "/normal-file-test/busybox/1f777dbdd68d1c4d554bc0d20e027bfef9ed2dfe2d8d5f029e958552a0e12475/layer.tar";
    const chunk = lookup(image, path).chunks![1]!;
    const blob = V5_BLOB.slice();
    blob[chunk.compressedOffset + 1000] ^= 0x40;
    const info = image.blobs[0]!;
    const opened = await openBlob(bytesSource(blob), { info });
    const e = await strataErrorAsync(() => readFile(image, path, new Map([[info.blobId, opened]]), kernels));
    expect(e.code).toBe("DIGEST_MISMATCH");
    expect(e.details).toMatchObject({ path, chunk: 1, blobId: info.blobId, offset: chunk.compressedOffset });
    // The other files of the blob still read.
    await expect(readFile(image, "/hardlink-test/foo", new Map([[info.blobId, opened]]), kernels)).resolves.toHaveLength(944);
  });

  it("a flipped byte inside a zstd chunk is DIGEST_MISMATCH unless zstd ignores that bit", async () => {
    // Some bits of a zstd frame are padding the decoder never looks at (the zstd CLI ignores them
    // too): such a flip still yields the original chunk. Any other flip must be DIGEST_MISMATCH,
    // never wrong content and never another error.
    const image = parseBootstrap(V6);
    const info = image.blobs[0]!;
    const chunk = lookup(image, "/sync_io.rs").chunks![0]!;
    const original = await readFile(image, "/sync_io.rs", new Map([[info.blobId, await openBlob(bytesSource(V6_BLOB), { info })]]), kernels);
    let mismatches = 0;
    let runs = 0;
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: chunk.compressedSize - 1 }), fc.integer({ min: 1, max: 255 }), async (at, xor) => {
        runs++;
        const blob = V6_BLOB.slice();
        blob[chunk.compressedOffset + at] ^= xor;
        const opened = await openBlob(bytesSource(blob), { info });
        try {
          const data = await readFile(image, "/sync_io.rs", new Map([[info.blobId, opened]]), kernels);
          expect(Buffer.from(data).equals(Buffer.from(original))).toBe(true);
        } catch (e) {
          expect(isStrataError(e, "DIGEST_MISMATCH"), String(e)).toBe(true);
          expect((e as StrataError).details).toMatchObject({ path: "/sync_io.rs", chunk: 0, blobId: info.blobId, offset: chunk.compressedOffset });
          mismatches++;
        }
      }),
      { numRuns: 300 },
    );
    expect(mismatches).toBeGreaterThan(runs / 2);
  });

  it("a flipped frame-header byte of a zstd chunk is DIGEST_MISMATCH", async () => {
    const image = parseBootstrap(V6);
    const info = image.blobs[0]!;
    const chunk = lookup(image, "/lib.rs").chunks![0]!;
    const blob = V6_BLOB.slice();
    blob[chunk.compressedOffset + 6] ^= 0x10; // inside the frame content size
    const opened = await openBlob(bytesSource(blob), { info });
    const e = await strataErrorAsync(() => readFile(image, "/lib.rs", new Map([[info.blobId, opened]]), kernels));
    expect(e.code).toBe("DIGEST_MISMATCH");
    expect(e.details).toMatchObject({ path: "/lib.rs", chunk: 0, blobId: info.blobId, offset: 0 });
  });

  it("verifyChunks lists every corrupted chunk once, with the first file holding it", async () => {
    const image = parseBootstrap(V5);
    const info = image.blobs[0]!;
    const clean = new Map([[info.blobId, await openBlob(bytesSource(V5_BLOB), { info })]]);
    expect(await verifyChunks(image, clean, kernels)).toEqual([]);
    const blob = V5_BLOB.slice();
    const hard = lookup(image, "/hardlink-test/foo").chunks![0]!;
    const passwd = lookup(image, "/normal-file-test/busybox/1f777dbdd68d1c4d554bc0d20e027bfef9ed2dfe2d8d5f029e958552a0e12475/etc/passwd").chunks![0]!;
    blob[hard.compressedOffset + 10] ^= 1;
    blob[passwd.compressedOffset + 10] ^= 1;
    const problems = await verifyChunks(image, new Map([[info.blobId, await openBlob(bytesSource(blob), { info })]]), kernels);
    expect(problems.map((p) => [p.path, p.chunk, p.code, p.offset])).toEqual([
      ["/hardlink-test/foo", 0, "DIGEST_MISMATCH", hard.compressedOffset],
      ["/normal-file-test/busybox/1f777dbdd68d1c4d554bc0d20e027bfef9ed2dfe2d8d5f029e958552a0e12475/etc/passwd", 0, "DIGEST_MISMATCH", passwd.compressedOffset],
    ]);
  });

  it("a file too large to hold in one array is OUTPUT_LIMIT for readFile", async () => {
    const image = parseBootstrap(V5);
    lookup(image, "/hardlink-test/foo").size = MAX_IN_MEMORY_FILE + 1;
    const e = await strataErrorAsync(() => readFile(image, "/hardlink-test/foo", new Map(), kernels));
    expect(e.code).toBe("OUTPUT_LIMIT");
  });

  it("an encrypted blob is UNSUPPORTED", async () => {
    const bytes = V6.slice();
    bytes[0x1000 + 216] = 1; // blob table entry 0: cipher_algo = aes128xts
    const image = parseBootstrap(bytes);
    expect(image.blobs[0]!.cipherAlgorithm).toBe(1);
    expect((await strataErrorAsync(() => readFile(image, "/lib.rs", new Map(), kernels))).code).toBe("UNSUPPORTED");
  });

  it("a missing blob is NOT_FOUND; a directory is not readable as a file", async () => {
    const image = parseBootstrap(V6);
    expect((await strataErrorAsync(() => readFile(image, "/lib.rs", new Map(), kernels))).code).toBe("NOT_FOUND");
    expect((await strataErrorAsync(() => readFile(image, "/", new Map(), kernels))).code).toBe("INVALID_ARGUMENT");
    expect((await strataErrorAsync(() => readFile(image, "/nope", new Map(), kernels))).code).toBe("NOT_FOUND");
  });
});

describe("corrupted blob sections", () => {
  const image = parseBootstrap(V6);
  const info = image.blobs[0]!;
  const tocStart = V6_BLOB.length - info.meta.tocSize;

  it("a changed ToC byte is caught by the bootstrap's ToC digest", async () => {
    const blob = V6_BLOB.slice();
    blob[tocStart + 100] ^= 1; // inside the image.blob entry's reserved bytes
    const e = await strataErrorAsync(() => openBlob(bytesSource(blob), { info, sha256: kernels.hasher("sha256") }));
    expect(e.code).toBe("DIGEST_MISMATCH");
  });

  it("a compression table that disagrees with the bootstrap is BAD_BLOB when the chunk is read", async () => {
    const blob = V6_BLOB.slice();
    blob[info.meta.offset + 8] ^= 4; // chunk 0's compressed offset
    const opened = await openBlob(bytesSource(blob), { info });
    const e = await strataErrorAsync(() => readFile(image, "/lib.rs", new Map([[info.blobId, opened]]), kernels));
    expect(e.code).toBe("BAD_BLOB");
    expect(e.message).toMatch(/disagrees with the compression table/);
  });

  it("a blob.digest entry that differs from the bootstrap's chunk id is BAD_BLOB", async () => {
    const digests = (await openBlob(bytesSource(V6_BLOB), { info })).toc!.find((e) => e.name === "blob.digest")!;
    const blob = V6_BLOB.slice();
    blob[digests.compressedOffset + 3] ^= 1; // chunk 0's digest: /lib.rs
    const opened = await openBlob(bytesSource(blob), { info });
    const e = await strataErrorAsync(() => readFile(image, "/lib.rs", new Map([[info.blobId, opened]]), kernels));
    expect(e.code).toBe("BAD_BLOB");
    expect(e.message).toMatch(/blob\.digest/);
    // The same change is a section digest mismatch when the ToC digests are checked.
    const checked = await strataErrorAsync(() => openBlob(bytesSource(blob), { info, sha256: kernels.hasher("sha256") }));
    expect(checked.code).toBe("DIGEST_MISMATCH");
    expect(checked.details.section).toBe("blob.digest");
  });

  it("1 000 random mutations of the blob's metadata: openBlob succeeds or fails with a StrataError", async () => {
    const meta = fc.integer({ min: info.meta.offset, max: V6_BLOB.length - 1 });
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(meta, fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }), async (edits) => {
        const blob = mutate(V6_BLOB, edits);
        try {
          const opened = await openBlob(bytesSource(blob), { info, sha256: kernels.hasher("sha256") });
          await readFile(image, "/lib.rs", new Map([[info.blobId, opened]]), kernels);
        } catch (e) {
          expect(isStrataError(e), String(e)).toBe(true);
          expect(["BAD_BLOB", "DIGEST_MISMATCH", "UNSUPPORTED"]).toContain((e as StrataError).code);
        }
      }),
      { numRuns: 1000 },
    );
  });

  it("a truncated blob is BAD_BLOB or read without its ToC, never a crash", async () => {
    for (let length = 0; length < V6_BLOB.length; length += 211) {
      try {
        const opened = await openBlob(bytesSource(V6_BLOB.subarray(0, length)), { info });
        await readFile(image, "/lib.rs", new Map([[info.blobId, opened]]), kernels);
      } catch (e) {
        expect(isStrataError(e), String(e)).toBe(true);
      }
    }
  });
});
