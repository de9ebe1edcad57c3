/** The commands of the `strata` CLI, runtime-free: each runtime's entry point binds ports and streams. */
import { convert } from "../convert/convert.js";
import { parseSize, resolveOptions, type ChunkCompressor } from "../convert/options.js";
import { StrataError } from "../errors.js";
import { chunkCodecFor, hasherFor, rafsKernels } from "../kernels/index.js";
import { ociKernels } from "../oci/kernels.js";
import { createSha256, createStreamingSha256 } from "../kernels/sha256.js";
import { inspectImage, type InspectEntry } from "../oci/inspect.js";
import { openNydus } from "../nydus/image.js";
import { inspectNydusImage, type NydusInspection } from "../nydus/inspect.js";
import { verifyNydusImage, type VerifyProgress } from "../nydus/verify.js";
import { Annotation, type DigesterName } from "../rafs/layout.js";
import { LayoutWriter } from "../oci/layout-writer.js";
import { openImage } from "../oci/open.js";
import { parseReference } from "../oci/reference.js";
import { Exit, positionals, type CliContext, type Command } from "./main.js";

/** Compressors this build can write; zstd is the default, as in Nydus. */
const COMPRESSORS: readonly ChunkCompressor[] = ["none", "lz4_block", "zstd"];
const DEFAULT_COMPRESSOR: ChunkCompressor = "zstd";

function needFiles(ctx: CliContext) {
  const { files, output } = ctx.ports;
  if (!files || !output) throw new StrataError("UNSUPPORTED", "this runtime has no local files for image layouts");
  return { files, output };
}

function mib(bytes: number): string {
  return `${(bytes / 1048576).toFixed(2)} MiB`;
}

const convertCommand: Command = {
  summary: "convert an OCI v1 image into a Nydus RAFS v6 image",
  usage: "SRC DST   (SRC: oci:DIR[:TAG], oci-archive:FILE[:TAG], docker-archive:FILE[:TAG]; DST: oci:DIR[:TAG])",
  options: {
    "chunk-size": { kind: "string", describe: "chunk size, a power of two 4K..16M (default 1M)" },
    compressor: { kind: "string", describe: "none | lz4_block | zstd (default zstd)" },
    digester: { kind: "string", describe: "blake3 | sha256 (default blake3)" },
    "prefetch-patterns": { kind: "string", describe: "file of absolute paths to put in the prefetch table" },
    "merge-platform": { kind: "flag", describe: "write an index with the original and the Nydus manifest" },
    "with-referrer": { kind: "flag", describe: "set the Nydus manifest's subject to the original" },
    "single-blob": { kind: "flag", describe: "one blob for the whole image instead of one per layer" },
    platform: { kind: "string", describe: "os/arch[/variant] to pick from an index (default linux/amd64)" },
    json: { kind: "flag", describe: "print the summary as JSON" },
  },
  async run(args, ctx) {
    const [src, dst] = positionals(args, 2, "SRC DST");
    const options = resolveOptions(
      {
        chunkSize: args.values.has("chunk-size") ? parseSize(args.values.get("chunk-size")!) : undefined,
        compressor: args.values.get("compressor") as ChunkCompressor | undefined,
        digester: args.values.get("digester") as DigesterName | undefined,
        singleBlob: args.flags.has("single-blob"),
        mergePlatform: args.flags.has("merge-platform"),
        withReferrer: args.flags.has("with-referrer"),
      },
      COMPRESSORS,
      DEFAULT_COMPRESSOR,
    );
    const target = parseReference(dst);
    if (target.transport !== "oci" || target.digest) throw new StrataError("INVALID_ARGUMENT", `destination must be oci:DIR[:TAG], got ${dst}`, { destination: dst });
    const { files, output } = needFiles(ctx);
    if (args.values.has("prefetch-patterns")) {
      options.prefetchPatterns = new TextDecoder().decode(await files.readFile(args.values.get("prefetch-patterns")!)).split("\n");
    }
    const { ports } = ctx;
    const started = performance.now();
    const source = await openImage(ports, src, { kernels: ociKernels(ports), platform: args.values.get("platform") });
    const [digester, sha256, codec] = await Promise.all([hasherFor(ports, options.digester), createSha256(ports), chunkCodecFor(ports, options.compressor)]);
    const dest = await LayoutWriter.open(target.path, output, files, { sha256: () => createStreamingSha256(ports) });
    const result = await convert(source, dest, target.tag, { digester, sha256, codec, streamingSha256: () => createStreamingSha256(ports) }, options);
    const seconds = (performance.now() - started) / 1000;
    const s = result.stats;
    if (args.flags.has("json")) {
      ctx.stdout(JSON.stringify({ manifest: result.manifest, index: result.index, bootstrap: result.bootstrap, blobs: result.blobs, stats: s, seconds }) + "\n");
    } else {
      ctx.stdout(
        [
          `converted ${src} → ${dst} in ${seconds.toFixed(2)} s`,
          `  input   ${mib(s.inputBytes)} in layers, ${mib(s.uncompressedBytes)} of file data in ${s.files} files`,
          `  chunks  ${s.chunks} (${s.dedupedChunks} deduplicated, ${mib(s.dedupedBytes)} saved)`,
          `  output  ${mib(s.outputBytes)}: ${result.blobs.length} blobs + bootstrap ${mib(result.bootstrap.size)}`,
          `  manifest ${result.manifest.digest}`,
          "",
        ].join("\n"),
      );
    }
    return Exit.OK;
  },
};

