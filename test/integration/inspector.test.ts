// <strata-inspector> in Chromium (playwright-core): the built folder served from 127.0.0.1, fed
// generated images through its file input, and checked against strata's own listings
// (inspectImage / inspectNydusImage: what `strata inspect --json` prints).
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { extname, join, normalize, relative } from "node:path";
import { fileURLToPath } from "node:url";
import type { BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { openNydusBootstrap } from "../../src/nydus/image.js";
import { inspectNydusImage } from "../../src/nydus/inspect.js";
import { inspectImage, type InspectEntry } from "../../src/oci/inspect.js";
import { ociKernels } from "../../src/oci/kernels.js";
import { openImage } from "../../src/oci/open.js";
import { randomLayout } from "../../src/oci/random.js";
import { writeTar, type TarWriteEntry } from "../../src/tar/writer.js";
import { nodeFilesPort } from "../../runtimes/node/files.js";
import { chromiumMissing, CHROMIUM } from "../runtimes/browser/run.js";
import { convertLayoutFiles } from "../helpers/convert-random.js";
import { ports as kernelPorts } from "../helpers/kernels.js";
import { readNydusLayout } from "../helpers/nydus-layout.js";
import { freePort, hasRegistry, skopeoCopy } from "../helpers/registry.js";

const missing = await chromiumMissing();
if (missing) console.warn(`inspector tests skipped: ${missing}`);
const repo = fileURLToPath(new URL("../../", import.meta.url));
const corpus = process.env.STRATA_CORPUS ?? "/tmp/corpus";
const hamburgerArchive = join(corpus, "archives/hamburger.docker.tar");
const ports = { ...kernelPorts, files: nodeFilesPort() };
const oci = ociKernels(ports);
const utf8 = new TextEncoder();

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

/** An oci-archive: the layout's files (path → bytes) in one tar. */
function layoutTar(files: ReadonlyMap<string, Uint8Array>): Uint8Array {
  const dirs = new Set<string>();
  const entries: TarWriteEntry[] = [];
  for (const [path, data] of [...files].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const parts = path.split("/");
    for (let i = 1; i < parts.length; i++) {
      const dir = parts.slice(0, i).join("/");
      if (!dirs.has(dir)) entries.push({ path: `${dir}/`, type: "dir", mode: 0o755 });
      dirs.add(dir);
    }
    entries.push({ path, type: "file", mode: 0o644, size: data.length, data });
  }
  return writeTar(entries);
}

/** An OCI layout (uncompressed layers) from explicit layer entries. */
function layoutOf(layers: TarWriteEntry[][]): Map<string, Uint8Array> {
  const files = new Map<string, Uint8Array>();
  const put = (bytes: Uint8Array) => {
    const digest = `sha256:${sha256(bytes)}`;
    files.set(`blobs/sha256/${digest.slice(7)}`, bytes);
    return { digest, size: bytes.length };
  };
  const tars = layers.map((entries) => writeTar(entries));
  const config = utf8.encode(JSON.stringify({ architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: tars.map((t) => `sha256:${sha256(t)}`) } }));
  const manifest = utf8.encode(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: { mediaType: "application/vnd.oci.image.config.v1+json", ...put(config) },
      layers: tars.map((t) => ({ mediaType: "application/vnd.oci.image.layer.v1.tar", ...put(t) })),
    }),
  );
  const descriptor = { mediaType: "application/vnd.oci.image.manifest.v1+json", ...put(manifest), annotations: { "org.opencontainers.image.ref.name": "latest" } };
  files.set("oci-layout", utf8.encode(JSON.stringify({ imageLayoutVersion: "1.0.0" })));
  files.set("index.json", utf8.encode(JSON.stringify({ schemaVersion: 2, manifests: [descriptor] })));
  return files;
}

const file = (path: string, text: string): TarWriteEntry => ({ path, type: "file", mode: 0o644, size: utf8.encode(text).length, data: utf8.encode(text) });
const dir = (path: string): TarWriteEntry => ({ path, type: "dir", mode: 0o755 });
/** A line-numbered text larger than a preview (64 KiB). */
const MOTD = Array.from({ length: 3000 }, (_, i) => `line ${i}: the quick brown fox jumps over the lazy dog`).join("\n");

/** What the tree's summary line must say for these listing rows. */
function statsOf(rows: readonly InspectEntry[]) {
  const files = rows.filter((r) => r.type === "file");
  return { entries: rows.length, files: files.length, dirs: rows.filter((r) => r.type === "dir").length, bytes: files.reduce((s, r) => s + (r.linkTo === undefined ? r.size : 0), 0) };
}

const TOKEN = "inspector-test-token";

