// Runs the conformance suite in all five runtimes and fails if any runtime's results differ from
// Node's: every digest (kernel outputs, compressed bytes, RAFS images, converted OCI layouts) must
// be byte-identical, and every case must pass (or be skipped for the same reason) everywhere.
//
// `npm run test:runtimes` runs this; each runtime alone:
//   npm run test:node     vitest, runtimes/node ports
//   npm run test:deno     npx deno test -A test/runtimes/deno/ (deno.json enables sloppy imports)
//   npm run test:bun      npx bun test test/runtimes/bun/
//   npm run test:workers  vitest: esbuild bundle + CompiledWasm kernels in workerd via miniflare
//   npm run test:browser  vitest: esbuild bundle served on 127.0.0.1, /usr/bin/chromium via playwright-core
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect, test } from "vitest";
import { nodePorts } from "../../runtimes/node/index.js";
import { type CaseOutcome, conformanceLines, runSuite } from "../conformance/suite.js";
import { chromiumMissing, runInChromium } from "./browser/run.js";
import { nativeMissing, runNative } from "./native.js";
import { runInWorkerd, workerdMissing } from "./workers/run.js";

const LINE = /^CONFORMANCE (\S+) (\S+) (.*)$/;

/** `case key=digest` (or `case SKIPPED reason`) lines of one runtime, in order. */
function results(output: string, runtime: string): string[] {
  return output
    .split("\n")
    .map((l) => LINE.exec(l.trim()))
    .filter((m): m is RegExpExecArray => m !== null && m[1] === runtime)
    .map((m) => `${m[2]} ${m[3]}`);
}
const fromOutcomes = (runtime: string, outcomes: CaseOutcome[]) => results(outcomes.flatMap((o) => conformanceLines(runtime, o)).join("\n"), runtime);

test("every runtime produces byte-identical results", async () => {
  const runs: Record<string, () => Promise<string[]>> = {
    node: async () => {
      const scratch = await mkdtemp(join(tmpdir(), "strata-compare-"));
      try {
        return fromOutcomes("node", await runSuite(nodePorts(), { scratch }));
      } finally {
        await rm(scratch, { recursive: true, force: true });
      }
    },
    deno: async () => results(await runNative("deno"), "deno"),
    bun: async () => results(await runNative("bun"), "bun"),
    workers: async () => fromOutcomes("workers", await runInWorkerd()),
    browser: async () => fromOutcomes("browser", await runInChromium()),
  };
  const missing: Record<string, string | undefined> = {
    node: undefined,
    deno: nativeMissing("deno"),
    bun: nativeMissing("bun"),
    workers: await workerdMissing(),
    browser: await chromiumMissing(),
  };
  const got: Record<string, string[]> = {};
  // One runtime at a time: the machine is small and the runs are CPU-bound.
  for (const [runtime, run] of Object.entries(runs)) {
    if (missing[runtime]) {
      console.warn(`compare: ${runtime} skipped: ${missing[runtime]}`);
      continue;
    }
    got[runtime] = await run();
    console.log(`compare: ${runtime} gave ${got[runtime]!.length} results`);
  }
  const reference = got.node!;
  expect(reference.length).toBeGreaterThan(50);
  expect(reference.filter((l) => l.includes(" FAILED "))).toEqual([]);
  for (const [runtime, lines] of Object.entries(got)) {
    const theirs = new Set(lines);
    const ours = new Set(reference);
    const differences = [...reference.filter((l) => !theirs.has(l)).map((l) => `node only:  ${l}`), ...lines.filter((l) => !ours.has(l)).map((l) => `${runtime} only: ${l}`)];
    expect(differences, `${runtime} differs from node`).toEqual([]);
  }
});
