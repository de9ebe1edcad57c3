// Converts generated OCI images (randomLayout, or any layout held in memory) into Nydus OCI
// layouts on disk, for the events and diff tests.
import { nodeFilesPort } from "../../runtimes/node/files.js";
import { nodeOutput } from "../../runtimes/node/output.js";
import { convert, type ConvertResult } from "../../src/convert/convert.js";
import { resolveOptions, type ConvertOptions } from "../../src/convert/options.js";
import type { EventSink } from "../../src/events.js";
import { chunkCodecFor, hasherFor } from "../../src/kernels/index.js";
import { createSha256 } from "../../src/kernels/sha256.js";
import { LayoutWriter } from "../../src/oci/layout-writer.js";
import { openOciLayout } from "../../src/oci/layout.js";
import type { Image } from "../../src/oci/types.js";
import { memoryFilesPort, randomLayout } from "../../src/oci/random.js";
import { ports } from "./kernels.js";
import { testKernels } from "./validate.js";

export interface RandomConvertOptions extends ConvertOptions {
  seed?: number;
  layers?: number;
  entries?: number;
  events?: EventSink;
}

/** Converts randomLayout(seed) into `dir` (tag "latest"); small chunks by default so files span several. */
export async function convertRandom(dir: string, options: RandomConvertOptions = {}): Promise<ConvertResult> {
  const { seed = 42, layers = 3, entries = 30, ...rest } = options;
  const source = await randomLayout((await testKernels()).kernels, { seed, layers, entries });
  return convertLayoutFiles(dir, source.files, rest);
}

/** Converts the OCI layout held in `files` (path → bytes, as randomLayout gives them) into `dir`. */
export async function convertLayoutFiles(dir: string, files: ReadonlyMap<string, Uint8Array>, options: ConvertOptions & { events?: EventSink } = {}): Promise<ConvertResult> {
  const oci = (await testKernels()).kernels;
  return convertImage(dir, await openOciLayout(memoryFilesPort("/src", files), "/src", { kernels: oci }), options);
}

/** Converts `image` into the OCI layout `dir` (tag "latest"), with 4 KiB zstd chunks unless told otherwise. */
export async function convertImage(dir: string, image: Image, options: ConvertOptions & { events?: EventSink } = {}): Promise<ConvertResult> {
  const { events, ...convertOptions } = options;
  const resolved = resolveOptions({ chunkSize: 4096, compressor: "zstd", ...convertOptions }, ["none", "lz4_block", "zstd"], "zstd");
  const dest = await LayoutWriter.open(dir, nodeOutput, nodeFilesPort(), { sha256: () => createSha256(ports) });
  const [digester, sha256, codec] = await Promise.all([hasherFor(ports, resolved.digester), createSha256(ports), chunkCodecFor(ports, resolved.compressor)]);
  return convert(image, dest, "latest", { digester, sha256, codec }, { ...resolved, events });
}