/**
 * A read-only registry over an OCI layout's files for `repo:latest`, answering CORS as a registry
 * must for the inspector (docs/INSPECTOR.md) and requiring a bearer token.
 */
async function layoutRegistry(files: ReadonlyMap<string, Uint8Array>, repo: string): Promise<{ host: string; requests: string[]; close(): void }> {
  const index = JSON.parse(new TextDecoder().decode(files.get("index.json"))) as { manifests: { digest: string }[] };
  const manifestDigest = index.manifests[0]!.digest;
  const requests: string[] = [];
  const cors = {
    "access-control-allow-origin": "*",
    "access-control-allow-headers": "authorization, accept, range",
    "access-control-allow-methods": "GET, HEAD",
    "access-control-expose-headers": "docker-content-digest, content-length, content-range, www-authenticate",
  };
  const server = createServer((request, response) => {
    const path = new URL(request.url ?? "/", "http://x").pathname;
    requests.push(`${request.method} ${path}`);
    if (request.method === "OPTIONS") return void response.writeHead(204, cors).end();
    if (request.headers.authorization !== `Bearer ${TOKEN}`) {
      return void response.writeHead(401, { ...cors, "www-authenticate": 'Bearer realm="http://127.0.0.1:9/token",service="test"', "content-type": "application/json" }).end('{"errors":[{"code":"UNAUTHORIZED"}]}');
    }
    if (path === "/v2/") return void response.writeHead(200, cors).end("{}");
    const manifest = path === `/v2/${repo}/manifests/latest` || path === `/v2/${repo}/manifests/${manifestDigest}`;
    const blob = path.startsWith(`/v2/${repo}/blobs/sha256:`) ? files.get(`blobs/sha256/${path.slice(path.lastIndexOf(":") + 1)}`) : undefined;
    const body = manifest ? files.get(`blobs/sha256/${manifestDigest.slice(7)}`) : blob;
    if (!body) return void response.writeHead(404, cors).end();
    const headers = { ...cors, "content-length": String(body.length), "docker-content-digest": manifest ? manifestDigest : `sha256:${path.slice(path.lastIndexOf(":") + 1)}`, "content-type": manifest ? "application/vnd.oci.image.manifest.v1+json" : "application/octet-stream" };
    response.writeHead(200, headers).end(request.method === "HEAD" ? undefined : body);
  });
  await new Promise<void>((ready) => server.listen(0, "127.0.0.1", ready));
  return { host: `127.0.0.1:${(server.address() as AddressInfo).port}`, requests, close: () => server.close() };
}

