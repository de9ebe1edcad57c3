// Conversion with chunks compressed on worker threads (runtimes/node/codec-pool.ts) writes exactly
// the bytes of the in-thread conversion: every blob, the bootstrap and the manifest, for zstd and
// lz4_block, small and large chunks, with chunks deduplicated inside files, across files and
// across layers (also while the first copy is still being compressed). A failing pool fails the
// conversion with its typed error and leaves no partial image.
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { openChunkDictionaries } from "../../src/convert/chunk-dict.js";
import { convertImage } from "../../src/convert/convert-image.js";
import { LayerCache } from "../../src/convert/layer-cache.js";
import { resolveOptions, type ChunkCompressor } from "../../src/convert/options.js";
import { isStrataError, StrataError } from "../../src/errors.js";
import { chunkCodecFor } from "../../src/kernels/index.js";
import { createSha256, createStreamingSha256 } from "../../src/kernels/sha256.js";
import { concat } from "../../src/kernels/stream.js";
import type { ChunkCompressPool, PooledChunks, Ports } from "../../src/ports.js";
import type { TarWriteEntry } from "../../src/tar/writer.js";
import { nodeCodecPool, openNodeCodecPool } from "../../runtimes/node/codec-pool.js";
import { ports as basePorts, verifyLayout } from "../helpers/convert-reuse.js";
import { writeLayersLayout } from "../helpers/unpack.js";

const work = mkdtempSync(join(tmpdir(), "strata-convert-pool-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const ports: Ports = { ...basePorts, codecPool: nodeCodecPool(basePorts.wasm) };

/** mulberry32: deterministic bytes for a seed. */
function random(seed: number): (n: number) => Uint8Array {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return (n) => {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = (next() * 256) | 0;
    return out;
  };
}

const text = (n: number, seed: number) => new TextEncoder().encode(Array.from({ length: Math.ceil(n / 24) }, (_, i) => `line ${(i * seed) % 977} of ${seed}\n`).join("").slice(0, n));
const repeat = (block: Uint8Array, times: number) => concat(Array.from({ length: times }, () => block));

/**
 * Three layers: compressible and incompressible files around both chunk sizes, a file of one
 * repeated 4 KiB block (its chunks deduplicate while the first is in flight), two identical files,
 * and copies of earlier layers' files (deduplicated across layers).
 */
function layers(seed: number): TarWriteEntry[][] {
  const bytes = random(seed);
  const block = bytes(4096);
  const big = concat([text(1_500_000, seed), bytes(700_000), text(900_000, seed + 1)]);
  const file = (path: string, data: Uint8Array): TarWriteEntry => ({ path, type: "file", mode: 0o644, data });
  return [
    [
      { path: "data/", type: "dir", mode: 0o755 },
      file("data/empty", new Uint8Array(0)),
      file("data/one", bytes(1)),
      file("data/text", text(4095, seed)),
      file("data/block-sized", bytes(4096)),
      file("data/big", big),
      file("data/noise", bytes(1_200_000)),
      file("data/repeated", repeat(block, 300)),
    ],
    [
      file("data/copy-a", concat([text(40_000, seed + 2), block])),
      file("data/copy-b", concat([text(40_000, seed + 2), block])),
      file("data/big-again", big),
      file("data/repeated-longer", repeat(block, 600)),
    ],
    [file("data/text", text(10_000, seed + 3)), file("data/mixed", concat([repeat(block, 260), bytes(5000), big.subarray(0, 1 << 20)]))],
  ];
}

/** sha256 of every file under `dir`, by relative path. */
function digests(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath ?? entry.path, entry.name);
    out.set(relative(dir, path), createHash("sha256").update(readFileSync(path)).digest("hex"));
  }
  return out;
}

let counter = 0;
async function convertWith(source: string, options: { compressor: ChunkCompressor; chunkSize: number; threads?: number }, with_: Ports = ports) {
  const out = join(work, `out-${counter++}`);
  const result = await convertImage(with_, `oci:${source}:latest`, `oci:${out}:latest`, options);
  return { out, result };
}

