/** `strata verify IMAGE`: every check, every failure listed; exit 1 when any fails. */
import { rafsKernels } from "../../kernels/index.js";
import { ociKernels } from "../../oci/kernels.js";
import { openNydus } from "../../nydus/image.js";
import { verifyNydusImage, type VerifyProgress } from "../../nydus/verify.js";
import { Exit, positionals, type Command } from "../main.js";
import { cliEvents, eventsOption } from "./events.js";
import { REGISTRY_OPTIONS, registryOptions } from "./registry.js";

export const verifyCommand: Command = {
  summary: "verify a Nydus image: manifest rules, bootstrap structure, blob ToC and sections, blob ids, every chunk digest",
  usage: "IMAGE   (oci:DIR[:TAG], oci-archive:FILE, docker-archive:FILE, docker://HOST/REPO[:TAG|@DIGEST], or a bare bootstrap file)",
  options: {
    platform: { kind: "string", describe: "os/arch[/variant] to pick from an index" },
    "blobs-dir": { kind: "string", describe: "for a bare bootstrap: the directory holding its blobs" },
    events: eventsOption,
    json: { kind: "flag", describe: "print the report as JSON" },
    ...REGISTRY_OPTIONS,
  },
  async run(args, ctx) {
    const [src] = positionals(args, 1, "IMAGE");
    const events = cliEvents(args, ctx);
    ctx = events.ctx;
    const { ports } = ctx;
    const kernels = ociKernels(ports);
    const image = await openNydus(ports, src!, { kernels, platform: args.values.get("platform"), blobsDir: args.values.get("blobs-dir"), registry: await registryOptions(args, ctx) });
    const onProgress = ctx.isTTY && !args.flags.has("json") ? (p: VerifyProgress) => ctx.stderr(`\r${p.phase} ${p.done}/${p.total}\x1b[K`) : undefined;
    const report = await events.run(async (sink) => verifyNydusImage(image, await rafsKernels(ports), { sha256: kernels.sha256, onProgress, events: sink }));
    if (onProgress) ctx.stderr("\r\x1b[K");
    if (args.flags.has("json")) {
      ctx.stdout(JSON.stringify(report) + "\n");
    } else {
      const n = report.counts;
      ctx.stdout(`${report.ok ? "OK" : "FAILED"} ${src}: ${n.layers} layers, ${n.blobs} blobs, ${n.files} files, ${n.chunksOk}/${n.chunks} chunks verified\n`);
      for (const f of report.failures) {
        const where = [f.layer !== undefined ? `layer ${f.layer}` : "", f.blobId ? `blob ${f.blobId}` : "", f.section ?? "", f.path ?? "", f.chunk !== undefined ? `chunk ${f.chunk}` : "", f.offset !== undefined ? `offset ${f.offset}` : ""].filter(Boolean).join(", ");
        ctx.stdout(`  ${f.part}/${f.check}: ${f.message}${where ? ` (${where})` : ""}\n`);
      }
    }
    return report.ok ? Exit.OK : Exit.CHECK_FAILED;
  },
};

