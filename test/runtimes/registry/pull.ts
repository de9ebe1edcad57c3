// Pulls an image from a registry with Deno's or Bun's own adapter (their fetch), and prints the
// manifest digest and each layer's sha256 as `PULLED <digest> <layer digests...>` for
// test/integration/registry-runtimes.test.ts to compare. Usage: pull.ts docker://HOST/REPO:TAG
import type { Ports } from "../../../src/ports.ts";
import { readAll } from "../../../src/oci/blob.ts";
import { ociKernels } from "../../../src/oci/kernels.ts";
import { openImage } from "../../../src/oci/open.ts";
import { sha256Digest } from "../../../src/oci/verify.ts";

declare const Deno: { args: string[] } | undefined;
const ports: Ports = typeof Deno !== "undefined" ? (await import("../../../runtimes/deno/index.ts")).denoPorts() : (await import("../../../runtimes/bun/index.ts")).bunPorts();
const reference = typeof Deno !== "undefined" ? Deno.args[0]! : process.argv[2]!;
const kernels = ociKernels(ports);
const image = await openImage(ports, reference, { kernels, registry: { insecure: true } });
const layers: string[] = [];
for (const layer of await image.layers()) layers.push(await sha256Digest(kernels, await readAll(layer.compressed())));
console.log(`PULLED ${await image.digest()} ${layers.join(" ")}`);