/** Debian's docker-registry on its own port and storage, with the CORS headers docs/INSPECTOR.md gives. */
async function corsRegistry(dir: string): Promise<{ host: string; stop(): Promise<void> }> {
  const host = `127.0.0.1:${await freePort()}`;
  const config = [
    "version: 0.1",
    "log: {level: warn, accesslog: {disabled: true}}",
    `storage: {filesystem: {rootdirectory: ${join(dir, "data")}}}`,
    "http:",
    `  addr: ${host}`,
    "  headers:",
    "    Access-Control-Allow-Origin: ['*']",
    "    Access-Control-Allow-Methods: ['GET, HEAD']",
    "    Access-Control-Allow-Headers: ['authorization, accept, range']",
    "    Access-Control-Expose-Headers: ['docker-content-digest, content-range, www-authenticate']",
  ];
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "config.yml"), config.join("\n") + "\n");
  const child = spawn("docker-registry", ["serve", join(dir, "config.yml")], { stdio: "ignore" });
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGTERM");
    await exited;
  };
  for (let i = 0; (await fetch(`http://${host}/v2/`).then((r) => r.status, () => 0)) !== 200; i++) {
    if (i >= 100 || child.exitCode !== null) {
      await stop();
      throw new Error(`docker-registry on ${host} did not start`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { host, stop };
}

const TYPES: Record<string, string> = { ".html": "text/html", ".js": "text/javascript", ".map": "application/json", ".wasm": "application/wasm" };

interface Row {
  size: number;
  type: string;
  deleted: boolean;
  failed: boolean;
  text: string;
}

describe.skipIf(missing !== undefined)("<strata-inspector> in Chromium", () => {
  let work: string;
  let artifacts: string;
  let server: Server;
  let base: string;
  let context: BrowserContext;
  let site: string;
  const images = {} as { oci: string; nydus: string[]; corrupt: string[]; hamburger: string; nydusArchive: string; dedup: string[]; damagedOci: string };
  let damagedPaths: Set<string>;
  let sourceFiles: Map<string, Uint8Array>;
  let damagedPath: string;

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), "strata-inspector-"));
    // Screenshots outlive the run (CI uploads STRATA_ARTIFACTS).
    artifacts = process.env.STRATA_ARTIFACTS ?? mkdtempSync(join(tmpdir(), "strata-inspector-shots-"));
    mkdirSync(artifacts, { recursive: true });
    console.log(`inspector screenshots: ${artifacts}`);
    site = join(work, "site");
    execFileSync(process.execPath, [join(repo, "scripts/build-inspector.mjs"), site], { stdio: "pipe" });

    // A random layout as an oci-archive, and its Nydus conversion as a bootstrap with blob files.
    const source = await randomLayout(oci, { seed: 1010, layers: 3, entries: 60 });
    sourceFiles = source.files;
    images.oci = join(work, "random.oci.tar");
    writeFileSync(images.oci, layoutTar(source.files));
    const nydusDir = join(work, "nydus-layout");
    await convertLayoutFiles(nydusDir, source.files);
    images.nydusArchive = join(work, "random.nydus.tar");
    writeFileSync(images.nydusArchive, layoutTar(readTree(nydusDir)));
    const layout = await readNydusLayout(nydusDir);
    images.nydus = writeBootstrap(join(work, "nydus"), layout.bootstrap, layout.blobs);

    // The corrupted copy: one byte flipped inside one file's first chunk.
    const inspection = inspectNydusImage(await openNydusBootstrap(ports.files, images.nydus[0]!, join(work, "nydus")));
    const victim = inspection.tree.find((e) => e.type === "file" && e.chunks?.length && e.linkTo === undefined)!;
    const chunk = victim.chunks![0]!;
    damagedPath = victim.path;
    damagedPaths = new Set(inspection.tree.filter((e) => e.chunks?.some((c) => c.blobId === chunk.blobId && c.index === chunk.index)).map((e) => e.path));
    const blobs = new Map([...layout.blobs].map(([id, bytes]) => [id, bytes.slice()]));
    blobs.get(chunk.blobId)![chunk.compressedOffset + (chunk.compressedSize >> 1)]! ^= 0x20;
    images.corrupt = writeBootstrap(join(work, "corrupt"), layout.bootstrap, blobs);

    // Hamburger-like: a file added, whited out and added again; one deleted for good; an opaque directory.
    images.hamburger = join(work, "hamburger.oci.tar");
    const layers = [
      [dir("etc/"), file("etc/motd", "first motd\n"), file("etc/gone.conf", "bye\n"), dir("var/"), file("var/old.log", "old\n")],
      [dir("etc/"), file("etc/.wh.motd", ""), file("etc/.wh.gone.conf", ""), dir("var/"), file("var/.wh..wh..opq", ""), file("var/new.log", "new\n")],
      [dir("etc/"), file("etc/motd", MOTD), file("etc/motd.copy", MOTD)],
    ];
    const hamburger = layoutOf(layers);
    writeFileSync(images.hamburger, layoutTar(hamburger));
    // A copy whose last layer has one byte changed.
    const manifestOf = (files: Map<string, Uint8Array>) => {
      const index = JSON.parse(new TextDecoder().decode(files.get("index.json"))) as { manifests: { digest: string }[] };
      return JSON.parse(new TextDecoder().decode(files.get(`blobs/sha256/${index.manifests[0]!.digest.slice(7)}`))) as { layers: { digest: string }[] };
    };
    const damaged = new Map(hamburger);
    const lastLayer = `blobs/sha256/${manifestOf(hamburger).layers[2]!.digest.slice(7)}`;
    const bytes = hamburger.get(lastLayer)!.slice();
    bytes[600]! ^= 0x01;
    damaged.set(lastLayer, bytes);
    images.damagedOci = join(work, "damaged.oci.tar");
    writeFileSync(images.damagedOci, layoutTar(damaged));
    // Its Nydus conversion: the two copies of the motd share their chunks.
    const dedupDir = join(work, "dedup-layout");
    await convertLayoutFiles(dedupDir, hamburger);
    const dedup = await readNydusLayout(dedupDir);
    images.dedup = writeBootstrap(join(work, "dedup"), dedup.bootstrap, dedup.blobs);

    server = createServer((request, response) => {
      const path = normalize(join(site, decodeURIComponent(new URL(request.url ?? "/", "http://x").pathname)));
      const target = path.endsWith("/") ? join(path, "index.html") : path;
      if (!target.startsWith(site) || !existsSync(target) || !statSync(target).isFile()) return void response.writeHead(404).end();
      response.writeHead(200, { "content-type": TYPES[extname(target)] ?? "application/octet-stream" }).end(readFileSync(target));
    });
    await new Promise<void>((ready) => server.listen(0, "127.0.0.1", ready));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    const { chromium } = await import("playwright-core");
    context = await chromium.launchPersistentContext(join(work, "profile"), {
      executablePath: CHROMIUM,
      headless: true,
      args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"],
    });
  }, 300_000);

  afterAll(async () => {
    await context?.close();
    server?.close();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  function readTree(root: string): Map<string, Uint8Array> {
    const out = new Map<string, Uint8Array>();
    const visit = (d: string) => {
      for (const name of readdirSync(d)) {
        const p = join(d, name);
        if (statSync(p).isDirectory()) visit(p);
        else out.set(relative(root, p), new Uint8Array(readFileSync(p)));
      }
    };
    visit(root);
    return out;
  }

  /** Writes image.boot and the blobs named by id into `into`; the paths to pick, bootstrap first. */
  function writeBootstrap(into: string, bootstrap: Uint8Array, blobs: ReadonlyMap<string, Uint8Array>): string[] {
    mkdirSync(into, { recursive: true });
    writeFileSync(join(into, "image.boot"), bootstrap);
    for (const [id, bytes] of blobs) writeFileSync(join(into, id), bytes);
    return [join(into, "image.boot"), ...[...blobs.keys()].map((id) => join(into, id))];
  }

  async function newPage(width = 1280, height = 800): Promise<Page> {
    const page = await context.newPage();
    await page.setViewportSize({ width, height });
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await page.goto(base);
    await page.waitForFunction(() => customElements.get("strata-inspector") !== undefined, undefined, { timeout: 20_000 }).catch(() => {
      throw new Error(`the element was not defined: ${errors.join("; ") || "no page error"}`);
    });
    return page;
  }

  async function pick(page: Page, paths: string[], timeout = 60_000): Promise<void> {
    await page.locator("strata-inspector #files").setInputFiles(paths);
    await page.waitForSelector('strata-inspector:is([data-state="ready"], [data-state="error"])', { timeout });
    expect(await page.getAttribute("strata-inspector", "data-state"), await page.locator("strata-inspector #status").textContent() ?? "").toBe("ready");
  }

  async function shot(page: Page, name: string): Promise<void> {
    const path = join(artifacts, `${name}.png`);
    await page.screenshot({ path, fullPage: true });
    console.log(`screenshot: ${path}`);
  }

  /** Every row of the tree, collected by scrolling it; and the most rows the DOM held at once. */
  async function allRows(page: Page): Promise<{ rows: Map<string, Row>; maxInDom: number }> {
    await page.locator("strata-inspector #expand").click();
    const { rows, maxInDom } = await page.evaluate(async () => {
      const tree = document.querySelector("strata-inspector")!.shadowRoot!.querySelector<HTMLElement>(".tree")!;
      const frame = () => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
      const seen: Record<string, { size: number; type: string; deleted: boolean; failed: boolean; text: string }> = {};
      let maxInDom = 0;
      tree.scrollTop = 0;
      for (;;) {
        await frame();
        const rows = tree.querySelectorAll<HTMLElement>('[role="treeitem"]');
        maxInDom = Math.max(maxInDom, rows.length);
        for (const row of rows) seen[row.dataset.path!] = { size: Number(row.dataset.size), type: row.dataset.type!, deleted: row.classList.contains("deleted"), failed: row.classList.contains("failed"), text: row.textContent ?? "" };
        if (tree.scrollTop + tree.clientHeight >= tree.scrollHeight - 1) break;
        tree.scrollTop += tree.clientHeight;
      }
      return { rows: seen, maxInDom };
    });
    return { rows: new Map(Object.entries(rows)), maxInDom };
  }

  /** Text in the element whose colour against its background is below WCAG AA (4.5:1). */
  function contrast(page: Page): Promise<{ checked: number; low: string[] }> {
    return page.evaluate(() => {
      const rgb = (c: string) => (c.match(/[\d.]+/g) ?? []).map(Number);
      const luminance = ([r, g, b]: number[]) => {
        const lin = (v: number) => ((v /= 255) <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4);
        return 0.2126 * lin(r!) + 0.7152 * lin(g!) + 0.0722 * lin(b!);
      };
      const background = (el: Element | null): number[] => {
        for (let e = el; e; e = e.parentElement ?? ((e.getRootNode() as ShadowRoot).host ?? null)) {
          const c = rgb(getComputedStyle(e).backgroundColor);
          if (c.length === 3 || c[3]! > 0) return c;
        }
        return [255, 255, 255];
      };
      const low: string[] = [];
      let checked = 0;
      const root = document.querySelector("strata-inspector")!.shadowRoot!;
      for (const el of root.querySelectorAll<HTMLElement>("*")) {
        const own = [...el.childNodes].some((n) => n.nodeType === Node.TEXT_NODE && n.textContent!.trim());
        if (!own || el.closest("[hidden]") || el.matches("option, style")) continue;
        checked++;
        const [a, b] = [luminance(rgb(getComputedStyle(el).color)), luminance(background(el))];
        const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
        if (ratio < 4.5) low.push(`${el.tagName.toLowerCase()}.${el.className} "${el.textContent!.trim().slice(0, 20)}": ${ratio.toFixed(2)}`);
      }
      return { checked, low };
    });
  }

  async function shownStats(page: Page) {
    const data = await page.locator("strata-inspector #stats").evaluate((e) => ({ ...(e as HTMLElement).dataset }));
    return { entries: Number(data.entries), files: Number(data.files), dirs: Number(data.dirs), bytes: Number(data.bytes) };
  }

  async function verify(page: Page): Promise<string> {
    await page.locator("strata-inspector #verify").click();
    await page.waitForSelector('strata-inspector:is([data-state="verified"], [data-state="damaged"], [data-state="error"])', { timeout: 60_000 });
    return (await page.getAttribute("strata-inspector", "data-state"))!;
  }

  test("an oci-archive: the tree lists every path and size inspectImage gives, virtualised", async () => {
    const image = await openImage(ports, `oci-archive:${images.oci}`, { kernels: oci });
    const expected = await inspectImage(image, oci);
    const page = await newPage();
    const requests: string[] = [];
    page.on("request", (r) => requests.push(r.url()));
    try {
      await pick(page, [images.oci]);
      expect(await shownStats(page)).toEqual(statsOf(expected));
      // The layer table: index, size in bytes, media type and digest per layer.
      const layerRows = await page.locator("strata-inspector #image table").first().locator("tr").evaluateAll((trs) => trs.slice(1).map((tr) => [...tr.querySelectorAll("td")].map((td) => td.textContent)));
      expect(layerRows.map((r) => [r[0], r[3], r[4]])).toEqual((await image.manifest()).layers.map((l, i) => [String(i), l.mediaType, `${l.digest.slice(0, 19)}…`]));
      const { rows, maxInDom } = await allRows(page);
      const live = new Map([...rows].filter(([, r]) => !r.deleted).map(([path, r]) => [path, { size: r.size, type: r.type }]));
      expect(live).toEqual(new Map(expected.map((e) => [e.path, { size: e.size, type: e.type }])));
      // Only the rows in view (plus a margin) are in the DOM.
      expect(expected.length).toBeGreaterThan(maxInDom);
      // Nothing is fetched from anywhere but the inspector's own folder (works offline).
      expect(requests.filter((url) => !url.startsWith(base))).toEqual([]);
      expect(requests.some((url) => url.endsWith(".wasm"))).toBe(true);
      await shot(page, "oci-archive-tree");
    } finally {
      await page.close();
    }
  });

  test("a Nydus bootstrap with its blobs: counts match inspectNydusImage, chunks shown, verify passes", async () => {
    const inspection = inspectNydusImage(await openNydusBootstrap(ports.files, images.nydus[0]!, join(work, "nydus")));
    const page = await newPage();
    try {
      await pick(page, images.nydus);
      expect(await shownStats(page)).toEqual(statsOf(inspection.tree));
      const { rows } = await allRows(page);
      expect(new Map([...rows].map(([path, r]) => [path, r.size]))).toEqual(new Map(inspection.tree.map((e) => [e.path, e.size])));
      const dedup = await page.locator("strata-inspector .dedup").textContent();
      expect(dedup).toContain(`${inspection.chunks.references} chunk references, ${inspection.chunks.distinct} distinct`);
      // A file's chunk table: one row per chunk, naming its blob.
      const withChunks = inspection.tree.find((e) => (e.chunks?.length ?? 0) > 0)!;
      await page.locator("strata-inspector #filter").fill(withChunks.path);
      await page.locator(`strata-inspector [role="treeitem"][data-path="${withChunks.path}"]`).click();
      const caption = page.locator("strata-inspector #file caption");
      await expect.poll(() => caption.textContent()).toBe(`${withChunks.chunks!.length} chunks`);
      expect(await page.locator("strata-inspector #file table td").nth(1).textContent()).toBe(`${withChunks.chunks![0]!.blobId.slice(0, 19)}…`);
      expect(await verify(page)).toBe("verified");
      expect(await page.locator("strata-inspector #verify-result .ok").textContent()).toMatch(/^✓ sound/);
      await shot(page, "nydus-verified");
    } finally {
      await page.close();
    }
  });

  test("the Nydus image as an oci-archive opens as Nydus and verifies", async () => {
    const page = await newPage();
    try {
      await pick(page, [images.nydusArchive]);
      expect(await page.locator("strata-inspector #status").textContent()).toContain("(Nydus)");
      expect(await page.locator("strata-inspector #image caption").first().textContent()).toBe("Layers");
      expect(await verify(page)).toBe("verified");
      await shot(page, "nydus-archive-verified");
    } finally {
      await page.close();
    }
  });

  test("a corrupted blob: verify fails and marks exactly the files using the damaged chunk", async () => {
    const page = await newPage();
    try {
      await pick(page, images.corrupt);
      expect(await verify(page)).toBe("damaged");
      const { rows } = await allRows(page);
      const failed = [...rows].filter(([, r]) => r.failed).map(([path]) => path);
      expect(failed).toContain(damagedPath);
      expect(new Set(failed)).toEqual(damagedPaths);
      expect(rows.get(damagedPath)!.text).toContain("✗ damaged");
      // Its preview (a lazy read) reports the damage instead of showing bytes.
      await page.locator("strata-inspector #filter").fill(damagedPath);
      await page.locator(`strata-inspector [role="treeitem"][data-path="${damagedPath}"]`).click();
      await expect.poll(() => page.locator("strata-inspector #file pre.preview.failure").count()).toBe(1);
      await shot(page, "nydus-corrupt");
    } finally {
      await page.close();
    }
  });

  test("deduplicated chunks: the summary, the row badges and the chunk table say which are shared", async () => {
    const inspection = inspectNydusImage(await openNydusBootstrap(ports.files, images.dedup[0]!, join(work, "dedup")));
    const motd = inspection.tree.find((e) => e.path === "/etc/motd")!;
    expect(inspection.chunks.deduplicated).toBeGreaterThan(0);
    const page = await newPage();
    try {
      await pick(page, images.dedup);
      expect(await page.locator("strata-inspector .dedup").textContent()).toContain(`${inspection.chunks.deduplicated} chunks shared`);
      const { rows } = await allRows(page);
      const shared = motd.chunks!.filter((c) => c.deduplicated).length;
      expect(rows.get("/etc/motd")!.text).toContain(`${shared}/${motd.chunks!.length} dedup`);
      expect(rows.get("/etc/motd.copy")!.text).toContain("dedup");
      await page.locator('strata-inspector [role="treeitem"][data-path="/etc/motd"]').click();
      const dedupColumn = page.locator("strata-inspector #file table tr td:nth-child(7)");
      await expect.poll(() => dedupColumn.allTextContents()).toEqual(motd.chunks!.map((c) => (c.deduplicated ? "shared" : "—")));
      await shot(page, "nydus-dedup");
    } finally {
      await page.close();
    }
  });

  test("whiteouts: a path deleted for good, one whited out and re-added, an opaque directory; text preview", async () => {
    const page = await newPage();
    try {
      await pick(page, [images.hamburger]);
      const { rows } = await allRows(page);
      expect(rows.get("/etc/motd")).toMatchObject({ deleted: false, size: utf8.encode(MOTD).length });
      expect(rows.get("/etc/motd")!.text).toContain("whited out in layer 1 · re-added in layer 2");
      expect(rows.get("/etc/gone.conf")).toMatchObject({ deleted: true });
      expect(rows.get("/etc/gone.conf")!.text).toContain("deleted in layer 1");
      expect(rows.get("/var/old.log")).toMatchObject({ deleted: true });
      expect(rows.get("/var/new.log")).toMatchObject({ deleted: false });
      await page.locator('strata-inspector [role="treeitem"][data-path="/etc/motd"]').click();
      const history = page.locator('strata-inspector #file ol[aria-label="Layer history"] li');
      await expect.poll(() => history.allTextContents()).toEqual(["layer 0: added", "layer 1: deleted", "layer 2: added"]);
      const preview = page.locator("strata-inspector #file pre.preview");
      await expect.poll(() => preview.textContent()).toBe(MOTD.slice(0, 64 * 1024));
      // OCI verify streams every layer again against its digests.
      expect(await verify(page)).toBe("verified");
      expect(await page.locator("strata-inspector #verify-result .ok").textContent()).toBe("✓ sound: 3 layers");
      await shot(page, "whiteouts");
    } finally {
      await page.close();
    }
  });

  test("a registry reference with a bearer token (CORS answered by the registry)", async () => {
    const expected = await inspectImage(await openImage(ports, `oci-archive:${images.oci}`, { kernels: oci }), oci);
    const registry = await layoutRegistry(sourceFiles, "strata/random");
    const page = await newPage();
    try {
      const open = async (token: string) => {
        await page.locator('strata-inspector [aria-label="Image reference"]').fill(`docker://${registry.host}/strata/random:latest`);
        await page.locator('strata-inspector [aria-label="Bearer token"]').fill(token);
        await page.locator('strata-inspector [name="insecure"]').check();
        await page.locator('strata-inspector .registry button[type="submit"]').click();
        await page.waitForSelector('strata-inspector:is([data-state="ready"], [data-state="error"])', { timeout: 60_000 });
        return page.getAttribute("strata-inspector", "data-state");
      };
      // A wrong token gets the 401 challenge, whose token service is down here.
      expect(await open("wrong-token")).toBe("error");
      expect(await page.locator("strata-inspector #status").textContent()).toMatch(/token|401|unauthori[sz]ed/i);
      expect(await open(TOKEN)).toBe("ready");
      expect(await shownStats(page)).toEqual(statsOf(expected));
      expect(registry.requests).toContain(`GET /v2/strata/random/manifests/latest`);
      await shot(page, "registry");
    } finally {
      await page.close();
      registry.close();
    }
  });

  test.skipIf(!hasRegistry() || spawnSync("skopeo", ["--version"]).status !== 0)("a real docker-registry with CORS headers, anonymously", async () => {
    const expected = await inspectImage(await openImage(ports, `oci-archive:${images.oci}`, { kernels: oci }), oci);
    const registry = await corsRegistry(join(work, "registry"));
    const page = await newPage();
    try {
      skopeoCopy(`oci-archive:${images.oci}`, `docker://${registry.host}/strata/random:v1`);
      await page.locator('strata-inspector [aria-label="Image reference"]').fill(`docker://${registry.host}/strata/random:v1`);
      await page.locator('strata-inspector [name="insecure"]').check();
      await page.locator('strata-inspector .registry button[type="submit"]').click();
      await page.waitForSelector('strata-inspector:is([data-state="ready"], [data-state="error"])', { timeout: 60_000 });
      expect(await page.getAttribute("strata-inspector", "data-state"), (await page.locator("strata-inspector #status").textContent()) ?? "").toBe("ready");
      expect(await shownStats(page)).toEqual(statsOf(expected));
      expect(await verify(page)).toBe("verified");
      await shot(page, "registry-cors");
    } finally {
      await page.close();
      await registry.stop();
    }
  });

  test.skipIf(!existsSync(hamburgerArchive))("the corpus hamburger docker-archive shows its whiteout", async () => {
    const expected = await inspectImage(await openImage(ports, `docker-archive:${hamburgerArchive}`, { kernels: oci }), oci);
    const page = await newPage();
    try {
      await pick(page, [hamburgerArchive], 120_000);
      expect(await shownStats(page)).toEqual(statsOf(expected));
      // Thousands of paths, a few dozen rows in the DOM.
      await page.locator("strata-inspector #expand").click();
      const inDom = await page.locator('strata-inspector [role="treeitem"]').count();
      expect(inDom).toBeGreaterThan(10);
      expect(inDom).toBeLessThan(100);
      await page.locator("strata-inspector #filter").fill("blob.bin");
      const row = page.locator('strata-inspector [role="treeitem"][data-path="/data/blob.bin"]');
      await expect.poll(() => row.textContent()).toContain("whited out in layer 2 · re-added in layer 3");
      await shot(page, "corpus-hamburger");
    } finally {
      await page.close();
    }
  }, 180_000);

  test("bad input: a clear error in the status line, and the element still works", async () => {
    const notes = join(work, "notes.txt");
    writeFileSync(notes, "not an image\n".repeat(300));
    const emptyTar = join(work, "empty.tar");
    writeFileSync(emptyTar, writeTar([file("hello.txt", "hello\n")]));
    const page = await newPage();
    try {
      for (const [path, message] of [
        [notes, /^BAD_BOOTSTRAP: notes\.txt is neither a tar \(oci-archive, docker-archive\) nor a Nydus bootstrap/],
        [emptyTar, /^[A-Z_]+: .*(oci-layout|index\.json|manifest\.json)/],
        [images.damagedOci, /^DIGEST_MISMATCH: .*layer 2/],
      ] as const) {
        await page.locator("strata-inspector #files").setInputFiles([path]);
        await page.waitForSelector('strata-inspector[data-state="error"]', { timeout: 30_000 });
        expect(await page.locator("strata-inspector #status").textContent()).toMatch(message);
      }
      await shot(page, "bad-input");
      await pick(page, [images.hamburger]);
    } finally {
      await page.close();
    }
  });

  test("a file dropped on the element opens", async () => {
    const page = await newPage();
    try {
      const bytes = readFileSync(images.hamburger).toString("base64");
      await page.evaluate((base64) => {
        const data = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
        const transfer = new DataTransfer();
        transfer.items.add(new File([data], "dropped.tar"));
        const host = document.querySelector("strata-inspector")!;
        host.dispatchEvent(new DragEvent("dragover", { dataTransfer: transfer, bubbles: true, cancelable: true }));
        host.dispatchEvent(new DragEvent("drop", { dataTransfer: transfer, bubbles: true, cancelable: true }));
      }, bytes);
      await page.waitForSelector('strata-inspector:is([data-state="ready"], [data-state="error"])', { timeout: 30_000 });
      expect(await page.locator("strata-inspector #status").textContent()).toBe("Opened dropped.tar (OCI).");
    } finally {
      await page.close();
    }
  });

  test("keyboard: arrows, Right/Left, Enter, Home/End move through the tree", async () => {
    const page = await newPage();
    try {
      await pick(page, [images.hamburger]);
      const tree = page.locator("strata-inspector .tree");
      expect(await tree.getAttribute("role")).toBe("tree");
      const active = () =>
        tree.evaluate((t) => {
          const row = t.getRootNode() instanceof ShadowRoot ? (t.getRootNode() as ShadowRoot).getElementById(t.getAttribute("aria-activedescendant")!) : null;
          return { path: row?.dataset.path, expanded: row?.getAttribute("aria-expanded"), level: row?.getAttribute("aria-level") };
        });
      await tree.focus();
      await page.keyboard.press("Home");
      expect(await active()).toEqual({ path: "/", expanded: "true", level: "1" });
      await page.keyboard.press("ArrowDown");
      expect(await active()).toEqual({ path: "/etc", expanded: "false", level: "2" });
      await page.keyboard.press("ArrowRight");
      expect(await active()).toEqual({ path: "/etc", expanded: "true", level: "2" });
      await page.keyboard.press("ArrowRight");
      expect((await active()).path).toBe("/etc/gone.conf");
      await page.keyboard.press("ArrowDown");
      expect((await active()).path).toBe("/etc/motd");
      expect(await page.locator("strata-inspector #file dd").first().textContent()).toBe("/etc/motd");
      await page.keyboard.press("ArrowLeft");
      expect((await active()).path).toBe("/etc");
      await page.keyboard.press("Enter");
      expect(await active()).toEqual({ path: "/etc", expanded: "false", level: "2" });
      await page.keyboard.press("End");
      expect(await active()).toEqual({ path: "/var", expanded: "false", level: "2" });
      await page.keyboard.press(" ");
      expect(await active()).toEqual({ path: "/var", expanded: "true", level: "2" });
      await page.keyboard.press("End");
      expect((await active()).path).toBe("/var/old.log");
      // The current row carries a visible focus ring while the tree has focus.
      const ring = await tree.evaluate((t) => getComputedStyle((t.getRootNode() as ShadowRoot).getElementById(t.getAttribute("aria-activedescendant")!)!).outlineStyle);
      expect(ring).toBe("solid");
      await shot(page, "keyboard");
    } finally {
      await page.close();
    }
  });

  test("the folder loads as an unpacked extension whose page opens an image", async () => {
    const { chromium } = await import("playwright-core");
    // Chromium names an unpacked extension after its path: sha256, first 32 hex digits as a–p.
    const id = [...sha256(utf8.encode(site)).slice(0, 32)].map((c) => String.fromCharCode(97 + parseInt(c, 16))).join("");
    const extension = await chromium.launchPersistentContext(join(work, "extension-profile"), {
      executablePath: CHROMIUM,
      headless: true,
      args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run", `--disable-extensions-except=${site}`, `--load-extension=${site}`],
    });
    try {
      const page = await extension.newPage();
      await page.goto(`chrome-extension://${id}/index.html`);
      await page.waitForFunction(() => customElements.get("strata-inspector") !== undefined, undefined, { timeout: 20_000 });
      await pick(page, [images.hamburger]);
      expect(await verify(page)).toBe("verified");
      await shot(page, "extension-page");
    } finally {
      await extension.close();
    }
  });

  for (const [width, height] of [
    [800, 600],
    [1280, 800],
  ] as const) {
    test(`no horizontal overflow and readable contrast at ${width}×${height}`, async () => {
      const page = await newPage(width, height);
      try {
        await pick(page, images.nydus);
        const longest = [...(await allRows(page)).rows.keys()].sort((a, b) => b.length - a.length)[0]!;
        await page.locator("strata-inspector #filter").fill(longest);
        await page.locator(`strata-inspector [role="treeitem"][data-path="${longest}"]`).click();
        await page.locator("strata-inspector #verify-panel summary").click();
        const overflow = await page.evaluate(() => {
          const html = document.documentElement;
          const host = document.querySelector("strata-inspector")!;
          return { page: html.scrollWidth - html.clientWidth, host: host.scrollWidth - host.clientWidth };
        });
        expect(overflow).toEqual({ page: 0, host: 0 });
        const { checked, low } = await contrast(page);
        expect(low).toEqual([]);
        expect(checked).toBeGreaterThan(50);
        await shot(page, `layout-${width}x${height}`);
      } finally {
        await page.close();
      }
    });
  }
});
