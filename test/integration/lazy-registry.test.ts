// `strata cat` against a real registry (Debian's docker-registry on its own port): corpus app-v1 is
// converted straight into the registry (`strata convert ... docker://...:v1-nydus`), then read
// through a counting HTTP proxy. Reading /app/app.py must fetch no more than the manifest, the
// config, the bootstrap layer and the one chunk holding the file; a chunk cache answers the next
// run; a byte flipped in transit is DIGEST_MISMATCH with nothing written.
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, request, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { nodeFilesPort } from "../../runtimes/node/files.js";
import { rafsKernels } from "../../src/kernels/index.js";
import { openLazy } from "../../src/lazy/image.js";
import { openNydus } from "../../src/nydus/image.js";
import { ociKernels } from "../../src/oci/kernels.js";
import type { Ports } from "../../src/ports.js";
import { ports as kernelPorts } from "../helpers/kernels.js";
import { hasRegistry, startRegistry, type TestRegistry } from "../helpers/registry.js";
import { runStrata } from "../helpers/cli.js";

const CORPUS = process.env.STRATA_CORPUS ?? "/tmp/corpus";
const SOURCE = join(CORPUS, "images/app-v1");
const ORACLE = join(CORPUS, "work/flat-app-v1/rootfs/app/app.py");
const ports: Ports = { ...kernelPorts, files: nodeFilesPort(), fetch: (url, init) => fetch(url, init) };

interface Seen {
  method: string;
  path: string;
  range?: string;
  status: number;
  bytes: number;
}

/** An HTTP proxy to the registry that records every request and may rewrite response bodies. */
function countingProxy(target: string): Promise<{ server: Server; host: string; seen: Seen[]; flip: { path?: string } }> {
  const seen: Seen[] = [];
  const flip: { path?: string } = {};
  const server = createServer((req, res) => {
    const upstream = request(`http://${target}${req.url}`, { method: req.method, headers: { ...req.headers, host: target } }, (up) => {
      const entry: Seen = { method: req.method!, path: req.url!, range: req.headers.range, status: up.statusCode!, bytes: 0 };
      seen.push(entry);
      res.writeHead(up.statusCode!, up.headers);
      let first = true;
      up.on("data", (b: Buffer) => {
        entry.bytes += b.length;
        if (first && flip.path && req.url!.includes(flip.path)) b[Math.floor(b.length / 2)]! ^= 0x40;
        first = false;
        res.write(b);
      });
      up.on("end", () => res.end());
    });
    upstream.on("error", () => res.destroy());
    req.pipe(upstream);
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve({ server, host: `127.0.0.1:${(server.address() as { port: number }).port}`, seen, flip })));
}

/** Runs the CLI without blocking this process's event loop, which serves the proxy. */
const strata = (...args: string[]) => runStrata(args);

const ready = hasRegistry() && existsSync(SOURCE) && existsSync(ORACLE);