describe("convert with a codec pool writes the in-thread bytes", () => {
  const cases: [ChunkCompressor, number, number][] = [
    ["zstd", 4096, 1],
    ["zstd", 1 << 20, 2],
    ["zstd", 65536, 5],
    ["lz4_block", 4096, 3],
    ["lz4_block", 1 << 20, 4],
  ];
  test.each(cases)("%s, chunk size %i, seed %i", async (compressor, chunkSize, seed) => {
    const source = join(work, `src-${compressor}-${chunkSize}`);
    writeLayersLayout(source, layers(seed));
    const inThread = await convertWith(source, { compressor, chunkSize, threads: 1 });
    const pooled = await convertWith(source, { compressor, chunkSize, threads: 3 });
    expect(digests(pooled.out)).toEqual(digests(inThread.out));
    expect(pooled.result.manifest).toEqual(inThread.result.manifest);
    expect(pooled.result.stats).toEqual(inThread.result.stats);
    // The image really exercises dedup (within files, across files and layers) and raw chunks.
    expect(inThread.result.stats.dedupedChunks).toBeGreaterThan(chunkSize === 4096 ? 800 : 3);
    expect(inThread.result.blobs.length).toBe(3);
    const report = await verifyLayout(pooled.out);
    expect(report.ok, JSON.stringify(report).slice(0, 500)).toBe(true);
  });
});

test("with a chunk dictionary and a layer cache, cold and warm, the pool writes the in-thread bytes", async () => {
  const options = { compressor: "zstd" as const, chunkSize: 16384 };
  const all = layers(21);
  const dictSource = join(work, "src-dict");
  writeLayersLayout(dictSource, all.slice(0, 2));
  const source = join(work, "src-with-dict");
  writeLayersLayout(source, [all[1]!, all[0]!, all[2]!]);
  const dictImage = (await convertWith(dictSource, { ...options, threads: 1 })).out;
  const sha256 = await createSha256(ports);
  const runs = async (threads: number) => {
    const cacheDir = join(work, `cache-${threads}`);
    const cache = new LayerCache(cacheDir, { files: ports.files!, output: ports.output!, sha256, dirs: ports.cacheDir, streamingSha256: () => createStreamingSha256(ports) });
    const dictionaries = await openChunkDictionaries(ports, [`oci:${dictImage}:latest`], resolveOptions(options, ["zstd"], "zstd"), sha256);
    const out: { out: string; result: Awaited<ReturnType<typeof convertImage>> }[] = [];
    for (let i = 0; i < 2; i++) {
      const dir = join(work, `out-${counter++}`);
      out.push({ out: dir, result: await convertImage(ports, `oci:${source}:latest`, `oci:${dir}:latest`, { ...options, threads, dictionaries, cache }) });
    }
    return out;
  };
  const [inThread, pooled] = [await runs(1), await runs(3)];
  for (const i of [0, 1]) {
    expect(digests(pooled[i]!.out)).toEqual(digests(inThread[i]!.out));
    expect(pooled[i]!.result.stats).toEqual(inThread[i]!.result.stats);
  }
  // Dictionary chunks were reused the first time; the second run replayed cached layers.
  expect(inThread[0]!.result.stats.reusedChunks).toBeGreaterThan(0);
  expect(inThread[0]!.result.dictionaryBlobs.length).toBeGreaterThan(0);
  expect(inThread[1]!.result.stats.cachedLayers).toBe(3);
});

