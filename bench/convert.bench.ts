// End-to-end conversion of corpus images (../shared/corpus): strata convert (OCI layout →
// Nydus RAFS v6, zstd chunks) against mkfs.erofs -zlz4hc building an EROFS image of the same
// flattened tree from a directory. MB/s are of the image's uncompressed layer tars (cpu_mbps
// counts mkfs.erofs's CPU time as the harness's child's). strata's peak RSS is that of one
// conversion in a fresh Node process (bench/convert-once.ts, tsx loader included): the harness
// process also holds the other benches' buffers. Skipped when the corpus is absent.
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { convert } from "../src/convert/convert.js";
import { resolveOptions } from "../src/convert/options.js";
import { chunkCodecFor, hasherFor } from "../src/kernels/index.js";
import { createSha256, createStreamingSha256 } from "../src/kernels/sha256.js";
import { ociKernels } from "../src/oci/kernels.js";
import { LayoutWriter } from "../src/oci/layout-writer.js";
import { openOciLayout } from "../src/oci/layout.js";
import { nodePorts } from "../runtimes/node/index.js";
import type { BenchCase } from "./harness.js";

const CORPUS = process.env.STRATA_CORPUS ?? "/tmp/corpus";
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

/** Peak RSS of one conversion of `dir` in a fresh Node process. */
function standalonePeakRssMiB(dir: string, out: string): number {
  const script = new URL("convert-once.ts", import.meta.url).pathname;
  const stdout = execFileSync(process.execPath, ["--import", "tsx", script, dir, out], { encoding: "utf8" });
  rmSync(out, { recursive: true, force: true });
  return (JSON.parse(stdout.trim().split("\n").pop()!) as { peakRssMiB: number }).peakRssMiB;
}

export default async function convertBench(): Promise<BenchCase[]> {
  const cases: BenchCase[] = [];
  const out = mkdtempSync(join(tmpdir(), "strata-bench-convert-"));
  process.on("exit", () => rmSync(out, { recursive: true, force: true }));
  const options = resolveOptions({}, ["none", "lz4_block", "zstd"], "zstd");
  for (const name of ["base", "app-v1"]) {
    const dir = join(CORPUS, "images", name);
    const flat = join(CORPUS, "work", `flat-${name}`, "rootfs");
    if (!existsSync(dir)) continue;
    const bytes = await uncompressedBytes(dir);
    const bench = `convert ${name}`;
    const peak = standalonePeakRssMiB(dir, join(out, `${name}-rss`));
    let outputBytes = 0;
    let run = 0;
    // "strata" compresses chunks on worker threads (the default of `strata convert`); "--threads 1" in this one.
    for (const threads of [undefined, 1]) {
      cases.push({
        bench,
        impl: threads === undefined ? "strata" : `strata --threads ${threads}`,
        bytes,
        async run() {
          const codecPool = threads === 1 || options.compressor === "none" ? undefined : await ports.codecPool!.open(options.compressor);
          try {
            const source = await openOciLayout(ports.files!, dir, { kernels: ociKernels(ports) });
            const dest = await LayoutWriter.open(join(out, `${name}-${run++}`), ports.output!, ports.files!, { sha256: () => createStreamingSha256(ports) });
            const [digester, sha256, codec] = await Promise.all([hasherFor(ports, options.digester), createSha256(ports), chunkCodecFor(ports, options.compressor)]);
            const result = await convert(source, dest, "bench", { digester, sha256, codec, codecPool, streamingSha256: () => createStreamingSha256(ports) }, options);
            outputBytes = result.stats.outputBytes;
          } finally {
            await codecPool?.close();
            rmSync(join(out, `${name}-${run - 1}`), { recursive: true, force: true });
          }
        },
        extra: () => ({ ...(threads === undefined ? { peak_rss_mib: peak } : {}), output_mib: +(outputBytes / 1048576).toFixed(1) }),
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