describe.skipIf(!ready)("strata cat from a registry (needs docker-registry and the corpus's app-v1)", () => {
  let registry: TestRegistry;
  let proxy: Awaited<ReturnType<typeof countingProxy>>;
  const work = mkdtempSync(join(tmpdir(), "strata-lazy-registry-"));

  beforeAll(async () => {
    registry = await startRegistry();
    const pushed = await strata("convert", `oci:${SOURCE}`, `docker://${registry.host}/corpus/app:v1-nydus`, "--insecure");
    expect(pushed.code, pushed.stderr).toBe(0);
    proxy = await countingProxy(registry.host);
  }, 300_000);
  afterAll(async () => {
    proxy?.server.close();
    await registry?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  test("cat /app/app.py fetches the manifest, config, bootstrap layer and the one chunk holding the file", async () => {
    const ref = `docker://${proxy.host}/corpus/app:v1-nydus`;
    proxy.seen.length = 0;
    const r = await strata("cat", ref, "/app/app.py", "--insecure", "--stats", "--json");
    expect(r.code, r.stderr).toBe(0);
    expect(Buffer.from(r.stdout).equals(readFileSync(ORACLE))).toBe(true);
    const stats = JSON.parse(r.stderr.trim()).stats;
    expect(stats).toMatchObject({ requests: 1, chunksFetched: 1 });
    const seen = [...proxy.seen];

    // What the file needs, from the image itself.
    const image = await openNydus(ports, `docker://${registry.host}/corpus/app:v1-nydus`, { kernels: ociKernels(ports), registry: { insecure: true }, lazyBlobs: true });
    const manifest = image.oci!.manifest;
    const chunks = openLazy(image, { kernels: await rafsKernels(ports) }).lookup("/app/app.py").chunks!;
    expect(chunks).toHaveLength(1);
    const chunk = chunks[0]!;
    const dataBlob = `sha256:${image.rafs!.blobs[chunk.blobIndex]!.blobId}`;
    const bootstrap = manifest.layers[manifest.layers.length - 1]!;

    const allowed = new Set([manifest.config.digest, bootstrap.digest, dataBlob]);
    const gets = seen.filter((s) => s.method === "GET");
    expect(seen.filter((s) => s.path.includes("/manifests/"))).toHaveLength(1);
    for (const s of seen.filter((s) => s.path.includes("/blobs/"))) expect(allowed.has(s.path.split("/blobs/")[1]!), s.path).toBe(true);
    // Every other blob layer is untouched; the data blob is read once, by one Range GET of the chunk.
    const data = seen.filter((s) => s.path.endsWith(dataBlob));
    expect(data).toEqual([{ method: "GET", path: expect.stringContaining(dataBlob), range: `bytes=${chunk.compressedOffset}-${chunk.compressedOffset + chunk.compressedSize - 1}`, status: 206, bytes: chunk.compressedSize }]);
    expect(gets.filter((s) => s.path.endsWith(bootstrap.digest))).toHaveLength(1);
    const manifestBytes = seen.find((s) => s.path.includes("/manifests/"))!.bytes;
    const total = gets.reduce((n, s) => n + s.bytes, 0);
    expect(total).toBe(manifestBytes + manifest.config.size + bootstrap.size + chunk.compressedSize);
    expect(seen.length).toBeLessThanOrEqual(5); // manifest, config (HEAD and GET), bootstrap layer, chunk
  });

  test("with --cache-dir the next run reads the chunk from disk: no data-blob request", async () => {
    const ref = `docker://${proxy.host}/corpus/app:v1-nydus`;
    const cache = join(work, "cache");
    expect((await strata("cat", ref, "/app/app.py", "--insecure", "--cache-dir", cache)).code).toBe(0);
    proxy.seen.length = 0;
    const r = await strata("cat", ref, "/app/app.py", "--insecure", "--cache-dir", cache, "--stats", "--json");
    expect(r.code, r.stderr).toBe(0);
    expect(Buffer.from(r.stdout).equals(readFileSync(ORACLE))).toBe(true);
    expect(JSON.parse(r.stderr.trim()).stats).toMatchObject({ requests: 0, diskHits: 1 });
    expect(proxy.seen.filter((s) => s.range !== undefined)).toEqual([]);
  });

  test("a byte flipped in the chunk's response is DIGEST_MISMATCH (exit 3) and nothing is written", async () => {
    const image = await openNydus(ports, `docker://${registry.host}/corpus/app:v1-nydus`, { kernels: ociKernels(ports), registry: { insecure: true }, lazyBlobs: true });
    const chunk = openLazy(image, { kernels: await rafsKernels(ports) }).lookup("/app/app.py").chunks![0]!;
    proxy.flip.path = image.rafs!.blobs[chunk.blobIndex]!.blobId;
    try {
      const r = await strata("cat", `docker://${proxy.host}/corpus/app:v1-nydus`, "/app/app.py", "--insecure");
      expect(r.code).toBe(3);
      expect(r.stdout).toHaveLength(0);
      expect(r.stderr).toMatch(/\/app\/app\.py: chunk 0 of blob [0-9a-f]{64} at offset \d+ .*DIGEST_MISMATCH/);
    } finally {
      proxy.flip.path = undefined;
    }
  });
});
