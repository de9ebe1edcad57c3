// The registry transport against a real registry (Debian's docker-registry, distribution 2.8):
// generated images pushed by strata and pulled back byte for byte, read by skopeo too; pushes
// that skip, mount and chunk; indexes, Range reads, referrers, mirrors; basic and token auth.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { convert } from "../../src/convert/convert.js";
import { resolveOptions } from "../../src/convert/options.js";
import { isStrataError, StrataError } from "../../src/errors.js";
import { chunkCodecFor, hasherFor } from "../../src/kernels/index.js";
import { createSha256, createStreamingSha256 } from "../../src/kernels/sha256.js";
import { readAll } from "../../src/oci/blob.js";
import { ociKernels } from "../../src/oci/kernels.js";
import { openOciLayout } from "../../src/oci/layout.js";
import { openImage } from "../../src/oci/open.js";
import { randomLayout, type RandomLayout } from "../../src/oci/random.js";
import { MEDIA_TYPES, type Image } from "../../src/oci/types.js";
import { openNydus } from "../../src/nydus/image.js";
import type { Ports } from "../../src/ports.js";
import { dockerConfigAuths } from "../../src/registry/auth.js";
import { registryBlob } from "../../src/registry/blob.js";
import { RegistryClient, type RegistryOptions } from "../../src/registry/client.js";
import { copyImage, RegistrySink } from "../../src/registry/push.js";
import { nodeFilesPort } from "../../runtimes/node/files.js";
import { nodeSha256 } from "../../runtimes/node/sha256.js";
import { startFaultProxy } from "../helpers/fault-proxy.js";
import { ports as kernelPorts } from "../helpers/kernels.js";
import { writeLayout } from "../helpers/random-image.js";
import { hasRegistry, REGISTRY_PASSWORD, REGISTRY_USER, skopeoCopy, startRegistry, type TestRegistry } from "../helpers/registry.js";
import { startTokenServer, type TokenServer } from "../helpers/token-server.js";

