// lz4_block chunks: strata's wasm codec vs lz4js (pure JS) on the same 1 MiB chunks.
// @ts-expect-error lz4js ships no types
import * as lz4js from "lz4js";
import { createLz4 } from "../src/kernels/lz4.js";
import { ports } from "../test/helpers/kernels.js";
import { baseLayerTar, MiB } from "./data.js";
import type { BenchCase } from "./harness.js";

const CHUNKS = 8;

/** 8 MiB of a real layer tar when the corpus exists, else a generated text + binary mix. */
function corpus(): { data: Uint8Array; source: string } {
  const tar = baseLayerTar(CHUNKS * MiB);
  if (tar) return { data: tar, source: "base layer tar" };
  const data = new Uint8Array(CHUNKS * MiB);
  const words = new TextEncoder().encode("usr lib share bin etc the of and config layer image 0123456789 {}:;\n");
  let x = 1;
  for (let i = 0; i < data.length; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    // Alternate 64 KiB of text-like bytes with 64 KiB of binary (small integers, zero runs).
    data[i] = (i >> 16) & 1 ? (x >>> 24 < 96 ? 0 : (x >>> 27) * (i & 3)) : words[(x >>> 16) % words.length]!;
  }
  return { data, source: "generated text+binary" };
}

export default async function lz4Bench(): Promise<BenchCase[]> {
  const { data, source } = corpus();
  const chunks = Array.from({ length: CHUNKS }, (_, i) => data.subarray(i * MiB, (i + 1) * MiB));
  const strata = await createLz4(ports);

  // Each implementation's own blocks, so that both decompress what they produce.
  const ours = chunks.map((c) => strata.compress(c)!.slice()); // bench data always compresses
  const hashTable = new Uint32Array(1 << 16);
  const scratch = new Uint8Array(lz4js.compressBound(MiB));
  const theirs = chunks.map((c) => {
    hashTable.fill(0);
    return scratch.slice(0, lz4js.compressBlock(c, scratch, 0, c.length, hashTable));
  });
  const total = (blocks: Uint8Array[]) => blocks.reduce((n, b) => n + b.length, 0);
  const ratio = (blocks: Uint8Array[]) => ({ ratio: (data.length / total(blocks)).toFixed(3), data: source });
  const out = new Uint8Array(MiB);

  const compress = `lz4 compress 1MiB chunks (${source})`;
  const decompress = `lz4 decompress 1MiB chunks (${source})`;
  return [
    { bench: compress, impl: "strata", bytes: data.length, run: () => chunks.forEach((c) => strata.compress(c)), extra: () => ratio(ours) },
    {
      bench: compress,
      impl: "lz4js",
      bytes: data.length,
      run: () =>
        chunks.forEach((c) => {
          hashTable.fill(0);
          lz4js.compressBlock(c, scratch, 0, c.length, hashTable);
        }),
      extra: () => ratio(theirs),
    },
    { bench: decompress, impl: "strata", bytes: data.length, run: () => ours.forEach((b) => strata.decompress(b, MiB)) },
    { bench: decompress, impl: "lz4js", bytes: data.length, run: () => theirs.forEach((b) => lz4js.decompressBlock(b, out, 0, b.length, 0)) },
  ];
}
