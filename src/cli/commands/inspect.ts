/** `strata inspect SRC [PATH]`: Nydus images (layers, blobs, chunks, dedup) or OCI images (the flattened tree). */
import { StrataError } from "../../errors.js";
import { ociKernels } from "../../oci/kernels.js";
import { inspectImage, type InspectEntry } from "../../oci/inspect.js";
import { openImage } from "../../oci/open.js";
import { openNydus } from "../../nydus/image.js";
import { inspectNydusImage, type NydusInspection } from "../../nydus/inspect.js";
import { Exit, type Command } from "../main.js";
import { isNydusSource, mib } from "./shared.js";
import { REGISTRY_OPTIONS, registryOptions } from "./registry.js";

export const inspectCommand: Command = {
  summary: "show an image: for Nydus images the layers, blobs, chunks and dedup; for OCI images the flattened tree",
  usage: "SRC [PATH]   (SRC: oci:DIR[:TAG], oci-archive:FILE, docker-archive:FILE, docker://HOST/REPO[:TAG|@DIGEST], or a bare bootstrap file)",
  options: {
    platform: { kind: "string", describe: "os/arch[/variant] to pick from an index" },
    "blobs-dir": { kind: "string", describe: "for a bare bootstrap: the directory holding its blobs" },
    "no-chunks": { kind: "flag", describe: "leave per-file chunk lists out" },
    json: { kind: "flag", describe: "print JSON" },
    ...REGISTRY_OPTIONS,
  },
  async run(args, ctx) {
    if (args.positionals.length < 1 || args.positionals.length > 2) throw new StrataError("INVALID_ARGUMENT", "expected SRC [PATH]");
    const [src, path] = args.positionals as [string, string | undefined];
    const { ports } = ctx;
    const kernels = ociKernels(ports);
    const platform = args.values.get("platform");
    const registry = await registryOptions(args, ctx);
    if (await isNydusSource(ctx, src, platform, registry)) {
      const image = await openNydus(ports, src, { kernels, platform, blobsDir: args.values.get("blobs-dir"), registry });
      const report = inspectNydusImage(image, { path, chunks: !args.flags.has("no-chunks") });
      if (args.flags.has("json")) ctx.stdout(JSON.stringify(report) + "\n");
      else ctx.stdout(describeNydus(report));
      return Exit.OK;
    }
    const image = await openImage(ports, src, { kernels, platform, registry });
    let rows = await inspectImage(image, kernels);
    if (path !== undefined) rows = rows.filter((r) => r.path === path || r.path.startsWith(`${path.replace(/\/+$/, "")}/`));
    if (path !== undefined && rows.length === 0) throw new StrataError("NOT_FOUND", `no ${path} in ${src}`, { path });
    if (args.flags.has("json")) {
      ctx.stdout(JSON.stringify({ warnings: image.warnings, entries: rows }) + "\n");
      return Exit.OK;
    }
    for (const w of image.warnings) ctx.stderr(`warning: ${w}\n`);
    for (const r of rows) ctx.stdout(treeLine(r));
    return Exit.OK;
  },
};

function treeLine(r: InspectEntry): string {
  const mode = r.mode.toString(8).padStart(4, "0");
  const link = r.target !== undefined ? ` -> ${r.target}` : r.linkTo ? ` => ${r.linkTo}` : "";
  return `${r.type.padEnd(8)} ${mode} ${String(r.uid).padStart(5)}:${String(r.gid).padEnd(5)} ${String(r.size).padStart(10)} ${r.path}${link}\n`;
}

function describeNydus(report: NydusInspection): string {
  const lines = [`${report.name}`];
  for (const b of report.blobs) lines.push(`  blob ${b.blobId}  ${mib(b.storedSize ?? b.compressedSize)}  ${b.chunkCount} chunks`);
  const c = report.chunks;
  lines.push(`  chunks ${c.references} references, ${c.distinct} distinct, ${c.deduplicated} deduplicated (${mib(c.deduplicatedBytes)})`);
  for (const r of report.tree) lines.push(treeLine(r).trimEnd());
  return lines.join("\n") + "\n";
}

