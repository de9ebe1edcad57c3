// zstd decompression: strata's wasm decoder vs fzstd (pure JS) and zstddec (the reference C
// decoder compiled to wasm), on a real OCI layer when the corpus exists (else generated text-like
// data compressed with `zstd -3`), and on 1 MiB chunks compressed one by one as Nydus stores them.
// strata's streaming sink only counts bytes (a pipeline consumes views); the one-shot peers return
// fresh arrays, as their APIs do.
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { decompress as fzstdDecompress } from "fzstd";
import { ZSTDDecoder } from "zstddec";
import { createZstdChunkDecoder, createZstdDecoder } from "../src/kernels/zstd.js";
import { ports } from "../test/helpers/kernels.js";
import type { BenchCase } from "./harness.js";

const MiB = 1 << 20;
const CHUNKS = 16;
const ZSTD_MAGIC = 0xfd2fb528;

function zstd(args: string[], input: Uint8Array): Uint8Array {
  return new Uint8Array(execFileSync("zstd", args, { input, maxBuffer: 1 << 30 }));
}

/** Generated text-like bytes (words, numbers, punctuation), deterministic. */
function textLike(size: number): Uint8Array {
  const words = "usr lib share bin etc the of and config layer image package version license README main index"
    .split(" ")
    .map((w) => new TextEncoder().encode(w));
  const out = new Uint8Array(size);
  let x = 7;
  let at = 0;
  while (at < size) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    const word = x % 7 === 0 ? new TextEncoder().encode(String(x % 100000)) : words[(x >>> 8) % words.length]!;
    for (let i = 0; i < word.length && at < size; i++) out[at++] = word[i]!;
    if (at < size) out[at++] = (x >>> 20) % 9 === 0 ? 10 : 32;
  }
  return out;
}

/** The largest zstd layer of the app-v1-zstd image, or generated data compressed at level 3. */
function layer(): { compressed: Uint8Array; size: number; source: string } {
  const blobs = "/tmp/corpus/images/app-v1-zstd/blobs/sha256";
  if (existsSync(blobs)) {
    const zstdBlobs = readdirSync(blobs)
      .map((f) => join(blobs, f))
      .filter((f) => new DataView(readFileSync(f).buffer).getUint32(0, true) === ZSTD_MAGIC)
      .sort((a, b) => statSync(b).size - statSync(a).size);
    if (zstdBlobs[0]) {
      const compressed = new Uint8Array(readFileSync(zstdBlobs[0]));
      const size = zstd(["-dc"], compressed).length;
      return { compressed, size, source: "app-v1-zstd layer" };
    }
  }
  const raw = textLike(32 * MiB);
  return { compressed: zstd(["-3", "-c"], raw), size: raw.length, source: "generated text, zstd -3" };
}

export default async function zstdBench(): Promise<BenchCase[]> {
  const { compressed, size, source } = layer();
  const streaming = await createZstdDecoder(ports);
  const chunkDecoder = await createZstdChunkDecoder(ports);
  const reference = new ZSTDDecoder();
  await reference.init();
  let produced = 0;
  const count = (bytes: Uint8Array) => {
    produced += bytes.length;
  };

  // Nydus-style chunks: the first CHUNKS MiB of the layer's content, each compressed on its own.
  const content = zstd(["-dc"], compressed).subarray(0, CHUNKS * MiB);
  const chunks = Array.from({ length: Math.floor(content.length / MiB) }, (_, i) =>
    zstd(["-3", "-c", "--no-check"], content.subarray(i * MiB, (i + 1) * MiB)),
  );
  const chunkBytes = chunks.length * MiB;

  const whole = `zstd decompress ${source} (${(compressed.length / MiB).toFixed(1)} MiB -> ${(size / MiB).toFixed(1)} MiB)`;
  const perChunk = `zstd decompress 1MiB chunks, each zstd -3 (${source} content)`;
  return [
    {
      bench: whole,
      impl: "strata",
      bytes: size,
      run: () => {
        produced = 0;
        streaming.init(count).update(compressed).final();
        if (produced !== size) throw new Error("strata: wrong size");
      },
    },
    { bench: whole, impl: "fzstd", bytes: size, run: () => fzstdDecompress(compressed) },
    { bench: whole, impl: "zstddec", bytes: size, run: () => reference.decode(compressed, size) },
    { bench: perChunk, impl: "strata", bytes: chunkBytes, run: () => chunks.forEach((c) => chunkDecoder.decompress(c, MiB)) },
    { bench: perChunk, impl: "fzstd", bytes: chunkBytes, run: () => chunks.forEach((c) => fzstdDecompress(c)) },
    { bench: perChunk, impl: "zstddec", bytes: chunkBytes, run: () => chunks.forEach((c) => reference.decode(c, MiB)) },
  ];
}
