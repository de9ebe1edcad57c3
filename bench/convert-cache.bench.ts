// Converting a corpus image again with a warm layer cache (convert --cache-dir) against the first
// conversion, which fills an empty cache. Both write a complete image; MB/s are of the image's
// uncompressed layer tars. Skipped when the corpus is absent.
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { convert } from "../src/convert/convert.js";
import { LayerCache } from "../src/convert/layer-cache.js";
import { resolveOptions } from "../src/convert/options.js";
import { chunkCodecFor, hasherFor } from "../src/kernels/index.js";
import { createSha256, createStreamingSha256 } from "../src/kernels/sha256.js";
import { ociKernels } from "../src/oci/kernels.js";
import { LayoutWriter } from "../src/oci/layout-writer.js";
import { openOciLayout } from "../src/oci/layout.js";
import { nodePorts } from "../runtimes/node/index.js";
import type { BenchCase } from "./harness.js";

const CORPUS = process.env.STRATA_CORPUS ?? "/tmp/corpus";
const ports = nodePorts();

export default async function convertCacheBench(): Promise<BenchCase[]> {
  const dir = join(CORPUS, "images", "app-v1");
  if (!existsSync(dir)) return [];
  const out = mkdtempSync(join(tmpdir(), "strata-bench-cache-"));
  process.on("exit", () => rmSync(out, { recursive: true, force: true }));
  const options = resolveOptions({}, ["none", "lz4_block", "zstd"], "zstd");
  const [digester, sha256, codec] = await Promise.all([hasherFor(ports, options.digester), createSha256(ports), chunkCodecFor(ports, options.compressor)]);
  const kernels = { digester, sha256, codec, streamingSha256: () => createStreamingSha256(ports) };
  let bytes = 0;
  for (const layer of await (await openOciLayout(ports.files!, dir, { kernels: ociKernels(ports) })).layers()) {
    const reader = layer.uncompressed().getReader();
    for (let r = await reader.read(); !r.done; r = await reader.read()) bytes += r.value.length;
  }
  let run = 0;
  const convertOnce = async (cacheDir: string) => {
    const dest = join(out, `image-${run++}`);
    try {
      const source = await openOciLayout(ports.files!, dir, { kernels: ociKernels(ports) });
      const writer = await LayoutWriter.open(dest, ports.output!, ports.files!, { sha256: () => createStreamingSha256(ports) });
      const cache = new LayerCache(cacheDir, { files: ports.files!, output: ports.output!, sha256, dirs: ports.cacheDir, streamingSha256: () => createStreamingSha256(ports) });
      return await convert(source, writer, "bench", kernels, options, { cache });
    } finally {
      rmSync(dest, { recursive: true, force: true });
    }
  };
  const warmCache = join(out, "warm-cache");
  let cachedLayers = 0;
  return [
    {
      bench: "convert app-v1 again, layer cache",
      impl: "strata",
      bytes,
      async run() {
        cachedLayers = (await convertOnce(warmCache)).stats.cachedLayers; // the warm-up run fills it
      },
      extra: () => ({ cached_layers: cachedLayers }),
    },
    {
      bench: "convert app-v1 again, layer cache",
      impl: "first time (empty cache)",
      bytes,
      async run() {
        const cold = join(out, `cold-cache-${run}`);
        try {
          await convertOnce(cold);
        } finally {
          rmSync(cold, { recursive: true, force: true });
        }
      },
    },
  ];
}
