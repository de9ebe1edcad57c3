// Checking an unpacked tree against its image, and what the event stream costs.
//
// "diff base": the corpus base image is converted (1 MiB chunks, BLAKE3) and unpacked once; then
// strata diff hashes every file at the image's chunk boundaries and compares metadata, against
// the standard way of checking unpacked files, `sha256sum --check` of a manifest made beforehand
// (content only: no metadata, no added or removed paths). MB/s are of the tree's file bytes.
// "diff base --quick" has no peer: metadata and sizes only.
//
// "convert base events": the same conversion without subscribers and with an NDJSON subscriber
// (block policy) writing every event to a file, as `--events FILE` does. Skipped without the corpus.
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { convert } from "../src/convert/convert.js";
import { resolveOptions } from "../src/convert/options.js";
import { diffTree } from "../src/diff/diff.js";
import { EventBus, ndjsonSubscriber } from "../src/events.js";
import { chunkCodecFor, hasherFor, rafsKernels } from "../src/kernels/index.js";
import { createSha256, createStreamingSha256 } from "../src/kernels/sha256.js";
import { openNydusLayout } from "../src/nydus/image.js";
import { ociKernels } from "../src/oci/kernels.js";
import { LayoutWriter } from "../src/oci/layout-writer.js";
import { openOciLayout } from "../src/oci/layout.js";
import { nydusSource } from "../src/unpack/sources.js";
import { unpack } from "../src/unpack/unpack.js";
import { nodePorts } from "../runtimes/node/index.js";
import type { BenchCase } from "./harness.js";

const CORPUS = process.env.STRATA_CORPUS ?? "/tmp/corpus";
const ports = nodePorts();

export default async function diffBench(): Promise<BenchCase[]> {
  const dir = join(CORPUS, "images", "base");
  if (!existsSync(dir)) return [];
  const work = mkdtempSync(join(tmpdir(), "strata-bench-diff-"));
  process.on("exit", () => rmSync(work, { recursive: true, force: true }));
  const options = resolveOptions({}, ["none", "lz4_block", "zstd"], "zstd");
  let run = 0;
  const convertOnce = async (events?: EventBus) => {
    const out = join(work, `nydus-${run++}`);
    const source = await openOciLayout(ports.files!, dir, { kernels: ociKernels(ports) });
    const dest = await LayoutWriter.open(out, ports.output!, ports.files!, { sha256: () => createStreamingSha256(ports) });
    const [digester, sha256, codec] = await Promise.all([hasherFor(ports, options.digester), createSha256(ports), chunkCodecFor(ports, options.compressor)]);
    const result = await convert(source, dest, "bench", { digester, sha256, codec, streamingSha256: () => createStreamingSha256(ports) }, { ...options, events });
    return { out, result };
  };

  const { out: layout, result } = await convertOnce();
  const kernels = await rafsKernels(ports);
  const nydus = await openNydusLayout(ports.files!, layout, { kernels: ociKernels(ports) });
  const rootfs = join(work, "rootfs");
  await unpack(nydusSource(nydus, kernels), ports.treeOutput!, rootfs);
  const image = { root: nydus.rafs!.root, hasher: kernels.hasher(nydus.rafs!.digester) };
  const fileBytes = result.stats.uncompressedBytes;
  const manifest = join(work, "SHA256SUMS");
  writeFileSync(manifest, execFileSync("sh", ["-c", "find . -type f -print0 | sort -z | xargs -0 sha256sum"], { cwd: rootfs, maxBuffer: 1 << 28 }));
  const layerBytes = result.stats.inputBytes;

  return [
    {
      bench: "diff base",
      impl: "strata",
      bytes: fileBytes,
      async run() {
        const report = await diffTree(ports.tree!, rootfs, image);
        if (!report.identical) throw new Error("the unpacked tree differs from its image");
      },
    },
    {
      bench: "diff base",
      impl: "sha256sum --check",
      bytes: fileBytes,
      run: () => execFileSync("sha256sum", ["--check", "--quiet", manifest], { cwd: rootfs, stdio: "pipe" }),
    },
    {
      bench: "diff base --quick",
      impl: "strata",
      bytes: fileBytes,
      run: () => diffTree(ports.tree!, rootfs, image, { quick: true }),
    },
    {
      bench: "convert base events",
      impl: "strata",
      bytes: layerBytes,
      async run() {
        rmSync((await convertOnce()).out, { recursive: true, force: true });
      },
    },
    {
      bench: "convert base events",
      impl: "strata --events FILE",
      bytes: layerBytes,
      async run() {
        const bus = new EventBus();
        const file = await ports.output!.create(join(work, "events.ndjson"));
        const encoder = new TextEncoder();
        bus.subscribe(ndjsonSubscriber((lines) => file.write(encoder.encode(lines))));
        rmSync((await convertOnce(bus)).out, { recursive: true, force: true });
        await bus.close();
        await file.commit();
      },
    },
  ];
}
