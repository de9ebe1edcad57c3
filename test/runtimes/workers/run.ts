// Runs the conformance suite inside workerd: bundles worker.ts with esbuild, hands miniflare the
// bundle and every wasm/ kernel as CompiledWasm modules, and fetches the outcomes.
import { copyFileSync, existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { CaseOutcome } from "../../conformance/suite.js";
import { bundle, hasEsbuild } from "../bundle.js";

const here = fileURLToPath(new URL(".", import.meta.url));
const wasmDir = fileURLToPath(new URL("../../../wasm/", import.meta.url));

/** Why workerd cannot run here, or undefined when it can. */
export async function workerdMissing(): Promise<string | undefined> {
  if (!(await hasEsbuild())) return "esbuild is not installed (needed to bundle the Worker)";
  try {
    const require = createRequire(import.meta.url);
    const bin = join(require.resolve("workerd/package.json"), "..", "bin", "workerd");
    if (!existsSync(bin)) return `the workerd binary is missing (${bin})`;
    await import("miniflare");
  } catch (e) {
    return `miniflare/workerd are not installed (${(e as Error).message})`;
  }
  return undefined;
}

export async function runInWorkerd(): Promise<CaseOutcome[]> {
  const { Miniflare } = await import("miniflare");
  const dir = mkdtempSync(join(tmpdir(), "strata-workerd-"));
  try {
    // Core modules only: wasm/kernels.component.wasm is a Component, which workerd cannot compile.
    const kernels = readdirSync(wasmDir).filter((f) => f.endsWith(".wasm") && !f.endsWith(".component.wasm"));
    for (const f of kernels) copyFileSync(join(wasmDir, f), join(dir, f));
    const ident = (f: string) => `k_${f.replace(/\W/g, "_")}`;
    const entry = [
      `import { conformanceWorker } from "./worker.ts";`,
      ...kernels.map((f) => `import ${ident(f)} from "./${f}";`),
      `export default conformanceWorker({ ${kernels.map((f) => `${JSON.stringify(f)}: ${ident(f)}`).join(", ")} });`,
    ].join("\n");
    await bundle(entry, here, join(dir, "worker.mjs"), "neutral");
    const mf = new Miniflare({
      modulesRoot: dir,
      modules: [{ type: "ESModule", path: join(dir, "worker.mjs") }, ...kernels.map((f) => ({ type: "CompiledWasm" as const, path: join(dir, f) }))],
      compatibilityDate: "2026-04-01",
      host: "127.0.0.1",
      port: 0,
    });
    try {
      const response = await mf.dispatchFetch("http://conformance.local/");
      const text = await response.text();
      if (!response.ok) throw new Error(`the Worker answered ${response.status}: ${text.slice(0, 2000)}`);
      return JSON.parse(text) as CaseOutcome[];
    } finally {
      await mf.dispose();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
