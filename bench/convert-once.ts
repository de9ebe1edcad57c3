// One conversion in a fresh Node process, for the convert bench's peak RSS: the harness process
// also holds the other benches' buffers. Prints {"peakRssMiB": N} on stdout.
// Usage: tsx bench/convert-once.ts OCI_LAYOUT_DIR OUT_DIR
import { convert } from "../src/convert/convert.js";
import { resolveOptions } from "../src/convert/options.js";
import { chunkCodecFor, hasherFor } from "../src/kernels/index.js";
import { createSha256, createStreamingSha256 } from "../src/kernels/sha256.js";
import { ociKernels } from "../src/oci/kernels.js";
import { LayoutWriter } from "../src/oci/layout-writer.js";
import { openOciLayout } from "../src/oci/layout.js";
import { nodePorts } from "../runtimes/node/index.js";

const [dir, out] = process.argv.slice(2);
const ports = nodePorts();
const options = resolveOptions({}, ["none", "lz4_block", "zstd"], "zstd");
const source = await openOciLayout(ports.files!, dir!, { kernels: ociKernels(ports) });
const dest = await LayoutWriter.open(out!, ports.output!, ports.files!, { sha256: () => createStreamingSha256(ports) });
const [digester, sha256, codec] = await Promise.all([hasherFor(ports, options.digester), createSha256(ports), chunkCodecFor(ports, options.compressor)]);
// As `strata convert` does by default: chunks compressed on worker threads (their memory counts too).
const codecPool = options.compressor === "none" ? undefined : await ports.codecPool!.open(options.compressor);
await convert(source, dest, "bench", { digester, sha256, codec, codecPool, streamingSha256: () => createStreamingSha256(ports) }, options);
await codecPool?.close();
console.log(JSON.stringify({ peakRssMiB: Math.round(process.resourceUsage().maxRSS / 1024) }));
