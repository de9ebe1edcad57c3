/** `strata copy SRC DST`: an image as stored (no conversion), pulled from or pushed to a registry. */
import { StrataError } from "../../errors.js";
import { createStreamingSha256 } from "../../kernels/sha256.js";
import { ociKernels } from "../../oci/kernels.js";
import { LayoutWriter } from "../../oci/layout-writer.js";
import { openImage } from "../../oci/open.js";
import { parseReference } from "../../oci/reference.js";
import { copyImage } from "../../registry/push.js";
import { Exit, positionals, type Command } from "../main.js";
import { REGISTRY_OPTIONS, registryOptions, registrySink } from "./registry.js";
import { needFiles } from "./shared.js";

export const copyCommand: Command = {
  summary: "copy an image as stored (one platform of an index) between layouts, archives and registries",
  usage: "SRC DST   (SRC: oci:DIR[:TAG], oci-archive:FILE, docker-archive:FILE, docker://HOST/REPO[:TAG|@DIGEST]; DST: oci:DIR[:TAG], docker://HOST/REPO[:TAG])",
  options: {
    platform: { kind: "string", describe: "os/arch[/variant] to pick from an index (default linux/amd64)" },
    json: { kind: "flag", describe: "print the summary as JSON" },
    ...REGISTRY_OPTIONS,
  },
  async run(args, ctx) {
    const [src, dst] = positionals(args, 2, "SRC DST");
    const from = parseReference(src!);
    const to = parseReference(dst!);
    if ((to.transport !== "oci" && to.transport !== "docker") || to.digest) {
      throw new StrataError("INVALID_ARGUMENT", `destination must be oci:DIR[:TAG] or docker://HOST/REPO[:TAG], got ${dst}`, { destination: dst });
    }
    const registry = await registryOptions(args, ctx);
    const { ports } = ctx;
    const started = performance.now();
    const source = await openImage(ports, from, { kernels: ociKernels(ports), platform: args.values.get("platform"), registry });
    let sink;
    if (to.transport === "docker") {
      sink = registrySink(ctx, to, registry);
    } else {
      const { files, output } = needFiles(ctx);
      sink = await LayoutWriter.open(to.path, output, files, { sha256: () => createStreamingSha256(ports) });
    }
    // Within one registry, layers are mounted from the source repository instead of sent.
    const mountFrom = from.transport === "docker" && to.transport === "docker" && from.registry === to.registry && from.repository !== to.repository ? from.repository : undefined;
    const manifest = await copyImage(source, sink, to.tag, { mountFrom, jobs: registry.jobs });
    const seconds = (performance.now() - started) / 1000;
    const push = "stats" in sink ? sink.stats : undefined;
    if (args.flags.has("json")) {
      ctx.stdout(JSON.stringify({ manifest, seconds, ...(push ? { push } : {}) }) + "\n");
    } else {
      const counts = push ? ` (${push.uploaded} blobs sent, ${push.skipped} present, ${push.mounted} mounted)` : "";
      ctx.stdout(`copied ${src} → ${dst} in ${seconds.toFixed(2)} s${counts}\n  manifest ${manifest.digest}\n`);
    }
    return Exit.OK;
  },
};
