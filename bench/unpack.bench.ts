// Unpacking and exporting the corpus base image. MB/s are of the tree's file bytes.
//
// "unpack base": strata writing the tree from the Nydus conversion (zstd chunks, every chunk
// digest verified), strata from the original OCI image (layers read twice: merge, then content),
// and umoci unpacking the original (as root; it also writes an OCI runtime bundle config).
// "export base": the Nydus image back to one tar+gzip layer, with the runtime's CompressionStream
// and with stored (uncompressed) gzip, against GNU tar | gzip -6 of the unpacked tree.
// Skipped without the corpus.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { convert } from "../src/convert/convert.js";
import { resolveOptions } from "../src/convert/options.js";
import { exportImage } from "../src/export/oci.js";
import type { GzipMode } from "../src/export/gzip.js";
import { chunkCodecFor, hasherFor, rafsKernels } from "../src/kernels/index.js";
import { createSha256, createStreamingSha256 } from "../src/kernels/sha256.js";
import { openNydusLayout } from "../src/nydus/image.js";
import { ociKernels } from "../src/oci/kernels.js";
import { LayoutWriter } from "../src/oci/layout-writer.js";
import { openOciLayout } from "../src/oci/layout.js";
import { nydusSource, ociSource } from "../src/unpack/sources.js";
import { unpack } from "../src/unpack/unpack.js";
import { nodePorts } from "../runtimes/node/index.js";
import type { BenchCase } from "./harness.js";

const CORPUS = process.env.STRATA_CORPUS ?? "/tmp/corpus";
const ports = nodePorts();

export default async function unpackBench(): Promise<BenchCase[]> {
  const dir = join(CORPUS, "images", "base");
  if (!existsSync(dir)) return [];
  const work = mkdtempSync(join(tmpdir(), "strata-bench-unpack-"));
  process.on("exit", () => rmSync(work, { recursive: true, force: true }));
  const options = resolveOptions({}, ["none", "lz4_block", "zstd"], "zstd");
  const layout = join(work, "nydus");
  const original = () => openOciLayout(ports.files!, dir, { kernels: ociKernels(ports) });
  const dest = await LayoutWriter.open(layout, ports.output!, ports.files!, { sha256: () => createStreamingSha256(ports) });
  const [digester, sha256, codec] = await Promise.all([hasherFor(ports, options.digester), createSha256(ports), chunkCodecFor(ports, options.compressor)]);
  const { stats } = await convert(await original(), dest, "bench", { digester, sha256, codec, streamingSha256: () => createStreamingSha256(ports) }, options);
  const kernels = await rafsKernels(ports);
  const nydus = await openNydusLayout(ports.files!, layout, { kernels: ociKernels(ports), tag: "bench" });
  const bytes = stats.uncompressedBytes;
  const rootfs = join(work, "rootfs");
  await unpack(nydusSource(nydus, kernels), ports.treeOutput!, rootfs);

  let run = 0;
  const fresh = () => join(work, `out-${run++}`);
  const once = async (write: (out: string) => Promise<unknown> | unknown) => {
    const out = fresh();
    await write(out);
    rmSync(out, { recursive: true, force: true });
  };
  const exportOnce = (gzip: GzipMode) =>
    once(async (out) => {
      const sha = () => createStreamingSha256(ports);
      await exportImage(nydus, await LayoutWriter.open(out, ports.output!, ports.files!, { sha256: sha }), "flat", { rafs: kernels, sha256: sha }, { gzip });
    });
  const umoci = process.getuid?.() === 0 && spawnSync("which", ["umoci"]).status === 0;

  const cases: BenchCase[] = [
    { bench: "unpack base", impl: "strata (Nydus)", bytes, run: () => once((out) => unpack(nydusSource(nydus, kernels), ports.treeOutput!, out)) },
    { bench: "unpack base", impl: "strata (OCI)", bytes, run: () => once(async (out) => unpack(await ociSource(await original()), ports.treeOutput!, out)) },
    { bench: "export base", impl: "strata (native gzip)", bytes, run: () => exportOnce("native") },
    { bench: "export base", impl: "strata (stored gzip)", bytes, run: () => exportOnce("stored") },
    {
      bench: "export base",
      impl: "tar | gzip -6",
      bytes,
      run: () => once((out) => execFileSync("sh", ["-c", `tar -C "${rootfs}" --sort=name -cf - . | gzip -6 > "${out}"`])),
    },
  ];
  if (umoci) cases.splice(2, 0, { bench: "unpack base", impl: "umoci", bytes, run: () => once((out) => execFileSync("umoci", ["unpack", "--image", `${dir}:latest`, out], { stdio: "pipe" })) });
  return cases;
}
