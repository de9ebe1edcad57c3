// Flattening the corpus base image (../shared/corpus): decompress every layer, parse its tar and
// merge it into one inode tree. Peers on the same layer blobs: GNU tar listing each gzip layer
// (`tar -tzf`: gzip decompression plus header parsing, no merge) and `umoci unpack` (the merge
// written out to disk). MB/s are of the uncompressed layer tars. Skipped without the corpus.
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { flatten } from "../src/oci/flatten.js";
import { ociKernels } from "../src/oci/kernels.js";
import { openOciLayout } from "../src/oci/layout.js";
import { nodePorts } from "../runtimes/node/index.js";
import type { BenchCase } from "./harness.js";

const CORPUS = process.env.STRATA_CORPUS ?? "/tmp/corpus";
const ports = nodePorts();

export default async function flattenBench(): Promise<BenchCase[]> {
  const dir = join(CORPUS, "images", "base");
  if (!existsSync(dir)) return [];
  const kernels = ociKernels(ports);
  const image = await openOciLayout(ports.files!, dir, { kernels });
  let bytes = 0;
  for (const layer of await image.layers()) {
    const reader = layer.uncompressed().getReader();
    for (let r = await reader.read(); !r.done; r = await reader.read()) bytes += r.value.length;
  }
  const blobs = (await image.manifest()).layers.map((l) => join(dir, "blobs", ...l.digest.split(":")));
  const out = mkdtempSync(join(tmpdir(), "strata-bench-flatten-"));
  process.on("exit", () => rmSync(out, { recursive: true, force: true }));
  const bench = "flatten base";
  return [
    {
      bench,
      impl: "strata",
      bytes,
      async run() {
        await flatten(await openOciLayout(ports.files!, dir, { kernels }));
      },
    },
    {
      bench,
      impl: "tar -tzf (GNU)",
      bytes,
      run() {
        for (const blob of blobs) execFileSync("tar", ["-tzf", blob], { stdio: ["ignore", "ignore", "pipe"], maxBuffer: 1 << 26 });
      },
    },
    {
      bench,
      impl: "umoci unpack",
      bytes,
      run() {
        rmSync(join(out, "bundle"), { recursive: true, force: true });
        execFileSync("umoci", ["unpack", "--image", `${dir}:latest`, join(out, "bundle")], { stdio: "pipe" });
      },
    },
  ];
}
