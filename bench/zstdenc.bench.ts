// zstd compression of 1 MiB chunks: strata's wasm encoder vs @bokuweb/zstd-wasm (the reference C
// library compiled to wasm) at comparable levels, with the compressed size as ratio.
import { compress as zstdWasmCompress, init as zstdWasmInit } from "@bokuweb/zstd-wasm";
import { createZstdCompressor, createZstdEncoder } from "../src/kernels/zstdenc.js";
import { ports } from "../test/helpers/kernels.js";
import { baseLayerTar, MiB } from "./data.js";
import type { BenchCase } from "./harness.js";

const CHUNKS = 8;

/** 8 MiB of a real layer tar when the corpus exists, else a generated text + binary + random mix. */
function corpus(): { data: Uint8Array; source: string } {
  const tar = baseLayerTar(CHUNKS * MiB);
  if (tar) return { data: tar, source: "base layer tar" };
  const data = new Uint8Array(CHUNKS * MiB);
  const words = new TextEncoder().encode("usr lib share bin etc the of and config layer image 0123456789 {}:;\n");
  let x = 1;
  for (let i = 0; i < data.length; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    const kind = (i >> 16) % 3; // 64 KiB of text, of binary-like bytes, of random bytes
    data[i] = kind === 0 ? words[(x >>> 16) % words.length]! : kind === 1 ? (x >>> 24 < 96 ? 0 : (x >>> 27) * (i & 3)) : x >>> 24;
  }
  return { data, source: "generated mix" };
}

export default async function zstdencBench(): Promise<BenchCase[]> {
  const { data, source } = corpus();
  const chunks = Array.from({ length: CHUNKS }, (_, i) => data.subarray(i * MiB, (i + 1) * MiB));
  await zstdWasmInit();
  const cases: BenchCase[] = [];
  for (const level of [1, 2, 3, 6]) {
    const strata = await createZstdEncoder(ports, { level });
    const bench = `zstd compress 1MiB chunks level ${level} (${source})`;
    const size = (compress: (c: Uint8Array) => number) => chunks.reduce((n, c) => n + compress(c), 0);
    cases.push(
      {
        bench,
        impl: "strata",
        bytes: data.length,
        run: () => chunks.forEach((c) => strata.compress(c)),
        extra: () => ({ ratio: (data.length / size((c) => strata.compress(c)?.length ?? c.length)).toFixed(3) }),
      },
      {
        bench,
        impl: "@bokuweb/zstd-wasm",
        bytes: data.length,
        run: () => chunks.forEach((c) => zstdWasmCompress(c, level)),
        extra: () => ({ ratio: (data.length / size((c) => zstdWasmCompress(c, level).length)).toFixed(3) }),
      },
    );
  }
  // One stream over the whole input (strata: 8 MiB window, fed in 64 KiB pieces) against one
  // whole-buffer call of the reference.
  const compressor = await createZstdCompressor(ports);
  const pieces = Array.from({ length: data.length >> 16 }, (_, i) => data.subarray(i << 16, (i + 1) << 16));
  const streamBench = `zstd stream compress ${data.length >> 20} MiB level 3 (${source})`;
  let streamed = 0;
  cases.push(
    {
      bench: streamBench,
      impl: "strata",
      bytes: data.length,
      run: () => {
        streamed = 0;
        compressor.init((bytes) => (streamed += bytes.length));
        for (const p of pieces) compressor.update(p);
        compressor.final();
      },
      extra: () => ({ ratio: (data.length / streamed).toFixed(3) }),
    },
    {
      bench: streamBench,
      impl: "@bokuweb/zstd-wasm",
      bytes: data.length,
      run: () => zstdWasmCompress(data, 3),
      extra: () => ({ ratio: (data.length / zstdWasmCompress(data, 3).length).toFixed(3) }),
    },
  );
  return cases;
}