const ports: Ports = { ...kernelPorts, sha256: nodeSha256, fetch: (url, init) => fetch(url, init) };
const kernels = ociKernels(ports);
const files = nodeFilesPort();
const work = mkdtempSync(join(tmpdir(), "strata-registry-test-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const FAST: RegistryOptions = { insecure: true, retry: { baseDelay: 5, maxDelay: 50 } };

let layouts = 0;
/** A generated gzip image, as a layout on disk and as an Image. */
async function generated(seed: number, layers = 3): Promise<{ layout: RandomLayout; dir: string; image: Image }> {
  const layout = await randomLayout(kernels, { seed, layers, compression: "gzip" });
  const dir = join(work, `layout-${layouts++}`);
  writeLayout(dir, layout);
  return { layout, dir, image: await openOciLayout(files, dir, { kernels }) };
}

const blobOf = (layout: RandomLayout, digest: string) => layout.files.get(`blobs/sha256/${digest.slice(7)}`)!;

function sink(host: string, repository: string, options: RegistryOptions = FAST, bufferLimit?: number): RegistrySink {
  return new RegistrySink(new RegistryClient(ports.fetch!, host, options), repository, { sha256: () => createStreamingSha256(ports), bufferLimit });
}

/** Pulls `reference` and checks manifest, config and every layer equal the layout's bytes. */
async function expectSameImage(reference: string, layout: RandomLayout, options: RegistryOptions = FAST): Promise<void> {
  const image = await openImage(ports, reference, { kernels, registry: options });
  expect(await image.digest()).toBe(layout.manifest.digest);
  expect(await image.rawManifest()).toEqual(blobOf(layout, layout.manifest.digest));
  const manifest = await image.manifest();
  expect(await image.rawConfig()).toEqual(blobOf(layout, manifest.config.digest));
  for (const layer of await image.layers()) expect(await readAll(layer.compressed())).toEqual(blobOf(layout, layer.digest));
}

async function expectError(p: Promise<unknown>, code: string): Promise<StrataError> {
  const e = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isStrataError(e), `expected a StrataError ${code}, got ${String(e)}`).toBe(true);
  expect((e as StrataError).code).toBe(code);
  return e as StrataError;
}

describe.skipIf(!hasRegistry())("registry without auth", () => {
  let registry: TestRegistry;
  beforeAll(async () => {
    registry = await startRegistry();
  });
  afterAll(() => registry?.stop());

  test("pushes a generated image and pulls it back byte-identical; skopeo reads what strata pushed", async () => {
    const { layout, image } = await generated(1);
    const dest = sink(registry.host, "gen/one");
    const pushed = await copyImage(image, dest, "v1");
    expect(pushed.digest).toBe(layout.manifest.digest);
    expect(dest.stats).toEqual({ uploaded: 4, skipped: 0, mounted: 0, manifests: 2 });
    await expectSameImage(`docker://${registry.host}/gen/one:v1`, layout);
    await expectSameImage(`docker://${registry.host}/gen/one@${layout.manifest.digest}`, layout);

    const copy = join(work, "skopeo-copy");
    skopeoCopy(`docker://${registry.host}/gen/one:v1`, `oci:${copy}:x`);
    const index = JSON.parse(readFileSync(join(copy, "index.json"), "utf8")) as { manifests: { digest: string }[] };
    expect(index.manifests[0]!.digest).toBe(layout.manifest.digest);
  });

  test("a second push sends nothing; a push to another repository mounts the layers", async () => {
    const { layout, image } = await generated(2);
    await copyImage(image, sink(registry.host, "gen/two"), "v1");
    const again = sink(registry.host, "gen/two");
    await copyImage(image, again, "v1");
    expect(again.stats).toEqual({ uploaded: 0, skipped: 4, mounted: 0, manifests: 0 });

    const other = sink(registry.host, "gen/other");
    await copyImage(image, other, "v1", { mountFrom: "gen/two" });
    expect(other.stats.mounted).toBe(layout.layers.length);
    expect(other.stats.uploaded).toBe(1); // the config
    await expectSameImage(`docker://${registry.host}/gen/other:v1`, layout);
  });

  test("chunked uploads: blobs in PATCHes of 4 KiB, held in memory or streamed past the buffer", async () => {
    const { layout, image } = await generated(3);
    const proxy = await startFaultProxy({ target: registry.host });
    try {
      const held = sink(proxy.host, "gen/chunked-held", { ...FAST, chunkSize: 4096 });
      await copyImage(image, held, "v1");
      const patches = proxy.count("PATCH");
      const fullChunks = (await image.layers()).reduce((n, l) => n + Math.floor(l.size / 4096), 0);
      expect(fullChunks).toBeGreaterThan(10);
      expect(patches).toBeGreaterThanOrEqual(fullChunks);
      await expectSameImage(`docker://${registry.host}/gen/chunked-held:v1`, layout);

      // A buffer of 1 KiB: each blob starts uploading before its digest is known.
      const streamed = sink(proxy.host, "gen/chunked-streamed", { ...FAST, chunkSize: 4096 }, 1024);
      await copyImage(image, streamed, "v1");
      expect(proxy.count("PATCH") - patches).toBeGreaterThanOrEqual(fullChunks);
      await expectSameImage(`docker://${registry.host}/gen/chunked-streamed:v1`, layout);

      // Streamed blobs that turn out to exist are cancelled, not completed.
      const before = proxy.count("PUT", /\/blobs\/uploads\//);
      const upload = await sink(proxy.host, "gen/chunked-streamed", { ...FAST, chunkSize: 4096 }, 1024).upload();
      const layer = (await image.layers())[0]!;
      for (const part of [blobOf(layout, layer.digest)]) await upload.write(part);
      expect((await upload.finish()).digest).toBe(layer.digest);
      expect(proxy.count("PUT", /\/blobs\/uploads\//)).toBe(before);
      expect(proxy.count("DELETE", /\/blobs\/uploads\//)).toBeGreaterThan(0);
    } finally {
      await proxy.close();
    }
  });

  test("Range reads return the blob's bytes; past the end they are clamped", async () => {
    const { layout, image } = await generated(4);
    await copyImage(image, sink(registry.host, "gen/range"), "v1");
    const layer = (await image.layers())[1]!;
    const expected = blobOf(layout, layer.digest);
    const client = new RegistryClient(ports.fetch!, registry.host, FAST);
    const blob = registryBlob(client, "gen/range", layer.digest, layer.size, { kernels });
    for (const [offset, length] of [[0, 1], [1000, 333], [layer.size - 10, 100], [0, layer.size], [layer.size, 5]] as const) {
      expect(await blob.read(offset, length)).toEqual(expected.subarray(offset, Math.min(layer.size, offset + length)));
    }
    expect(await readAll(blob.stream())).toEqual(expected);
    // A blob whose stated size is wrong fails its digest check instead of returning bytes.
    await expectError(readAll(registryBlob(client, "gen/range", layer.digest, layer.size - 1, { kernels }).stream()), "DIGEST_MISMATCH");
  });

  test("an index: the platform picks the manifest; unknown platforms, tags and repositories are NOT_FOUND", async () => {
    const amd = await generated(5, 1);
    const arm = await generated(6, 2);
    const dest = sink(registry.host, "gen/multi");
    await copyImage(amd.image, dest, undefined);
    await copyImage(arm.image, dest, undefined);
    const index = await dest.writeJson(
      {
        schemaVersion: 2,
        mediaType: MEDIA_TYPES.ociIndex,
        manifests: [
          { ...amd.layout.manifest, platform: { os: "linux", architecture: "amd64" } },
          { ...arm.layout.manifest, platform: { os: "linux", architecture: "arm64", variant: "v8" } },
        ],
      },
      MEDIA_TYPES.ociIndex,
    );
    await dest.tag(index, "multi");
    const ref = `docker://${registry.host}/gen/multi:multi`;
    await expectSameImage(ref, amd.layout);
    expect(await (await openImage(ports, ref, { kernels, platform: "linux/arm64", registry: FAST })).digest()).toBe(arm.layout.manifest.digest);
    await expectError(openImage(ports, ref, { kernels, platform: "linux/s390x", registry: FAST }), "NOT_FOUND");
    await expectError(openImage(ports, `docker://${registry.host}/gen/multi:nope`, { kernels, registry: FAST }), "NOT_FOUND");
    await expectError(openImage(ports, `docker://${registry.host}/gen/absent:v1`, { kernels, registry: FAST }), "NOT_FOUND");
  });

  test("HTTPS to a plain-HTTP registry fails with NETWORK (loopback needs --insecure too)", async () => {
    await expectError(openImage(ports, `docker://${registry.host}/gen/one:v1`, { kernels, registry: { retry: { attempts: 2, baseDelay: 1 } } }), "NETWORK");
  });

  test("convert into the registry with a referrer: the Nydus manifest is listed under the sha256-<digest> tag", async () => {
    const { layout, image } = await generated(7);
    const options = resolveOptions({ withReferrer: true }, ["none", "lz4_block", "zstd"], "zstd");
    const [digester, sha256, codec] = await Promise.all([hasherFor(ports, options.digester), createSha256(ports), chunkCodecFor(ports, options.compressor)]);
    const dest = sink(registry.host, "gen/nydus");
    const result = await convert(image, dest, "v1-nydus", { digester, sha256, codec, streamingSha256: () => createStreamingSha256(ports) }, options);
    const res = await fetch(`http://${registry.host}/v2/gen/nydus/manifests/sha256-${layout.manifest.digest.slice(7)}`, { headers: { accept: MEDIA_TYPES.ociIndex } });
    expect(res.status).toBe(200);
    const referrers = (await res.json()) as { manifests: { digest: string; artifactType?: string }[] };
    expect(referrers.manifests.map((d) => d.digest)).toEqual([result.manifest.digest]);
    const nydus = await openImage(ports, `docker://${registry.host}/gen/nydus:v1-nydus`, { kernels, registry: FAST });
    expect(await nydus.digest()).toBe(result.manifest.digest);

    // --merge-platform: an index of the original and the Nydus manifest; Nydus readers take the latter.
    const merged = await convert(image, dest, "merged", { digester, sha256, codec, streamingSha256: () => createStreamingSha256(ports) }, { ...options, withReferrer: false, mergePlatform: true });
    const ref = `docker://${registry.host}/gen/nydus:merged`;
    expect(await (await openImage(ports, ref, { kernels, registry: FAST })).digest()).toBe(layout.manifest.digest);
    const opened = await openNydus(ports, ref, { kernels, registry: FAST });
    expect(await opened.oci?.image.digest()).toBe(merged.manifest.digest);
    expect(opened.oci?.manifest.layers).toEqual((await nydus.manifest()).layers);
    expect(opened.rafs?.blobs.map((b) => b.blobId)).toEqual(merged.blobs.map((d) => d.digest.slice(7)));
    expect(opened.problems).toEqual([]);
  });

  test("mirrors: pulls go through a pull-through cache first; a dead mirror falls back to the origin", async () => {
    const { layout, image } = await generated(8);
    await copyImage(image, sink(registry.host, "gen/mirrored"), "v1");
    const mirror = await startRegistry({ kind: "none" }, `http://${registry.host}`);
    const watch = await startFaultProxy({ target: mirror.host });
    try {
      await expectSameImage(`docker://${registry.host}/gen/mirrored:v1`, layout, { ...FAST, mirrors: [`http://${watch.host}`] });
      expect(watch.count("GET", /\/v2\/gen\/mirrored\/blobs\//)).toBe(layout.layers.length + 1);
      await watch.close();
      await expectSameImage(`docker://${registry.host}/gen/mirrored:v1`, layout, { ...FAST, mirrors: [`http://${watch.host}`] });
    } finally {
      await watch.close();
      await mirror.stop();
    }
  });
});

describe.skipIf(!hasRegistry())("registry with htpasswd basic auth", () => {
  let registry: TestRegistry;
  beforeAll(async () => {
    registry = await startRegistry({ kind: "basic" });
  });
  afterAll(() => registry?.stop());

  test("without credentials or with wrong ones: AUTH; with --creds: push and pull", async () => {
    const { layout, image } = await generated(11);
    await expectError(copyImage(image, sink(registry.host, "auth/app"), "v1"), "AUTH");
    await expectError(copyImage(image, sink(registry.host, "auth/app", { ...FAST, creds: { username: REGISTRY_USER, password: "wrong" } }), "v1"), "AUTH");
    const creds = { username: REGISTRY_USER, password: REGISTRY_PASSWORD };
    await copyImage(image, sink(registry.host, "auth/app", { ...FAST, creds }), "v1");
    await expectError(openImage(ports, `docker://${registry.host}/auth/app:v1`, { kernels, registry: FAST }), "AUTH");
    await expectSameImage(`docker://${registry.host}/auth/app:v1`, layout, { ...FAST, creds });
  });

  test("credentials from a Docker config.json's auths", async () => {
    const { layout, image } = await generated(12);
    const path = join(work, "docker-config.json");
    const auth = Buffer.from(`${REGISTRY_USER}:${REGISTRY_PASSWORD}`).toString("base64");
    writeFileSync(path, JSON.stringify({ auths: { [`http://${registry.host}`]: { auth }, "other.example:5000": { auth: "eDp5" } } }));
    const auths = dockerConfigAuths(readFileSync(path), path);
    await copyImage(image, sink(registry.host, "auth/config", { ...FAST, auths }), "v1");
    await expectSameImage(`docker://${registry.host}/auth/config:v1`, layout, { ...FAST, auths });
  });
});

describe.skipIf(!hasRegistry())("registry with token auth", () => {
  let registry: TestRegistry;
  let tokens: TokenServer;
  beforeAll(async () => {
    tokens = await startTokenServer(work, REGISTRY_USER, REGISTRY_PASSWORD);
    registry = await startRegistry({ kind: "token", realm: tokens.realm, service: tokens.service, issuer: tokens.issuer, certPath: tokens.certPath });
  });
  afterAll(async () => {
    await registry?.stop();
    await tokens?.close();
  });

  test("bearer tokens from the challenge's realm, one per scope, reused across requests", async () => {
    const { layout, image } = await generated(21);
    const creds = { username: REGISTRY_USER, password: REGISTRY_PASSWORD };
    await expectError(copyImage(image, sink(registry.host, "tok/app", { ...FAST, creds: { username: REGISTRY_USER, password: "nope" } }), "v1"), "AUTH");
    const issuedBefore = tokens.issued.length;
    const dest = sink(registry.host, "tok/app", { ...FAST, creds });
    await copyImage(image, dest, "v1");
    // One token for push (many requests), plus at most one for a scope the registry added.
    const pushTokens = tokens.issued.slice(issuedBefore);
    expect(pushTokens.length).toBeGreaterThanOrEqual(1);
    expect(pushTokens.length).toBeLessThanOrEqual(2);
    expect(pushTokens[0]).toContain("repository:tok/app:pull,push");
    await expectSameImage(`docker://${registry.host}/tok/app:v1`, layout, { ...FAST, creds });

    // Mounting from another repository asks for both scopes in one token.
    const other = sink(registry.host, "tok/other", { ...FAST, creds });
    await copyImage(image, other, "v1", { mountFrom: "tok/app" });
    expect(other.stats.mounted).toBe(layout.layers.length);
    expect(tokens.issued.some((s) => s.includes("repository:tok/other:pull,push") && s.includes("repository:tok/app:pull"))).toBe(true);
  });
});
