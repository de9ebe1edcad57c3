/**
 * `convert` from names: opens the source (any transport), binds the kernels, opens the
 * destination (an OCI layout or a registry repository) and converts. The CLI, the converter
 * Worker and library users all go through here; `convert` stays the piece that takes objects.
 */
import type { EventSink } from "../events.js";
import { StrataError } from "../errors.js";
import { chunkCodecFor, hasherFor } from "../kernels/index.js";
import { createSha256, createStreamingSha256 } from "../kernels/sha256.js";
import { ociKernels } from "../oci/kernels.js";
import { LayoutWriter } from "../oci/layout-writer.js";
import { openImage } from "../oci/open.js";
import { parseReference } from "../oci/reference.js";
import type { ImageSink } from "../oci/sink.js";
import type { Ports } from "../ports.js";
import { registryClient, type RegistryOptions } from "../registry/client.js";
import { RegistrySink } from "../registry/push.js";
import type { ChunkDictionary } from "./chunk-dict.js";
import { convert, type ConvertResult } from "./convert.js";
import type { LayerCache } from "./layer-cache.js";
import { resolveOptions, type ChunkCompressor, type ConvertOptions, type ResolvedOptions } from "./options.js";

/** Compressors strata writes; zstd is the default, as in Nydus. */
export const COMPRESSORS: readonly ChunkCompressor[] = ["none", "lz4_block", "zstd"];
export const DEFAULT_COMPRESSOR: ChunkCompressor = "zstd";

export interface ConvertImageOptions extends ConvertOptions {
  /** os/arch[/variant] to pick from a multi-platform source. */
  platform?: string;
  /** For docker:// sources and destinations. */
  registry?: RegistryOptions;
  /** Pushed blobs up to this size are buffered to skip ones the registry has (RegistrySink's default 64 MiB; lower it where memory is tight, as in a Worker). */
  pushBufferLimit?: number;
  dictionaries?: readonly ChunkDictionary[];
  cache?: LayerCache;
  events?: EventSink;
  /**
   * Threads converting, this one included: 1 compresses chunks in this thread (as runtimes without
   * ports.codecPool do); more hands compression to threads - 1 pool workers; default the runtime's
   * choice. The output is byte-identical whatever the number.
   */
  threads?: number;
}

export interface ConvertImageResult extends ConvertResult {
  /** For registry destinations: what the push sent, skipped and mounted. */
  push?: RegistrySink["stats"];
}

/** More converting threads than this are refused (each pool worker holds its own codec). */
export const MAX_THREADS = 64;

/** INVALID_ARGUMENT unless `threads` is an integer 1..MAX_THREADS. */
export function checkThreads(threads: number): void {
  if (!(Number.isInteger(threads) && threads >= 1 && threads <= MAX_THREADS)) throw new StrataError("INVALID_ARGUMENT", `threads must be an integer from 1 to ${MAX_THREADS}, got ${threads}`, { threads });
}

/** Checks the options before anything is opened: bad ones are INVALID_ARGUMENT with no work done. */
export function convertOptions(options: ConvertOptions): ResolvedOptions {
  return resolveOptions(options, COMPRESSORS, DEFAULT_COMPRESSOR);
}

/** The destination `name` names: `oci:DIR[:TAG]` (needs file ports) or `docker://HOST/REPO[:TAG]`. */
export async function openDestination(ports: Ports, name: string, options: Pick<ConvertImageOptions, "registry" | "pushBufferLimit"> = {}): Promise<{ sink: ImageSink; tag?: string }> {
  const target = parseReference(name);
  if ((target.transport !== "oci" && target.transport !== "docker") || target.digest) {
    throw new StrataError("INVALID_ARGUMENT", `a destination is oci:DIR[:TAG] or docker://HOST/REPO[:TAG], got ${name}`, { destination: name });
  }
  if (target.transport === "docker") {
    const client = registryClient(ports, target.registry, options.registry ?? {});
    return { sink: new RegistrySink(client, target.repository, { sha256: () => createStreamingSha256(ports), bufferLimit: options.pushBufferLimit }), tag: target.tag };
  }
  const { files, output } = ports;
  if (!files || !output) throw new StrataError("UNSUPPORTED", `this runtime has no local files to write ${name}`, { destination: name });
  return { sink: await LayoutWriter.open(target.path, output, files, { sha256: () => createStreamingSha256(ports) }), tag: target.tag };
}

export async function convertImage(ports: Ports, source: string, destination: string, options: ConvertImageOptions = {}): Promise<ConvertImageResult> {
  const resolved = convertOptions(options);
  const { threads } = options;
  if (threads !== undefined) checkThreads(threads);
  const image = await openImage(ports, source, { kernels: ociKernels(ports), platform: options.platform, registry: options.registry });
  const [digester, sha256, codec] = await Promise.all([hasherFor(ports, resolved.digester), createSha256(ports), chunkCodecFor(ports, resolved.compressor)]);
  const { sink, tag } = await openDestination(ports, destination, options);
  const poolThreads = threads === undefined ? (ports.codecPool?.defaultThreads() ?? 0) : threads - 1;
  const codecPool = resolved.compressor !== "none" && poolThreads > 0 ? await ports.codecPool?.open(resolved.compressor, { threads: poolThreads }) : undefined;
  try {
    const result = await convert(
      image,
      sink,
      tag,
      { digester, sha256, codec, codecPool, streamingSha256: () => createStreamingSha256(ports) },
      { ...resolved, events: options.events },
      { dictionaries: options.dictionaries, cache: options.cache },
    );
    return sink instanceof RegistrySink ? { ...result, push: sink.stats } : result;
  } finally {
    await codecPool?.close();
  }
}
