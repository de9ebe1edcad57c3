/**
 * `strata export IMAGE DST`: a Nydus image back to an OCI v1 image with one flattened tar+gzip
 * layer. `strata export --block IMAGE FILE` is export-block.ts's command.
 */
import { isStrataError, StrataError } from "../../errors.js";
import { type GzipMode } from "../../export/gzip.js";
import { exportImage } from "../../export/oci.js";
import { rafsKernels } from "../../kernels/index.js";
import { createStreamingSha256 } from "../../kernels/sha256.js";
import { openNydus } from "../../nydus/image.js";
import { ociKernels } from "../../oci/kernels.js";
import { LayoutWriter } from "../../oci/layout-writer.js";
import { parseReference } from "../../oci/reference.js";
import { Exit, positionals, type Command } from "../main.js";
import { BLOCK_OPTIONS, exportBlockCommand } from "./export-block.js";
import { CHECK_FAILURES, mib, needFiles, reportFailure } from "./shared.js";
import { REGISTRY_OPTIONS, registryOptions } from "./registry.js";

const GZIP_MODES: readonly GzipMode[] = ["native", "stored"];

export const exportCommand: Command = {
  summary: "export a Nydus image as an OCI v1 image with one flattened tar+gzip layer, or (--block) as one EROFS disk image",
  usage: "IMAGE DST | --block IMAGE FILE [--verity]   (IMAGE: oci:DIR[:TAG], oci-archive:FILE, docker-archive:FILE, docker://HOST/REPO[:TAG|@DIGEST], or a bare bootstrap file; DST: oci:DIR[:TAG])",
  options: {
    gzip: { kind: "string", describe: "native (CompressionStream: smaller, bytes vary by runtime) | stored (identical everywhere); default native" },
    platform: { kind: "string", describe: "os/arch[/variant] to pick from an index" },
    "blobs-dir": { kind: "string", describe: "for a bare bootstrap: the directory holding its blobs" },
    json: { kind: "flag", describe: "print the summary as JSON" },
    ...BLOCK_OPTIONS,
    ...REGISTRY_OPTIONS,
  },
  async run(args, ctx) {
    if (args.flags.has("block")) {
      if (args.values.has("gzip")) throw new StrataError("INVALID_ARGUMENT", "--gzip is for OCI exports, not --block");
      return exportBlockCommand.run(args, ctx);
    }
    const blockOnly = Object.keys(BLOCK_OPTIONS).find((name) => args.flags.has(name) || args.values.has(name));
    if (blockOnly) throw new StrataError("INVALID_ARGUMENT", `--${blockOnly} needs --block`);
    const [src, dst] = positionals(args, 2, "IMAGE DST");
    const gzip = args.values.get("gzip") as GzipMode | undefined;
    if (gzip !== undefined && !GZIP_MODES.includes(gzip)) throw new StrataError("INVALID_ARGUMENT", `--gzip must be ${GZIP_MODES.join(" or ")}, got ${gzip}`);
    const target = parseReference(dst!);
    if (target.transport !== "oci" || target.digest) throw new StrataError("INVALID_ARGUMENT", `destination must be oci:DIR[:TAG], got ${dst}`, { destination: dst });
    const { files, output } = needFiles(ctx);
    const { ports } = ctx;
    const json = args.flags.has("json");
    const started = performance.now();
    const image = await openNydus(ports, src!, { kernels: ociKernels(ports), platform: args.values.get("platform"), blobsDir: args.values.get("blobs-dir"), registry: await registryOptions(args, ctx) });
    const sha256 = () => createStreamingSha256(ports);
    const dest = await LayoutWriter.open(target.path, output, files, { sha256 });
    try {
      const result = await exportImage(image, dest, target.tag, { rafs: await rafsKernels(ports), sha256 }, { gzip });
      const seconds = (performance.now() - started) / 1000;
      if (json) ctx.stdout(JSON.stringify({ image: src, destination: dst, ...result, seconds }) + "\n");
      else {
        ctx.stdout(`exported ${src} → ${dst} in ${seconds.toFixed(2)} s: ${result.entries} entries, layer ${mib(result.layer.size)}\n  manifest ${result.manifest.digest}\n  diff_id  ${result.diffId}\n`);
        for (const path of result.skipped) ctx.stderr(`warning: not exported (a tar cannot hold a socket): ${path}\n`);
      }
      return Exit.OK;
    } catch (e) {
      if (!isStrataError(e) || !CHECK_FAILURES.has(e.code)) throw e;
      reportFailure(e, json, ctx);
      return Exit.CHECK_FAILED;
    }
  },
};
