// Runs the conformance suite in Chromium: bundles page.ts with esbuild, serves it and wasm/ from
// a Node http server on 127.0.0.1, and drives /usr/bin/chromium with playwright-core.
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join, normalize } from "node:path";
import { fileURLToPath } from "node:url";
import type { CaseOutcome } from "../../conformance/suite.js";
import { bundle, hasEsbuild } from "../bundle.js";

export const CHROMIUM = process.env.STRATA_CHROMIUM ?? "/usr/bin/chromium";
const here = fileURLToPath(new URL(".", import.meta.url));
const wasmDir = fileURLToPath(new URL("../../../wasm/", import.meta.url));

/** Why Chromium cannot run here, or undefined when it can. */
export async function chromiumMissing(): Promise<string | undefined> {
  if (!existsSync(CHROMIUM)) return `${CHROMIUM} is missing (apt-get install -y --no-install-recommends chromium)`;
  if (!(await hasEsbuild())) return "esbuild is not installed (needed to bundle the page)";
  try {
    await import("playwright-core");
  } catch (e) {
    return `playwright-core is not installed (${(e as Error).message})`;
  }
  return undefined;
}

const PAGE = `<!doctype html><meta charset="utf-8"><title>strata conformance</title><script type="module" src="/page.js"></script>`;

export async function runInChromium(): Promise<CaseOutcome[]> {
  const { chromium } = await import("playwright-core");
  const dir = mkdtempSync(join(tmpdir(), "strata-chromium-"));
  const server = createServer((request, response) => {
    const path = new URL(request.url ?? "/", "http://localhost").pathname;
    const send = (type: string, body: string | Buffer) => response.writeHead(200, { "content-type": type }).end(body);
    if (path === "/") return send("text/html", PAGE);
    if (path === "/page.js") return send("text/javascript", readFileSync(join(dir, "page.js")));
    const file = normalize(join(wasmDir, path.slice("/wasm/".length)));
    if (path.startsWith("/wasm/") && file.startsWith(wasmDir) && file.endsWith(".wasm") && existsSync(file)) return send("application/wasm", readFileSync(file));
    response.writeHead(404).end();
  });
  try {
    await bundle(`import "./page.ts";`, here, join(dir, "page.js"), "browser");
    await new Promise<void>((ready) => server.listen(0, "127.0.0.1", ready));
    const { port } = server.address() as AddressInfo;
    const context = await chromium.launchPersistentContext(join(dir, "profile"), {
      executablePath: CHROMIUM,
      headless: true,
      args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"],
    });
    try {
      const page = await context.newPage();
      const errors: string[] = [];
      page.on("pageerror", (e) => errors.push(e.message));
      await page.goto(`http://127.0.0.1:${port}/`);
      await page.waitForFunction(() => window.conformance !== undefined, undefined, { timeout: 30_000 }).catch(() => {
        throw new Error(`the page did not start the suite: ${errors.join("; ") || "no page error"}`);
      });
      return await page.evaluate(() => window.conformance!);
    } finally {
      await context.close();
    }
  } finally {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
