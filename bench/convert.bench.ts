// End-to-end conversion of corpus images (../shared/corpus) as users run it: `strata convert`
// (bin/strata.js over dist/, OCI layout → Nydus RAFS v6, zstd chunks, codec workers by default)
// against mkfs.erofs -zlz4hc building an EROFS image of the same flattened tree from a directory.
// Both are child processes started afresh for every run; MB/s are of the image's uncompressed
// layer tars, and cpu_mbps counts the children's CPU time. peak_rss_mib is the largest peak RSS of
// the strata runs (all threads of the process), reported by bench/peak-rss.mjs. dist/ is built by
// the first run. Skipped when the corpus is absent.
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ociKernels } from "../src/oci/kernels.js";
import { openOciLayout } from "../src/oci/layout.js";
import { nodePorts } from "../runtimes/node/index.js";
import type { BenchCase } from "./harness.js";

const CORPUS = process.env.STRATA_CORPUS ?? "/tmp/corpus";
const ROOT = new URL("..", import.meta.url).pathname;
const ports = nodePorts();

async function uncompressedBytes(dir: string): Promise<number> {
  const image = await openOciLayout(ports.files!, dir, { kernels: ociKernels(ports) });
  let total = 0;
  for (const layer of await image.layers()) {
    const reader = layer.uncompressed().getReader();
    for (let r = await reader.read(); !r.done; r = await reader.read()) total += r.value.length;
  }
  return total;
}

export default async function convertBench(): Promise<BenchCase[]> {
  const cases: BenchCase[] = [];
  const out = mkdtempSync(join(tmpdir(), "strata-bench-convert-"));
  process.on("exit", () => rmSync(out, { recursive: true, force: true }));
  let built = false;
  const strata = (args: string[], rssFile: string) => {
    if (!built) execFileSync(join(ROOT, "node_modules/.bin/tsc"), ["-p", ROOT], { stdio: "pipe" });
    built = true;
    const env = { ...process.env, STRATA_BENCH_RSS_FILE: rssFile };
    execFileSync(process.execPath, ["--import", join(ROOT, "bench/peak-rss.mjs"), join(ROOT, "bin/strata.js"), ...args], { stdio: "pipe", env });
  };
  for (const name of ["base", "app-v1"]) {
    const dir = join(CORPUS, "images", name);
    const flat = join(CORPUS, "work", `flat-${name}`, "rootfs");
    if (!existsSync(dir)) continue;
    const bytes = await uncompressedBytes(dir);
    const bench = `convert ${name}`;
    // "strata" is the command's default: chunks compressed on worker threads (one per core, less one).
    for (const threads of [undefined, 1]) {
      const rssFile = join(out, `${name}-${threads ?? "default"}.rss`);
      writeFileSync(rssFile, "");
      const target = join(out, `${name}-${threads ?? "default"}`);
      let outputBytes = 0;
      cases.push({
        bench,
        impl: threads === undefined ? "strata" : `strata --threads ${threads}`,
        bytes,
        run() {
          rmSync(target, { recursive: true, force: true });
          strata(["convert", `oci:${dir}:latest`, `oci:${target}:latest`, ...(threads === undefined ? [] : ["--threads", String(threads)])], rssFile);
          const blobs = join(target, "blobs", "sha256");
          outputBytes = readdirSync(blobs).reduce((n, digest) => n + statSync(join(blobs, digest)).size, 0);
        },
        extra: () => ({ peak_rss_mib: Math.max(...readFileSync(rssFile, "utf8").trim().split("\n").map(Number)), output_mib: +(outputBytes / 1048576).toFixed(1) }),
      });
    }
    if (existsSync(flat)) {
      cases.push({
        bench,
        impl: "mkfs.erofs -zlz4hc",
        bytes,
        run() {
          execFileSync("mkfs.erofs", ["-zlz4hc", "--quiet", join(out, `${name}.erofs`), flat], { stdio: "pipe" });
        },
      });
    }
  }
  return cases;
}
