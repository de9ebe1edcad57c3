// npm run bench [-- --json] [FILTER...]
// Runs every bench/*.bench.ts, times each case on the same buffers, prints a table with ratios
// against strata (or, with --json, one {"bench","impl","mbps",...} object per line). mbps is by
// wall clock; cpu_mbps by the CPU time the runs used (this process's threads and any child
// processes it waited for), which a machine shared with other work disturbs less.
import { readFileSync } from "node:fs";
import { readdir } from "node:fs/promises";
import type { BenchCase, BenchFile } from "./harness.js";

const args = process.argv.slice(2);
const json = args.includes("--json");
const filters = args.filter((a) => !a.startsWith("--"));
const MIN_TIME_MS = 1000;

/** CPU seconds used so far by this process and its waited-for children (children from Linux /proc; 0 elsewhere). */
function cpuSeconds(): number {
  const own = process.cpuUsage();
  let children = 0;
  try {
    const fields = readFileSync("/proc/self/stat", "utf8").split(") ")[1]!.split(" ");
    children = (Number(fields[13]) + Number(fields[14])) / 100; // cutime + cstime, clock ticks
  } catch {
    // Not Linux: children's CPU time is not counted.
  }
  return (own.user + own.system) / 1e6 + children;
}

/** MB/s by wall clock and by CPU time. */
async function measure(c: BenchCase): Promise<{ wall: number; cpu: number }> {
  await c.run(); // warm-up: JIT, wasm tier-up, page faults
  let iterations = 0;
  const cpuStart = cpuSeconds();
  const start = performance.now();
  let elapsed = 0;
  while (elapsed < MIN_TIME_MS || iterations < 3) {
    await c.run();
    iterations++;
    elapsed = performance.now() - start;
  }
  const bytes = c.bytes * iterations;
  return { wall: bytes / (elapsed / 1000) / 1e6, cpu: bytes / (cpuSeconds() - cpuStart) / 1e6 };
}

const files = (await readdir(new URL(".", import.meta.url))).filter((f) => f.endsWith(".bench.ts")).sort();
const rows: { bench: string; impl: string; mbps: number; extra: Record<string, number | string> }[] = [];
for (const file of files) {
  const load = (await import(new URL(file, import.meta.url).href)).default as BenchFile;
  const cases = (await load()).filter((c) => filters.length === 0 || filters.some((f) => c.bench.includes(f) || file.includes(f)));
  for (const c of cases) {
    const { wall, cpu } = await measure(c);
    const row = { bench: c.bench, impl: c.impl, mbps: Math.round(wall * 10) / 10, extra: { cpu_mbps: Math.round(cpu * 10) / 10, ...c.extra?.() } };
    rows.push(row);
    if (json) console.log(JSON.stringify({ bench: row.bench, impl: row.impl, mbps: row.mbps, ...row.extra }));
  }
}

if (!json) {
  const benches = [...new Set(rows.map((r) => r.bench))];
  for (const bench of benches) {
    const group = rows.filter((r) => r.bench === bench);
    const strata = group.find((r) => r.impl === "strata");
    console.log(`\n${bench}`);
    for (const r of group) {
      const ratio = strata ? ` strata ${(strata.mbps / r.mbps).toFixed(2)}x (cpu ${((strata.extra.cpu_mbps as number) / (r.extra.cpu_mbps as number)).toFixed(2)}x)` : "";
      const extra = Object.entries(r.extra).map(([k, v]) => ` ${k}=${v}`).join("");
      console.log(`  ${r.impl.padEnd(22)} ${r.mbps.toFixed(1).padStart(9)} MB/s${r.impl === "strata" ? "" : ratio}${extra}`);
    }
  }
}
