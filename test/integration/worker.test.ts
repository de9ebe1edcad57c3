// The converter Worker (runtimes/workers/converter.ts) as it deploys: bundled by
// `wrangler deploy --dry-run` (kernels as CompiledWasm modules), run in workerd through
// miniflare, converting corpus/base from a real local registry into a Nydus image pushed back
// to it; then the Node CLI verifies the pushed image. workerd's peak RSS is recorded.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { hasRegistry, skopeoCopy, startRegistry, type TestRegistry } from "../helpers/registry.js";
import { workerdMissing } from "../runtimes/workers/run.js";
import { runStrata } from "../helpers/cli.js";

const root = new URL("../..", import.meta.url).pathname;
const CORPUS = process.env.STRATA_CORPUS ?? "/tmp/corpus";
const BASE = join(CORPUS, "images/base");
const missing = await workerdMissing();
const skip = missing ?? (!hasRegistry() ? "docker-registry is not installed" : !existsSync(BASE) ? `no corpus at ${CORPUS}` : undefined);

const work = mkdtempSync(join(tmpdir(), "strata-worker-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** The Node CLI from source, asynchronously (the registry runs in this process's children). */
async function strata(...args: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  const r = await runStrata(args, { ...process.env, HOME: work });
  return { status: r.code ?? -1, stdout: r.stdout.toString(), stderr: r.stderr };
}

/** The workerd processes that are children of this one, by pid. */
function workerdPids(): number[] {
  return readdirSync("/proc")
    .filter((p) => /^\d+$/.test(p))
    .filter((p) => {
      try {
        const stat = readFileSync(`/proc/${p}/stat`, "utf8");
        const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
        return ppid === process.pid && readFileSync(`/proc/${p}/comm`, "utf8").trim() === "workerd";
      } catch {
        return false;
      }
    })
    .map(Number);
}

const statusKiB = (pid: number, field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? NaN);

describe.skipIf(skip !== undefined)(`the converter Worker in workerd${skip ? ` (skipped: ${skip})` : ""}`, () => {
  let registry: TestRegistry;
  let bundle: string;
  beforeAll(async () => {
    registry = await startRegistry();
    skopeoCopy(`oci:${BASE}:latest`, `docker://${registry.host}/corpus/base:latest`);
    bundle = join(work, "bundle");
    const built = spawnSync(join(root, "node_modules/.bin/wrangler"), ["deploy", "--dry-run", "--outdir", bundle, "-c", join(root, "runtimes/workers/wrangler.toml")], {
      encoding: "utf8",
      env: { ...process.env, WRANGLER_SEND_METRICS: "false", HOME: work },
    });
    expect(built.status, built.stderr + built.stdout).toBe(0);
  }, 180_000);
  afterAll(async () => {
    await registry?.stop();
  });

  test("converts corpus/base registry → registry; the Node CLI verifies the pushed image", async () => {
    const { Miniflare } = await import("miniflare");
    const wasm = readdirSync(bundle).filter((f) => f.endsWith(".wasm"));
    expect(wasm.length, "every kernel is a CompiledWasm module of the bundle").toBeGreaterThanOrEqual(7);
    const mf = new Miniflare({
      scriptPath: join(bundle, "converter.js"),
      modulesRoot: bundle,
      modules: true,
      modulesRules: [
        { type: "ESModule", include: ["**/*.js"] },
        { type: "CompiledWasm", include: ["**/*.wasm"] },
      ],
      compatibilityDate: "2026-04-01",
    });
    try {
      const url = await mf.ready;
      const [pid] = workerdPids();
      const idleKiB = pid ? statusKiB(pid, "VmRSS") : NaN;
      const convert = (body: unknown) => mf.dispatchFetch(new URL("/convert", url), { method: "POST", body: JSON.stringify(body) });

      const bad = await convert({ source: `docker://${registry.host}/corpus/base:latest`, destination: `oci:${work}/nope` });
      expect(bad.status).toBe(400);

      const response = await convert({ source: `docker://${registry.host}/corpus/base:latest`, destination: `docker://${registry.host}/corpus/base:nydus`, insecure: true });
      const text = await response.text();
      expect(response.status, text.slice(0, 2000)).toBe(200);
      const result = JSON.parse(text) as { manifest: { digest: string }; blobs: unknown[]; push: { uploaded: number }; stats: { files: number } };
      expect(result.manifest.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
      expect(result.stats.files).toBeGreaterThan(5000);
      expect(result.push.uploaded).toBeGreaterThanOrEqual(result.blobs.length + 1);
      if (pid) {
        const peakKiB = statusKiB(pid, "VmHWM");
        console.log(`workerd RSS: idle ${(idleKiB / 1024).toFixed(0)} MiB, peak ${(peakKiB / 1024).toFixed(0)} MiB during the conversion of corpus/base`);
      }

      const verified = await strata("verify", `docker://${registry.host}/corpus/base:nydus`, "--insecure");
      expect(verified.status, verified.stdout + verified.stderr).toBe(0);
      expect(verified.stdout).toMatch(/^OK /);
    } finally {
      await mf.dispose();
    }
  }, 600_000);
});
