// Pulls and pushes through a fault-injecting proxy in front of a real registry: 500s, 429s with
// Retry-After, connections reset mid-body, bodies cut short, flipped bytes. Each either completes
// with correct digests or fails with a typed error, and leaves no partial output behind.
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { convert } from "../../src/convert/convert.js";
import { resolveOptions } from "../../src/convert/options.js";
import { isStrataError, type ErrorCode, type StrataError } from "../../src/errors.js";
import { chunkCodecFor, hasherFor } from "../../src/kernels/index.js";
import { createSha256, createStreamingSha256 } from "../../src/kernels/sha256.js";
import { readAll } from "../../src/oci/blob.js";
import { ociKernels } from "../../src/oci/kernels.js";
import { LayoutWriter } from "../../src/oci/layout-writer.js";
import { openOciLayout } from "../../src/oci/layout.js";
import { openImage } from "../../src/oci/open.js";
import { randomLayout, type RandomLayout } from "../../src/oci/random.js";
import type { Image } from "../../src/oci/types.js";
import type { Ports } from "../../src/ports.js";
import { RegistryClient, type RegistryOptions } from "../../src/registry/client.js";
import { copyImage, RegistrySink } from "../../src/registry/push.js";
import { nodeFilesPort } from "../../runtimes/node/files.js";
import { nodeOutput } from "../../runtimes/node/output.js";
import { nodeSha256 } from "../../runtimes/node/sha256.js";
import { startFaultProxy, type Fault, type FaultProxy, type FaultProxyOptions } from "../helpers/fault-proxy.js";
import { ports as kernelPorts } from "../helpers/kernels.js";
import { writeLayout } from "../helpers/random-image.js";
import { hasRegistry, startRegistry, type TestRegistry } from "../helpers/registry.js";

