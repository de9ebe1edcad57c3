// Lazy reads (src/lazy) over a converted image whose blob reads are counted: a read fetches only
// the chunks it overlaps, adjacent chunks share one request, concurrent reads share a fetch,
// caches answer repeats, and a corrupted chunk is a typed error that returns no bytes.
import { readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { nodeChunkCache } from "../../runtimes/node/chunk-cache.js";
import { isStrataError, StrataError } from "../../src/errors.js";
import { rafsKernels } from "../../src/kernels/index.js";
import { openLazy, type LazyOptions } from "../../src/lazy/image.js";
import { MemoryChunkCache } from "../../src/lazy/memory-cache.js";
import { blobSet, type NydusImage } from "../../src/nydus/image.js";
import { readFile, type RafsKernels } from "../../src/rafs/read.js";
import type { ChunkInfo } from "../../src/rafs/types.js";
import { convertLazyFixture, countingImage, type LazyFixture, type RangeRequest } from "../helpers/lazy-image.js";
import { ports } from "../helpers/kernels.js";

let fixture: LazyFixture;
let image: NydusImage;
let kernels: RafsKernels;
const tempDirs: string[] = [];

beforeAll(async () => {
  kernels = await rafsKernels(ports);
  fixture = await convertLazyFixture();
  tempDirs.push(fixture.dir);
  image = await fixture.open();
});

afterAll(() => {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

function lazyWith(options: Partial<LazyOptions> = {}, tamper?: Parameters<typeof countingImage>[1]) {
  const counted = countingImage(image, tamper);
  return { lazy: openLazy(counted.image, { kernels, ...options }), requests: counted.requests };
}

function chunksOf(path: string): ChunkInfo[] {
  return openLazy(image, { kernels }).lookup(path).chunks!;
}

/** The stored byte ranges of chunks as [start, end) pairs, merged where they touch. */
function spans(chunks: readonly ChunkInfo[]): [number, number][] {
  const sorted = [...new Map(chunks.map((c) => [c.compressedOffset, c])).values()].sort((a, b) => a.compressedOffset - b.compressedOffset);
  return sorted.map((c) => [c.compressedOffset, c.compressedOffset + c.compressedSize]);
}

function rangesOf(requests: readonly RangeRequest[]): [number, number][] {
  return requests.map((r) => [r.offset, r.offset + r.length] as [number, number]).sort((a, b) => a[0] - b[0]);
}

/** Merges touching ranges, for comparing what was fetched with what was needed. */
function merged(ranges: [number, number][]): [number, number][] {
  const out: [number, number][] = [];
  for (const [s, e] of [...ranges].sort((a, b) => a[0] - b[0])) {
    const last = out[out.length - 1];
    if (last && last[1] === s) last[1] = e;
    else out.push([s, e]);
  }
  return out;
}

async function rejection(p: Promise<unknown>): Promise<StrataError> {
  const e = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!isStrataError(e)) throw new Error(`expected a StrataError, got ${String(e)}`);
  return e;
}

describe("the fixture", () => {
  it("has several chunks per large file, all in one blob, big.bin's end to end, and a deduplicated copy", () => {
    const big = chunksOf("/data/big.bin");
    expect(big.length).toBe(11);
    expect(image.blobs.size).toBe(1);
    for (let i = 1; i < big.length; i++) expect(big[i]!.compressedOffset).toBe(big[i - 1]!.compressedOffset + big[i - 1]!.compressedSize);
    expect(chunksOf("/data/copy.bin").map((c) => c.compressedOffset)).toEqual(big.map((c) => c.compressedOffset));
    // Compressed: stored sizes differ from 4 KiB, so offsets are not trivially aligned.
    expect(big.some((c) => c.compressedSize < c.uncompressedSize)).toBe(true);
  });
});

describe("LazyImage reads", () => {
  it("every file equals its source bytes and what the eager reader returns", async () => {
    const { lazy } = lazyWith();
    for (const [path, bytes] of fixture.files) {
      const got = await lazy.read(path);
      expect(Buffer.from(got).equals(Buffer.from(bytes)), path).toBe(true);
      const eager = await readFile(image.rafs!, path, blobSet(image, kernels), kernels);
      expect(Buffer.from(got).equals(Buffer.from(eager)), path).toBe(true);
    }
  });

  it("a small file fetches exactly its one chunk, in one request", async () => {
    const { lazy, requests } = lazyWith();
    const [chunk] = chunksOf("/app/app.py");
    expect(chunksOf("/app/app.py")).toHaveLength(1);
    await lazy.read("/app/app.py");
    expect(requests).toEqual([{ blobId: image.rafs!.blobs[0]!.blobId, offset: chunk!.compressedOffset, length: chunk!.compressedSize }]);
    expect(lazy.stats()).toMatchObject({ requests: 1, bytesFetched: chunk!.compressedSize, chunksFetched: 1, memoryHits: 0 });
  });

  it("a range read touches only the chunks it overlaps", async () => {
    const big = chunksOf("/data/big.bin");
    const { lazy, requests } = lazyWith();
    const got = await lazy.read("/data/big.bin", 5000, 100);
    expect(Buffer.from(got).equals(Buffer.from(fixture.files.get("/data/big.bin")!.subarray(5000, 5100)))).toBe(true);
    expect(rangesOf(requests)).toEqual(spans([big[1]!]));
    // Bytes 4090..12300 overlap chunks 0, 1, 2 and 3: one request covering exactly them.
    requests.length = 0;
    const { lazy: fresh, requests: seen } = lazyWith();
    await fresh.read("/data/big.bin", 4090, 12300 - 4090);
    expect(seen).toHaveLength(1);
    expect(rangesOf(seen)).toEqual(merged(spans(big.slice(0, 4))));
  });

  it("adjacent chunks coalesce into one request, up to the request limit", async () => {
    const big = chunksOf("/data/big.bin");
    const whole = merged(spans(big));
    const { lazy, requests } = lazyWith();
    await lazy.read("/data/big.bin");
    expect(requests).toHaveLength(1);
    expect(rangesOf(requests)).toEqual(whole);

    // A limit smaller than any chunk: one request per chunk.
    const single = lazyWith({ maxRequestBytes: 1 });
    await single.lazy.read("/data/big.bin");
    expect(rangesOf(single.requests)).toEqual(spans(big));

    // A limit of about three chunks: every request is within it, and together they are exactly the chunks.
    const limit = Math.max(...big.map((c) => c.compressedSize)) * 3;
    const limited = lazyWith({ maxRequestBytes: limit });
    const got = await limited.lazy.read("/data/big.bin");
    expect(Buffer.from(got).equals(Buffer.from(fixture.files.get("/data/big.bin")!))).toBe(true);
    expect(limited.requests.length).toBeGreaterThan(1);
    expect(limited.requests.length).toBeLessThan(big.length);
    for (const r of limited.requests) expect(r.length).toBeLessThanOrEqual(limit);
    expect(merged(rangesOf(limited.requests))).toEqual(whole);
  });

  it("random range reads return the source bytes and fetch only the chunks they overlap", async () => {
    const big = chunksOf("/data/big.bin");
    const source = fixture.files.get("/data/big.bin")!;
    await fc.assert(
      fc.asyncProperty(fc.nat(source.length + 10), fc.nat(20000), fc.integer({ min: 1, max: 40000 }), async (offset, length, maxRequestBytes) => {
        const { lazy, requests } = lazyWith({ maxRequestBytes });
        const got = await lazy.read("/data/big.bin", offset, length);
        expect(Buffer.from(got).equals(Buffer.from(source.subarray(offset, offset + length)))).toBe(true);
        const needed = big.filter((c) => c.fileOffset < offset + length && c.fileOffset + c.uncompressedSize > offset);
        expect(merged(rangesOf(requests))).toEqual(merged(spans(needed)));
        expect(lazy.stats().chunksFetched).toBe(needed.length);
      }),
      { numRuns: 60 },
    );
  });

  it("concurrent reads of one chunk make one request", async () => {
    const { lazy, requests } = lazyWith();
    const reads = await Promise.all([lazy.read("/app/app.py"), lazy.read("/app/app.py", 3, 10), lazy.read(lazy.resolve("/app/current").path), lazy.read("/data/copy.bin", 0, 10), lazy.read("/data/big.bin", 0, 10)]);
    expect(reads[1]).toEqual(fixture.files.get("/app/app.py")!.subarray(3, 13));
    expect(reads[2]).toEqual(reads[0]);
    expect(reads[3]).toEqual(reads[4]);
    // app.py's chunk once, big.bin's first chunk (shared with copy.bin) once.
    expect(requests).toHaveLength(2);
    expect(lazy.stats().chunksFetched).toBe(2);
  });

  it("a second read is served from the memory cache; a cache too small for it refetches", async () => {
    const { lazy, requests } = lazyWith();
    await lazy.read("/data/other.bin");
    const before = requests.length;
    await lazy.read("/data/other.bin");
    expect(requests.length).toBe(before);
    expect(lazy.stats().memoryHits).toBe(chunksOf("/data/other.bin").length);

    const tiny = lazyWith({ memoryCacheBytes: 4000 });
    await tiny.lazy.read("/data/big.bin", 0, 10);
    await tiny.lazy.read("/data/big.bin", 0, 10);
    expect(tiny.requests).toHaveLength(2);
  });

  it("a corrupted chunk is DIGEST_MISMATCH naming path, chunk, blob and offset; its neighbours still read", async () => {
    const big = chunksOf("/data/big.bin");
    const bad = big[3]!;
    const blobId = image.rafs!.blobs[0]!.blobId;
    const flip = (_: string, offset: number, bytes: Uint8Array) => {
      const at = bad.compressedOffset + 7 - offset;
      if (at >= 0 && at < bytes.length) bytes[at]! ^= 0x20;
      return bytes;
    };
    const { lazy } = lazyWith({}, flip);
    const e = await rejection(lazy.read("/data/big.bin"));
    expect(e.code).toBe("DIGEST_MISMATCH");
    expect(e.details).toMatchObject({ path: "/data/big.bin", chunk: 3, blobId, offset: bad.compressedOffset });
    // The whole-file read fetched chunk 2 in the same request, verified: it is served.
    const ok = await lazy.read("/data/big.bin", 2 * 4096, 4096);
    expect(Buffer.from(ok).equals(Buffer.from(fixture.files.get("/data/big.bin")!.subarray(8192, 12288)))).toBe(true);
    // The bad chunk was not cached: every read of it fails again, also through the deduplicated copy.
    expect((await rejection(lazy.read("/data/copy.bin", 3 * 4096 + 10, 1))).code).toBe("DIGEST_MISMATCH");

    // An uncompressed stored chunk with a flipped byte decodes but fails its digest.
    const plain = await convertLazyFixture({ compressor: "none" });
    tempDirs.push(plain.dir);
    const plainImage = await plain.open();
    const chunk = openLazy(plainImage, { kernels }).lookup("/app/app.py").chunks![0]!;
    const counted = countingImage(plainImage, (_, offset, bytes) => {
      bytes[chunk.compressedOffset - offset]! ^= 1;
      return bytes;
    });
    const e2 = await rejection(openLazy(counted.image, { kernels }).read("/app/app.py"));
    expect(e2.code).toBe("DIGEST_MISMATCH");
    expect(e2.message).toContain("/app/app.py");
  });

  it("a chunk the bootstrap places outside its blob is BAD_BOOTSTRAP alone: its neighbours are fetched and read", async () => {
    const rafs = structuredClone(image.rafs!);
    const size = image.blobs.get(rafs.blobs[0]!.blobId)!.size;
    rafs.root.entries!.get("data")!.entries!.get("big.bin")!.chunks![3]!.compressedOffset = size - 10;
    const counted = countingImage({ ...image, rafs });
    const lazy = openLazy(counted.image, { kernels });
    const e = await rejection(lazy.read("/data/big.bin"));
    expect(e.code).toBe("BAD_BOOTSTRAP");
    expect(e.details).toMatchObject({ path: "/data/big.bin", chunk: 3 });
    const big = chunksOf("/data/big.bin");
    expect(merged(rangesOf(counted.requests))).toEqual(merged(spans([...big.slice(0, 3), ...big.slice(4)])));
    const ok = await lazy.read("/data/big.bin", 4 * 4096, 4096);
    expect(Buffer.from(ok).equals(Buffer.from(fixture.files.get("/data/big.bin")!.subarray(4 * 4096, 5 * 4096)))).toBe(true);
  });

  it("an image whose bootstrap layer does not match the manifest's digest is refused", () => {
    const oci = image.oci!;
    expect(oci.bootstrapLayer.storedDigest).toBe(oci.bootstrapLayer.descriptor.digest);
    const forged = { ...image, oci: { ...oci, bootstrapLayer: { ...oci.bootstrapLayer, storedDigest: `sha256:${"0".repeat(64)}` } } };
    expect(() => openLazy(forged, { kernels })).toThrowError(expect.objectContaining({ code: "DIGEST_MISMATCH" }));
  });

  it("a blob that returns too few bytes is TRUNCATED, a missing blob NOT_FOUND", async () => {
    const { lazy } = lazyWith({}, (_, __, bytes) => bytes.subarray(0, bytes.length - 1));
    expect((await rejection(lazy.read("/app/app.py"))).code).toBe("TRUNCATED");
    const none = openLazy({ ...image, blobs: new Map() }, { kernels });
    const e = await rejection(none.read("/app/app.py"));
    expect(e.code).toBe("NOT_FOUND");
    expect(e.details).toMatchObject({ path: "/app/app.py" });
  });

  it("paths: lookup, list, resolve through relative and absolute symlinks; bad reads are typed errors", async () => {
    const lazy = openLazy(image, { kernels });
    expect(lazy.list("/app").map(([name]) => name).sort()).toEqual(["abs", "app.py", "current"]);
    expect(lazy.resolve("/app/current").path).toBe("/app/app.py");
    expect(lazy.resolve("/app/abs").path).toBe("/data/other.bin");
    expect(lazy.resolve("app/../app/./current").path).toBe("/app/app.py");
    expect(lazy.lookup("/app/current").target).toBe("../app/app.py");
    expect((await rejection(lazy.read("/app"))).code).toBe("INVALID_ARGUMENT");
    expect((await rejection(lazy.read("/app/current"))).code).toBe("INVALID_ARGUMENT");
    expect((await rejection(lazy.read("/nope"))).code).toBe("NOT_FOUND");
    expect((await rejection(lazy.read("/app/app.py", -1, 4))).code).toBe("INVALID_ARGUMENT");
    expect((await rejection(lazy.read("/app/app.py", 0, Number.NaN))).code).toBe("INVALID_ARGUMENT");
    expect(() => lazy.resolve("/app/nope")).toThrowError(/no \/app\/nope/);
    expect(() => lazy.list("/app/app.py")).toThrowError(StrataError);
    expect(await lazy.read("/app/app.py", 10_000, 5)).toEqual(new Uint8Array(0));
    expect(() => openLazy(image, { kernels, maxRequestBytes: 0 })).toThrowError(/maxRequestBytes/);
    expect(() => openLazy(image, { kernels, memoryCacheBytes: -1 })).toThrowError(/memoryCacheBytes/);
    expect(() => openLazy(image, { kernels, concurrency: 1.5 })).toThrowError(/concurrency/);
  });

  it("warm() fetches the prefetch table's files, coalesced, and later reads of them fetch nothing", async () => {
    expect(image.rafs!.prefetch).toEqual(["/app/app.py", "/data/other.bin"]);
    const { lazy, requests } = lazyWith();
    const warmed = await lazy.warm();
    const chunks = [...chunksOf("/app/app.py"), ...chunksOf("/data/other.bin")];
    expect(warmed).toEqual({ files: 2, chunks: chunks.length, bytes: fixture.files.get("/app/app.py")!.length + fixture.files.get("/data/other.bin")!.length });
    expect(merged(rangesOf(requests))).toEqual(merged(spans(chunks)));
    expect(requests.length).toBe(merged(spans(chunks)).length);
    const after = requests.length;
    await lazy.read("/app/app.py");
    await lazy.read("/data/other.bin");
    expect(requests.length).toBe(after);
    await lazy.read("/etc/config.json");
    expect(requests.length).toBe(after + 1);
  });
});

describe("the memory chunk cache", () => {
  it("evicts the least recently used entries to stay within its bytes, and keeps nothing larger than them", () => {
    const cache = new MemoryChunkCache(10);
    cache.put("a", new Uint8Array(4));
    cache.put("b", new Uint8Array(4));
    expect(cache.get("a")).toHaveLength(4); // a is now the most recent
    cache.put("c", new Uint8Array(4));
    expect(cache.get("b")).toBeUndefined();
    expect(cache.get("a")).toBeDefined();
    expect(cache.bytes).toBe(8);
    cache.put("a", new Uint8Array(2)); // replacing an entry releases its old bytes
    expect(cache.bytes).toBe(6);
    cache.put("huge", new Uint8Array(11));
    expect(cache.get("huge")).toBeUndefined();
    expect(cache.bytes).toBe(6);
  });
});

describe("the disk chunk cache", () => {
  it("a new instance reads from it without requests; a corrupted entry is refetched and repaired", async () => {
    const dir = mkdtempSync(join(tmpdir(), "strata-chunk-cache-"));
    tempDirs.push(dir);
    const big = fixture.files.get("/data/big.bin")!;
    const first = lazyWith({ diskCache: await nodeChunkCache(dir) });
    await first.lazy.read("/data/big.bin");
    const entries = readdirSync(dir, { recursive: true, withFileTypes: true }).filter((d) => d.isFile());
    expect(entries).toHaveLength(11);
    expect(entries.every((d) => !d.name.includes(".tmp-"))).toBe(true);

    const second = lazyWith({ diskCache: await nodeChunkCache(dir) });
    expect(Buffer.from(await second.lazy.read("/data/big.bin")).equals(Buffer.from(big))).toBe(true);
    expect(second.requests).toHaveLength(0);
    expect(second.lazy.stats()).toMatchObject({ diskHits: 11, requests: 0, diskRejected: 0 });

    // Flip a byte of chunk 5's cache entry: the next instance rejects it and fetches that chunk only.
    const chunk5 = chunksOf("/data/big.bin")[5]!;
    const victim = entries.map((d) => join(d.parentPath ?? (d as unknown as { path: string }).path, d.name)).find((p) => p.endsWith(Buffer.from(chunk5.digest).toString("hex")))!;
    const stored = readFileSync(victim);
    stored[100]! ^= 0xff;
    writeFileSync(victim, stored);
    const third = lazyWith({ diskCache: await nodeChunkCache(dir) });
    expect(Buffer.from(await third.lazy.read("/data/big.bin")).equals(Buffer.from(big))).toBe(true);
    expect(third.lazy.stats()).toMatchObject({ diskHits: 10, diskRejected: 1, requests: 1, chunksFetched: 1 });
    expect(rangesOf(third.requests)).toEqual(spans([chunk5]));
    expect(Buffer.from(readFileSync(victim)).equals(Buffer.from(big.subarray(5 * 4096, 6 * 4096)))).toBe(true);
  });

  it("refuses keys that are not content names", async () => {
    const dir = mkdtempSync(join(tmpdir(), "strata-chunk-cache-"));
    tempDirs.push(dir);
    const cache = await nodeChunkCache(dir);
    await expect(cache.put("../escape", new Uint8Array(1))).rejects.toThrowError(/not \[a-z0-9-\]/);
    expect(await cache.get("blake3-00")).toBeUndefined();
  });
});
