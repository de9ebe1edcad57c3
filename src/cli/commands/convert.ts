/** `strata convert SRC DST`. */
import { openChunkDictionaries } from "../../convert/chunk-dict.js";
import { checkThreads, convertImage, convertOptions as resolveConvertOptions } from "../../convert/convert-image.js";
import { LayerCache } from "../../convert/layer-cache.js";
import { parseSize, type ChunkCompressor } from "../../convert/options.js";
import { StrataError } from "../../errors.js";
import { createSha256, createStreamingSha256 } from "../../kernels/sha256.js";
import { parseReference } from "../../oci/reference.js";
import { REGISTRY_OPTIONS, registryOptions } from "./registry.js";
import type { DigesterName } from "../../rafs/layout.js";
import { Exit, positionals, type Command } from "../main.js";
import type { Subscriber } from "../../events.js";
import type { ParsedArgs } from "../args.js";
import type { CliContext } from "../main.js";
import { cliEvents, eventsOption } from "./events.js";
import { cacheDirOf } from "./cache.js";
import { mib, needFiles } from "./shared.js";

export const convertCommand: Command = {
  summary: "convert an OCI v1 image into a Nydus RAFS v6 image",
  usage: "SRC DST   (SRC: oci:DIR[:TAG], oci-archive:FILE[:TAG], docker-archive:FILE[:TAG], docker://HOST/REPO[:TAG|@DIGEST]; DST: oci:DIR[:TAG], docker://HOST/REPO[:TAG])",
  options: {
    "chunk-size": { kind: "string", describe: "chunk size, a power of two 4K..16M (default 1M)" },
    compressor: { kind: "string", describe: "none | lz4_block | zstd (default zstd)" },
    digester: { kind: "string", describe: "blake3 | sha256 (default blake3)" },
    "prefetch-patterns": { kind: "string", describe: "file of absolute paths to put in the prefetch table" },
    "merge-platform": { kind: "flag", describe: "write an index with the original and the Nydus manifest" },
    "with-referrer": { kind: "flag", describe: "set the Nydus manifest's subject to the original" },
    "single-blob": { kind: "flag", describe: "one blob for the whole image instead of one per layer" },
    platform: { kind: "string", describe: "os/arch[/variant] to pick from an index (default linux/amd64)" },
    "chunk-dict": { kind: "list", describe: "a Nydus image (oci:DIR[:TAG]) or RAFS bootstrap whose chunks are reused (repeatable)" },
    threads: { kind: "string", describe: "threads converting, this one included (1: no worker threads; default: one per core, at most 3)" },
    "cache-dir": { kind: "string", describe: "directory of converted layers to reuse and extend (default $STRATA_CACHE_DIR, else none)" },
    events: eventsOption,
    json: { kind: "flag", describe: "print the summary as JSON" },
    ...REGISTRY_OPTIONS,
  },
  async run(args, ctx) {
    const [src, dst] = positionals(args, 2, "SRC DST");
    const events = cliEvents(args, ctx, progressLine(args, ctx));
    ctx = events.ctx;
    const convertOptions = {
      chunkSize: args.values.has("chunk-size") ? parseSize(args.values.get("chunk-size")!) : undefined,
      compressor: args.values.get("compressor") as ChunkCompressor | undefined,
      digester: args.values.get("digester") as DigesterName | undefined,
      singleBlob: args.flags.has("single-blob"),
      mergePlatform: args.flags.has("merge-platform"),
      withReferrer: args.flags.has("with-referrer"),
    };
    // Options are checked before anything is opened.
    const options = resolveConvertOptions(convertOptions);
    const threads = args.values.has("threads") ? Number(args.values.get("threads")) : undefined;
    if (threads !== undefined) checkThreads(threads);
    const target = parseReference(dst);
    if ((target.transport !== "oci" && target.transport !== "docker") || target.digest) throw new StrataError("INVALID_ARGUMENT", `destination must be oci:DIR[:TAG] or docker://HOST/REPO[:TAG], got ${dst}`, { destination: dst });
    const registry = await registryOptions(args, ctx);
    const { files, output } = needFiles(ctx);
    const prefetchPatterns = args.values.has("prefetch-patterns") ? new TextDecoder().decode(await files.readFile(args.values.get("prefetch-patterns")!)).split("\n") : undefined;
    const { ports } = ctx;
    const started = performance.now();
    const sha256 = await createSha256(ports);
    const dictionaries = await openChunkDictionaries(ports, args.lists.get("chunk-dict") ?? [], options, sha256, registry);
    for (const d of dictionaries) {
      if (d.missingBlobs.length > 0) ctx.stderr(`strata: chunk dictionary ${d.name}: ${d.missingBlobs.length} of its blobs were not found; their chunks are not used\n`);
    }
    const cacheDir = cacheDirOf(args, ctx);
    const cache = cacheDir === undefined ? undefined : new LayerCache(cacheDir, { files, output, sha256, dirs: ports.cacheDir, streamingSha256: () => createStreamingSha256(ports) });
    const result = await events.run((sink) =>
      convertImage(ports, src, dst, { ...convertOptions, threads, prefetchPatterns, platform: args.values.get("platform"), registry, dictionaries, cache, events: sink }),
    );
    const seconds = (performance.now() - started) / 1000;
    const s = result.stats;
    if (args.flags.has("json")) {
      const pushed = result.push ? { push: result.push } : {};
      ctx.stdout(JSON.stringify({ manifest: result.manifest, index: result.index, bootstrap: result.bootstrap, blobs: result.blobs, stats: s, seconds, ...pushed }) + "\n");
    } else {
      ctx.stdout(
        [
          `converted ${src} → ${dst} in ${seconds.toFixed(2)} s`,
          `  input   ${mib(s.inputBytes)} in layers, ${mib(s.uncompressedBytes)} of file data in ${s.files} files`,
          `  chunks  ${s.chunks} (${s.dedupedChunks} deduplicated, ${mib(s.dedupedBytes)} saved; ${s.reusedChunks} found in dictionaries or cached layers)`,
          ...(s.cachedLayers > 0 ? [`  cache   ${s.cachedLayers} converted layers reused; ${mib(s.layerBytesRead)} of layers read`] : []),
          ...(result.dictionaryBlobs.length > 0 ? [`  dict    ${result.dictionaryBlobs.length} dictionary blobs used (${mib(result.dictionaryBlobs.reduce((n, d) => n + d.size, 0))}, now in the image too)`] : []),
          `  output  ${mib(s.outputBytes)}: ${result.blobs.length} blobs + bootstrap ${mib(result.bootstrap.size)}`,
          `  manifest ${result.manifest.digest}`,
          "",
        ].join("\n"),
      );
    }
    return Exit.OK;
  },
};


/** On a terminal (and not --json, not --events -): one self-rewriting line on stderr. */
function progressLine(args: ParsedArgs, ctx: CliContext): Subscriber | undefined {
  if (!ctx.isTTY || args.flags.has("json") || args.values.get("events") === "-") return undefined;
  const started = performance.now();
  const seconds = () => ((performance.now() - started) / 1000).toFixed(1);
  return (event) => {
    if (event.type === "progress" && event.source === "convert") {
      const what = event.done < event.total ? `layer ${event.done + 1}/${event.total}` : "writing the bootstrap";
      ctx.stderr(`\rconverting: ${what} · ${seconds()} s\x1b[K`);
    } else if (event.type === "blob") {
      ctx.stderr(`\rconverting: blob ${event.blobId.slice(0, 12)} written · ${seconds()} s\x1b[K`);
    } else if (event.type === "end") {
      ctx.stderr("\r\x1b[K");
    }
  };
}