describe("codec pool", () => {
  test("compresses as the in-thread codec does, alone or batched, and hands incompressible chunks back raw", async () => {
    for (const compressor of ["zstd", "lz4_block"] as const) {
      const codec = (await chunkCodecFor(ports, compressor))!;
      const pool = await openNodeCodecPool(compressor, { threads: 2 });
      try {
        const bytes = random(7);
        const chunks = [text(1 << 20, 5), bytes(4096), concat([text(3000, 9), bytes(1100)]), new Uint8Array(65536), bytes(1)];
        const sha = (bytes: Uint8Array | undefined) => bytes && createHash("sha256").update(bytes).digest("hex");
        const stored = (c: Uint8Array) => codec.compress(c) ?? c;
        const expected = chunks.map((c) => ({ stored: sha(stored(c)), compressed: codec.compress(c) !== undefined }));
        const listing = (r: PooledChunks) => r.data.map((data, i) => ({ stored: sha(data), compressed: r.compressed[i] }));
        const alone = await Promise.all(chunks.map((c) => pool.compress([c])));
        expect(alone.flatMap(listing)).toEqual(expected);
        const batched = await pool.compress(chunks);
        expect(listing(batched)).toEqual(expected);
        expect(alone[0]!.data[0]!.length).toBeLessThan(chunks[0]!.length);
        expect(expected.map((e) => e.compressed)).toEqual([true, false, true, true, false]);
        // Released buffers carry later chunks; results still held are untouched by that.
        for (const r of alone) r.release();
        const reversed = chunks.map((c) => c.slice().reverse());
        const again = await Promise.all(reversed.map((c) => pool.compress([c])));
        expect(again.flatMap(listing)).toEqual(reversed.map((c) => ({ stored: sha(stored(c)), compressed: codec.compress(c) !== undefined })));
        expect(listing(batched)).toEqual(expected);
      } finally {
        await pool.close();
      }
      await expect(pool.compress([new Uint8Array(8)])).rejects.toMatchObject({ code: "WORKER" });
    }
  });

  test("closing with chunks in flight rejects them; replies still on their way are dropped", async () => {
    const pool = await openNodeCodecPool("zstd", { threads: 2 });
    const chunk = text(1 << 20, 3);
    const inFlight = Array.from({ length: 24 }, () => pool.compress([chunk]));
    await Promise.race(inFlight);
    await pool.close();
    const settled = await Promise.allSettled(inFlight);
    expect(settled.some((r) => r.status === "rejected" && isStrataError(r.reason, "WORKER"))).toBe(true);
    // Replies posted before the workers ended arrive now and must find nothing to resolve.
    await new Promise((resolve) => setTimeout(resolve, 300));
  });

  test("a chunk the worker's codec refuses is that typed error", async () => {
    const pool = await openNodeCodecPool("lz4_block", { threads: 1 });
    try {
      const error = await pool.compress([new Uint8Array(17 << 20)]).then(() => undefined, (e: unknown) => e);
      expect(isStrataError(error, "INVALID_ARGUMENT"), String(error)).toBe(true);
      // The pool still works after a refused chunk.
      expect((await pool.compress([new Uint8Array(4096)])).data[0]!.length).toBeLessThan(4096);
    } finally {
      await pool.close();
    }
  });

  test("thread counts out of range are refused before any work", async () => {
    await expect(openNodeCodecPool("zstd", { threads: 0 })).rejects.toMatchObject({ code: "INVALID_ARGUMENT" });
    const out = join(work, "out-threads");
    await expect(convertImage(ports, `oci:${join(work, "absent")}:latest`, `oci:${out}:latest`, { threads: 0 })).rejects.toMatchObject({ code: "INVALID_ARGUMENT" });
    await expect(convertImage(ports, `oci:${join(work, "absent")}:latest`, `oci:${out}:latest`, { threads: 1.5 })).rejects.toMatchObject({ code: "INVALID_ARGUMENT" });
    expect(existsSync(out)).toBe(false);
  });
});

test("a pool whose compress fails fails the conversion with its typed error and leaves no partial image", async () => {
  const source = join(work, "src-failing");
  writeLayersLayout(source, layers(11));
  let closed = false;
  let calls = 0;
  const failing: Ports = {
    ...ports,
    codecPool: {
      defaultThreads: () => 2,
      async open(compressor) {
        const real = await openNodeCodecPool(compressor, { threads: 1 });
        const pool: ChunkCompressPool = {
          threads: 2,
          compress: (chunks) => (++calls === 10 ? Promise.reject(new StrataError("CORRUPT_DATA", "injected: message 10 failed")) : real.compress(chunks)),
          close: async () => {
            closed = true;
            await real.close();
          },
        };
        return pool;
      },
    },
  };
  const error = await convertWith(source, { compressor: "zstd", chunkSize: 65536 }, failing).then(() => undefined, (e: unknown) => e);
  expect(isStrataError(error, "CORRUPT_DATA"), String(error)).toBe(true);
  expect(calls).toBeGreaterThanOrEqual(10);
  expect(closed).toBe(true);
  const dir = join(work, `out-${counter - 1}`);
  expect(existsSync(join(dir, "index.json"))).toBe(false);
  if (existsSync(join(dir, "blobs/sha256"))) expect(readdirSync(join(dir, "blobs/sha256"))).toEqual([]);
});

test("without --threads, convert opens as many workers as the runtime's default says, and none when that is 0", async () => {
  const source = join(work, "src-default-threads");
  writeLayersLayout(source, layers(12));
  const opened: (number | undefined)[] = [];
  const withDefault = (workers: number): Ports => ({
    ...ports,
    codecPool: {
      defaultThreads: () => workers,
      async open(compressor, options) {
        opened.push(options?.threads);
        return openNodeCodecPool(compressor, options);
      },
    },
  });
  const none = await convertWith(source, { compressor: "zstd", chunkSize: 65536 }, withDefault(0));
  expect(opened).toEqual([]);
  const two = await convertWith(source, { compressor: "zstd", chunkSize: 65536 }, withDefault(2));
  expect(opened).toEqual([2]);
  expect(digests(two.out)).toEqual(digests(none.out));
});