const ports: Ports = { ...kernelPorts, sha256: nodeSha256, fetch: (url, init) => fetch(url, init) };
const kernels = ociKernels(ports);
const files = nodeFilesPort();
const work = mkdtempSync(join(tmpdir(), "strata-registry-faults-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const FAST: RegistryOptions = { insecure: true, retry: { attempts: 5, baseDelay: 5, maxDelay: 40 } };
/** What a failure under faults may be: never a bare Error, never a wrong result. */
const TYPED: ErrorCode[] = ["NETWORK", "REGISTRY", "DIGEST_MISMATCH", "NOT_FOUND", "BAD_MANIFEST"];
/**
 * Convert decompresses a layer as it streams, so damaged bytes may be caught by the gzip or tar
 * reader before the digest check at the layer's end.
 */
const TYPED_CONVERT: ErrorCode[] = [...TYPED, "CORRUPT_DATA", "CHECKSUM_MISMATCH", "TRUNCATED", "TAR_CORRUPT"];

let registry: TestRegistry;
let layout: RandomLayout;
let image: Image;
let reference: { manifest: string };
const blobOf = (digest: string) => layout.files.get(`blobs/sha256/${digest.slice(7)}`)!;
/** The largest layer: [its digest, its bytes]. */
function biggest(): [string, Uint8Array] {
  const manifest = JSON.parse(new TextDecoder().decode(blobOf(layout.manifest.digest))) as { layers: { digest: string; size: number }[] };
  const layer = [...manifest.layers].sort((a, b) => b.size - a.size)[0]!;
  return [layer.digest, blobOf(layer.digest)];
}

async function withProxy<T>(options: Omit<FaultProxyOptions, "target">, run: (proxy: FaultProxy) => Promise<T>): Promise<T> {
  const proxy = await startFaultProxy({ target: registry.host, ...options });
  try {
    return await run(proxy);
  } finally {
    await proxy.close();
  }
}

/** Pulls everything (manifest, config, every layer stream) and checks each against the layout. */
async function pullAll(host: string): Promise<void> {
  const pulled = await openImage(ports, `docker://${host}/faults/app:v1`, { kernels, registry: FAST });
  expect(await pulled.rawManifest()).toEqual(blobOf(layout.manifest.digest));
  expect(await pulled.rawConfig()).toEqual(blobOf((await pulled.manifest()).config.digest));
  for (const layer of await pulled.layers()) expect(await readAll(layer.compressed())).toEqual(blobOf(layer.digest));
}

async function outcome(p: Promise<unknown>): Promise<StrataError | undefined> {
  try {
    await p;
    return undefined;
  } catch (e) {
    if (!isStrataError(e)) throw e;
    return e;
  }
}

/** Converts the image pulled through `host` into a fresh layout; returns the manifest digest or the error. */
async function convertFrom(host: string, dir: string): Promise<{ digest?: string; error?: StrataError }> {
  const options = resolveOptions({}, ["none", "lz4_block", "zstd"], "zstd");
  const [digester, sha256, codec] = await Promise.all([hasherFor(ports, options.digester), createSha256(ports), chunkCodecFor(ports, options.compressor)]);
  try {
    const source = await openImage(ports, `docker://${host}/faults/app:v1`, { kernels, registry: FAST });
    const dest = await LayoutWriter.open(dir, nodeOutput, files, { sha256: () => createStreamingSha256(ports) });
    const result = await convert(source, dest, "nydus", { digester, sha256, codec, streamingSha256: () => createStreamingSha256(ports) }, options);
    return { digest: result.manifest.digest };
  } catch (e) {
    if (!isStrataError(e)) throw e;
    return { error: e };
  }
}

/** No tag and no temporary files: only complete blobs named by their digest may remain. */
function expectNoPartialOutput(dir: string): void {
  expect(existsSync(join(dir, "index.json"))).toBe(false);
  const blobs = join(dir, "blobs/sha256");
  for (const name of existsSync(blobs) ? readdirSync(blobs) : []) {
    expect(name).toMatch(/^[0-9a-f]{64}$/);
    expect(createHash("sha256").update(readFileSync(join(blobs, name))).digest("hex")).toBe(name);
  }
}

async function tagExists(repository: string, tag: string): Promise<boolean> {
  const res = await fetch(`http://${registry.host}/v2/${repository}/manifests/${tag}`, { method: "HEAD", headers: { accept: "application/vnd.oci.image.manifest.v1+json" } });
  return res.status === 200;
}

function sink(host: string, repository: string, extra: RegistryOptions = {}): RegistrySink {
  return new RegistrySink(new RegistryClient(ports.fetch!, host, { ...FAST, ...extra }), repository, { sha256: () => createStreamingSha256(ports) });
}

describe.skipIf(!hasRegistry())("registry faults", () => {
  beforeAll(async () => {
    registry = await startRegistry();
    layout = await randomLayout(kernels, { seed: 41, layers: 3, entries: 40, compression: "gzip" });
    const dir = join(work, "source");
    writeLayout(dir, layout);
    image = await openOciLayout(files, dir, { kernels });
    await copyImage(image, sink(registry.host, "faults/app"), "v1");
    const direct = await convertFrom(registry.host, join(work, "reference"));
    reference = { manifest: direct.digest! };
  });
  afterAll(() => registry?.stop());

  test("500s and a 429 with Retry-After are retried; the pull completes, waiting as told", async () => {
    const tried = new Set<string>();
    await withProxy(
      {
        plan: (req) => {
          const first = !tried.has(`${req.method} ${req.url}`);
          tried.add(`${req.method} ${req.url}`);
          if (!first) return undefined;
          return /\/manifests\//.test(req.url) ? { kind: "status", status: 429, retryAfter: 1 } : { kind: "status", status: 500 };
        },
      },
      async (proxy) => {
        await pullAll(proxy.host);
        const manifestRequests = proxy.requests.filter((r) => /\/manifests\/v1$/.test(r.url));
        expect(manifestRequests.map((r) => r.status)).toEqual([429, 200]);
        expect(manifestRequests[1]!.at - manifestRequests[0]!.at).toBeGreaterThanOrEqual(900);
        expect(proxy.requests.filter((r) => r.status === 500).length).toBeGreaterThanOrEqual(layout.layers.length);
      },
    );
  });

  test("a throttled proxy (for slow-network tests) delivers the same bytes", async () => {
    await withProxy({ bytesPerSecond: 4 << 20 }, (proxy) => pullAll(proxy.host));
  });

  test("a connection reset mid-body, or a body cut short, resumes with a Range from the byte reached", async () => {
    const [digest, bytes] = biggest();
    expect(bytes.length).toBeGreaterThan(20_000);
    for (const fault of [{ kind: "reset", after: 10_000 }, { kind: "truncate", after: 10_000 }, { kind: "truncate", after: 10_000, keepLength: true }] as Fault[]) {
      let done = false;
      await withProxy(
        {
          plan: (req) => {
            if (done || req.method !== "GET" || !req.url.endsWith(`/blobs/${digest}`)) return undefined;
            done = true;
            return fault;
          },
        },
        async (proxy) => {
          await pullAll(proxy.host);
          const resumed = proxy.requests.filter((r) => r.url.endsWith(`/blobs/${digest}`) && r.range);
          expect(resumed.length, JSON.stringify(fault)).toBeGreaterThanOrEqual(1);
          const from = Number(/^bytes=(\d+)-/.exec(resumed[0]!.range!)?.[1]);
          expect(from).toBeGreaterThan(0);
          expect(from).toBeLessThanOrEqual(10_000);
        },
      );
    }
  });

  test("a flipped byte is DIGEST_MISMATCH; convert from the registry fails typed and leaves no partial output", async () => {
    const [digest] = biggest();
    await withProxy({ plan: (req) => (req.method === "GET" && req.url.endsWith(`/blobs/${digest}`) ? { kind: "flip", at: 5000 } : undefined) }, async (proxy) => {
      const e = await outcome(pullAll(proxy.host));
      expect(e?.code).toBe("DIGEST_MISMATCH");
      const dir = join(work, "flipped");
      const result = await convertFrom(proxy.host, dir);
      expect(TYPED_CONVERT).toContain(result.error?.code);
      expectNoPartialOutput(dir);
    });
    await withProxy({ plan: (req) => (/\/manifests\/v1$/.test(req.url) ? { kind: "flip", at: 40 } : undefined) }, async (proxy) => {
      const e = await outcome(openImage(ports, `docker://${proxy.host}/faults/app:v1`, { kernels, registry: FAST }));
      expect(e?.code).toBe("DIGEST_MISMATCH");
    });
  });

  test("pushes survive failed PATCHes and PUTs (resumed from the registry's offset) and give the same image", async () => {
    let patches = 0;
    await withProxy(
      {
        plan: (req) => {
          if (req.method === "PATCH" && patches++ % 3 === 1) return { kind: "status", status: 503 };
          if (req.method === "PUT" && req.url.includes("/blobs/uploads/") && req.n % 2 === 0) return { kind: "status", status: 500 };
          return undefined;
        },
      },
      async (proxy) => {
        const dest = sink(proxy.host, "faults/pushed", { chunkSize: 8192 });
        await copyImage(image, dest, "v1");
        expect(proxy.requests.some((r) => r.method === "GET" && r.url.includes("/blobs/uploads/"))).toBe(true); // status queries
        expect(proxy.requests.filter((r) => r.status === 503).length).toBeGreaterThan(0);
      },
    );
    const pulled = await openImage(ports, `docker://${registry.host}/faults/pushed:v1`, { kernels, registry: FAST });
    expect(await pulled.digest()).toBe(layout.manifest.digest);
    for (const layer of await pulled.layers()) expect(await readAll(layer.compressed())).toEqual(blobOf(layer.digest));
  });

  test("an upload corrupted on the way fails with a typed error and tags nothing", async () => {
    await withProxy({ plan: (req) => (req.method === "PUT" && req.url.includes("/blobs/uploads/") ? { kind: "flip-request", at: 100 } : undefined) }, async (proxy) => {
      const e = await outcome(copyImage(image, sink(proxy.host, "faults/corrupt"), "v1"));
      expect(e && TYPED).toContain(e?.code);
      expect(await tagExists("faults/corrupt", "v1")).toBe(false);
    });
  });

  const outcomes: string[] = [];
  test.each([1, 2, 3, 4, 5, 6])("random faults, seed %i: pull, convert and push complete correctly or fail typed with no partial output", async (seed) => {
    const kinds = (random: () => number, upload: boolean): Fault => {
      const roll = random();
      if (roll < 0.3) return { kind: "status", status: 500 + Math.floor(random() * 4) };
      if (roll < 0.4) return { kind: "status", status: 429, retryAfter: 0 };
      if (roll < 0.65) return { kind: "reset", after: Math.floor(random() * 20_000) };
      if (roll < 0.9) return { kind: "truncate", after: Math.floor(random() * 20_000), keepLength: random() < 0.5 };
      // Flipped bytes cannot be recovered from (the digest check fails): rarer, so runs also succeed.
      return upload ? { kind: "flip-request", at: Math.floor(random() * 4096) } : { kind: "flip", at: Math.floor(random() * 20_000) };
    };
    await withProxy({ seed, plan: (req, random) => (random() < 0.25 ? kinds(random, req.method === "PUT" || req.method === "PATCH") : undefined) }, async (proxy) => {
      const pulled = await outcome(pullAll(proxy.host));
      if (pulled) expect(TYPED).toContain(pulled.code);
      outcomes.push(pulled?.code ?? "ok");

      const dir = join(work, `random-${seed}`);
      const converted = await convertFrom(proxy.host, dir);
      outcomes.push(converted.error?.code ?? "ok");
      if (converted.error) {
        expect(TYPED_CONVERT).toContain(converted.error.code);
        expectNoPartialOutput(dir);
      } else {
        expect(converted.digest).toBe(reference.manifest);
      }

      const repository = `faults/random-${seed}`;
      const pushed = await outcome(copyImage(image, sink(proxy.host, repository, { chunkSize: 16_384 }), "v1"));
      outcomes.push(pushed?.code ?? "ok");
      if (pushed) {
        expect(TYPED).toContain(pushed.code);
        expect(await tagExists(repository, "v1")).toBe(false);
      } else {
        const back = await openImage(ports, `docker://${registry.host}/${repository}:v1`, { kernels, registry: FAST });
        for (const layer of await back.layers()) expect(await readAll(layer.compressed())).toEqual(blobOf(layer.digest));
      }
    });
  });

  test("the random runs were not all one outcome: faults were survived and some were not", () => {
    expect(outcomes.length).toBe(18);
    expect(outcomes.filter((o) => o === "ok").length).toBeGreaterThanOrEqual(3);
  });
});
