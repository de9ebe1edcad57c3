// Lazy reads over loopback HTTP: `strata cat`'s path (open a docker:// Nydus image with lazy blobs,
// read one small file) against a full pull of the same image (every blob downloaded, then the file
// read). The image is corpus app-v1 converted to Nydus, served by a minimal read-only registry
// (manifests by tag or digest, blobs with Range) that counts requests and bytes sent. Both cases
// count the image's stored size as their bytes (what a pull moves): MB/s is the rate at which the
// file becomes readable, and the ratio is the time-to-first-byte ratio. Each run starts cold (no
// cache). Skipped when the corpus is absent.
import { createReadStream, existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { convert } from "../src/convert/convert.js";
import { resolveOptions } from "../src/convert/options.js";
import { chunkCodecFor, hasherFor, rafsKernels } from "../src/kernels/index.js";
import { createSha256, createStreamingSha256 } from "../src/kernels/sha256.js";
import { openLazy } from "../src/lazy/image.js";
import { openNydus } from "../src/nydus/image.js";
import { memoryRange, readAll, type BlobRange } from "../src/oci/blob.js";
import { ociKernels } from "../src/oci/kernels.js";
import { LayoutWriter } from "../src/oci/layout-writer.js";
import { openOciLayout } from "../src/oci/layout.js";
import { nodePorts } from "../runtimes/node/index.js";
import type { BenchCase } from "./harness.js";

const CORPUS = process.env.STRATA_CORPUS ?? "/tmp/corpus";
const FILE = "/app/app.py";
const ports = nodePorts();

interface Traffic {
  requests: number;
  bytes: number;
}

/** A read-only registry over an OCI layout: GET/HEAD manifests (tag or digest) and blobs, Range honoured. */
function serveLayout(dir: string, traffic: Traffic): Promise<{ server: Server; host: string }> {
  const index = JSON.parse(readFileSync(join(dir, "index.json"), "utf8")) as { manifests: { digest: string; mediaType: string; annotations?: Record<string, string> }[] };
  const server = createServer((req, res) => {
    traffic.requests++;
    const m = /^\/v2\/.+\/(manifests|blobs)\/([^/?]+)$/.exec(req.url ?? "");
    const byTag = m?.[1] === "manifests" ? index.manifests.find((d) => d.annotations?.["org.opencontainers.image.ref.name"] === m[2]) : undefined;
    const digest = byTag?.digest ?? m?.[2] ?? "";
    const path = join(dir, "blobs/sha256", digest.replace(/^sha256:/, ""));
    if (!/^sha256:[0-9a-f]{64}$/.test(digest) || !existsSync(path)) {
      res.writeHead(404).end();
      return;
    }
    const size = statSync(path).size;
    const headers: Record<string, string | number> = { "docker-content-digest": digest };
    if (m![1] === "manifests") headers["content-type"] = JSON.parse(readFileSync(path, "utf8")).mediaType;
    const range = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? "");
    const start = range ? Number(range[1]) : 0;
    const end = range ? Math.min(size - 1, Number(range[2])) : size - 1;
    res.writeHead(range ? 206 : 200, { ...headers, "content-length": end - start + 1, ...(range ? { "content-range": `bytes ${start}-${end}/${size}` } : {}) });
    if (req.method === "HEAD") {
      res.end();
      return;
    }
    traffic.bytes += end - start + 1;
    createReadStream(path, { start, end }).pipe(res);
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve({ server, host: `127.0.0.1:${(server.address() as { port: number }).port}` })));
}

async function convertToNydus(source: string, out: string): Promise<void> {
  const options = resolveOptions({}, ["none", "lz4_block", "zstd"], "zstd");
  const image = await openOciLayout(ports.files!, source, { kernels: ociKernels(ports) });
  const dest = await LayoutWriter.open(out, ports.output!, ports.files!, { sha256: () => createStreamingSha256(ports) });
  const [digester, sha256, codec] = await Promise.all([hasherFor(ports, options.digester), createSha256(ports), chunkCodecFor(ports, options.compressor)]);
  await convert(image, dest, "nydus", { digester, sha256, codec, streamingSha256: () => createStreamingSha256(ports) }, options);
}

export default async function lazyBench(): Promise<BenchCase[]> {
  const source = join(CORPUS, "images", "app-v1");
  if (!existsSync(source)) return [];
  const out = mkdtempSync(join(tmpdir(), "strata-bench-lazy-"));
  await convertToNydus(source, out);
  const traffic: Traffic = { requests: 0, bytes: 0 };
  const { server, host } = await serveLayout(out, traffic);
  process.on("exit", () => rmSync(out, { recursive: true, force: true }));
  server.unref();

  const kernels = ociKernels(ports);
  const chunkKernels = await rafsKernels(ports);
  const ref = `docker://${host}/corpus/app:nydus`;
  const registry = { insecure: true };
  const local = await openNydus(ports, `oci:${out}:nydus`, { kernels });
  const fileSize = (await openLazy(local, { kernels: chunkKernels }).read(FILE)).length;
  const imageBytes = [...local.oci!.layerSizes.values()].reduce((a, b) => a + b, 0);

  /** Traffic and time of one run, kept for the extra figures. */
  const measured = (run: () => Promise<Uint8Array>) => {
    let last: Traffic & { ms: number } = { requests: 0, bytes: 0, ms: 0 };
    return {
      async run() {
        const before = { ...traffic };
        const start = performance.now();
        const bytes = await run();
        if (bytes.length !== fileSize) throw new Error(`read ${bytes.length} bytes of ${FILE}, expected ${fileSize}`);
        last = { requests: traffic.requests - before.requests, bytes: traffic.bytes - before.bytes, ms: performance.now() - start };
      },
      last: () => last,
    };
  };

  const lazy = measured(async () => {
    const image = await openNydus(ports, ref, { kernels, registry, lazyBlobs: true });
    return openLazy(image, { kernels: chunkKernels }).read(FILE);
  });
  const pull = measured(async () => {
    const image = await openNydus(ports, ref, { kernels, registry });
    const blobs = new Map<string, BlobRange>();
    for (const [id, range] of image.blobs) blobs.set(id, memoryRange(await readAll(range.stream())));
    return openLazy({ ...image, blobs }, { kernels: chunkKernels }).read(FILE);
  });

  const bench = `lazy read ${FILE} of app-v1 (Nydus) over loopback HTTP`;
  const figures = (l: Traffic & { ms: number }) => ({ requests: l.requests, fetchedBytes: l.bytes, ttfbMs: l.ms.toFixed(1) });
  return [
    { bench, impl: "strata", bytes: imageBytes, run: lazy.run, extra: () => figures(lazy.last()) },
    {
      bench,
      impl: "full pull",
      bytes: imageBytes,
      run: pull.run,
      // The pull case runs second: compare its last run with strata's.
      extra: () => ({ ...figures(pull.last()), pullFetchesX: (pull.last().bytes / lazy.last().bytes).toFixed(1), pullTtfbX: (pull.last().ms / lazy.last().ms).toFixed(1) }),
    },
  ];
}