const inspectCommand: Command = {
  summary: "show an image: for Nydus images the layers, blobs, chunks and dedup; for OCI images the flattened tree",
  usage: "SRC [PATH]   (SRC: oci:DIR[:TAG], oci-archive:FILE, docker-archive:FILE, or a bare bootstrap file)",
  options: {
    platform: { kind: "string", describe: "os/arch[/variant] to pick from an index" },
    "blobs-dir": { kind: "string", describe: "for a bare bootstrap: the directory holding its blobs" },
    "no-chunks": { kind: "flag", describe: "leave per-file chunk lists out" },
    json: { kind: "flag", describe: "print JSON" },
  },
  async run(args, ctx) {
    if (args.positionals.length < 1 || args.positionals.length > 2) throw new StrataError("INVALID_ARGUMENT", "expected SRC [PATH]");
    const [src, path] = args.positionals as [string, string | undefined];
    const { ports } = ctx;
    const kernels = ociKernels(ports);
    const platform = args.values.get("platform");
    if (await isNydus(ctx, src, platform)) {
      const image = await openNydus(ports, src, { kernels, platform, blobsDir: args.values.get("blobs-dir") });
      const report = inspectNydusImage(image, { path, chunks: !args.flags.has("no-chunks") });
      if (args.flags.has("json")) ctx.stdout(JSON.stringify(report) + "\n");
      else ctx.stdout(describeNydus(report));
      return Exit.OK;
    }
    const image = await openImage(ports, src, { kernels, platform });
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

/** Whether SRC names a Nydus image: a bare bootstrap file, or a manifest whose last layer is a Nydus bootstrap. */
async function isNydus(ctx: CliContext, src: string, platform: string | undefined): Promise<boolean> {
  if (!/^(oci|oci-archive|docker-archive):/.test(src)) return true;
  const image = await openImage(ctx.ports, src, { kernels: ociKernels(ctx.ports), platform }).catch(() => undefined);
  if (!image) return src.startsWith("oci:"); // a merged-platform index: openNydus picks the Nydus manifest
  const last = (await image.manifest()).layers.at(-1);
  return last?.annotations?.[Annotation.NYDUS_BOOTSTRAP] === "true";
}

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

const verifyCommand: Command = {
  summary: "verify a Nydus image: manifest rules, bootstrap structure, blob ToC and sections, blob ids, every chunk digest",
  usage: "IMAGE   (oci:DIR[:TAG], oci-archive:FILE, docker-archive:FILE, or a bare bootstrap file)",
  options: {
    platform: { kind: "string", describe: "os/arch[/variant] to pick from an index" },
    "blobs-dir": { kind: "string", describe: "for a bare bootstrap: the directory holding its blobs" },
    json: { kind: "flag", describe: "print the report as JSON" },
  },
  async run(args, ctx) {
    const [src] = positionals(args, 1, "IMAGE");
    const { ports } = ctx;
    const kernels = ociKernels(ports);
    const image = await openNydus(ports, src!, { kernels, platform: args.values.get("platform"), blobsDir: args.values.get("blobs-dir") });
    const onProgress = ctx.isTTY && !args.flags.has("json") ? (p: VerifyProgress) => ctx.stderr(`\r${p.phase} ${p.done}/${p.total}\x1b[K`) : undefined;
    const report = await verifyNydusImage(image, await rafsKernels(ports), { sha256: kernels.sha256, onProgress });
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

export const commands: Record<string, Command> = {
  convert: convertCommand,
  inspect: inspectCommand,
  verify: verifyCommand,
};
