/** `strata unpack IMAGE DIR`: a Nydus or OCI image's flattened tree written safely into DIR. */
import { isStrataError, StrataError } from "../../errors.js";
import { rafsKernels } from "../../kernels/index.js";
import { openNydus } from "../../nydus/image.js";
import { ociKernels } from "../../oci/kernels.js";
import { openImage } from "../../oci/open.js";
import { nydusSource, ociSource } from "../../unpack/sources.js";
import { unpack } from "../../unpack/unpack.js";
import { Exit, positionals, type Command } from "../main.js";
import { CHECK_FAILURES, isNydusSource, mib, reportFailure } from "./shared.js";
import { cliEvents, eventsOption } from "./events.js";
import { REGISTRY_OPTIONS, registryOptions } from "./registry.js";

export const unpackCommand: Command = {
  summary: "write an image's flattened tree into a directory (never through symlinks, all or nothing)",
  usage: "IMAGE DIR   (IMAGE: a Nydus or OCI image: oci:DIR[:TAG], oci-archive:FILE, docker-archive:FILE, or a bare bootstrap file)",
  options: {
    force: { kind: "flag", describe: "replace DIR even when it is not empty" },
    platform: { kind: "string", describe: "os/arch[/variant] to pick from an index" },
    "blobs-dir": { kind: "string", describe: "for a bare bootstrap: the directory holding its blobs" },
    events: eventsOption,
    json: { kind: "flag", describe: "print the summary as JSON" },
    ...REGISTRY_OPTIONS,
  },
  async run(args, ctx) {
    const [src, dir] = positionals(args, 2, "IMAGE DIR");
    const events = cliEvents(args, ctx);
    ctx = events.ctx;
    const { ports } = ctx;
    const output = ports.treeOutput;
    if (!output) throw new StrataError("UNSUPPORTED", "this runtime cannot write directory trees");
    const json = args.flags.has("json");
    const platform = args.values.get("platform");
    const kernels = ociKernels(ports);
    const started = performance.now();
    const registry = await registryOptions(args, ctx);
    const nydus = await isNydusSource(ctx, src!, platform, registry);
    try {
      const source = nydus
        ? nydusSource(await openNydus(ports, src!, { kernels, platform, blobsDir: args.values.get("blobs-dir"), registry }), await rafsKernels(ports))
        : await ociSource(await openImage(ports, src!, { kernels, platform, registry }));
      const result = await events.run((sink) => unpack(source, output, dir!, { replace: args.flags.has("force"), events: sink }));
      const seconds = (performance.now() - started) / 1000;
      if (json) ctx.stdout(JSON.stringify({ image: src, format: nydus ? "nydus" : "oci", ...result, seconds }) + "\n");
      else {
        ctx.stdout(`unpacked ${src} → ${dir} in ${seconds.toFixed(2)} s: ${result.files} files (${mib(result.bytes)}), ${result.dirs} dirs, ${result.symlinks} symlinks, ${result.hardlinks} hardlinks, ${result.specials} devices and fifos\n`);
        for (const s of result.skipped) ctx.stderr(`warning: not restored: ${s.path}: ${s.reason}\n`);
      }
      return Exit.OK;
    } catch (e) {
      if (!isStrataError(e) || !CHECK_FAILURES.has(e.code)) throw e;
      reportFailure(e, json, ctx);
      return Exit.CHECK_FAILED;
    }
  },
};
