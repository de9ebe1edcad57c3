/**
 * OCI v1 → Nydus RAFS v6 (`strata convert`). Each layer is read once: its tar streams through the
 * overlay merge, and every regular file it adds is chunked, hashed, deduplicated against the whole
 * image and compressed into that layer's blob (as nydusify does). The merged tree becomes one
 * bootstrap, stored as the last layer. Output goes through temporary names; the tag moves last.
 */
import { emitTree, type EventSink } from "../events.js";
import type { Inode } from "../fs/inode.js";
import { compareNames } from "../fs/inode.js";
import type { ChunkCodec, Hasher } from "../kernels/kernel.js";
import type { StreamingSha256 } from "../kernels/sha256.js";
import type { BlobUpload, ImageSink } from "../oci/sink.js";
import { flatten } from "../oci/flatten.js";
import { MEDIA_TYPES, type Descriptor, type Image, type ImageManifest, type Platform } from "../oci/types.js";
import { hex } from "../oci/verify.js";
import { BlobWriter } from "../rafs/blob-writer.js";
import { writeBootstrap } from "../rafs/bootstrap-writer.js";
import { Annotation, BOOTSTRAP_PATH_IN_LAYER, MediaType } from "../rafs/layout.js";
import type { BlobInfo, ChunkInfo, RafsInode } from "../rafs/types.js";
import { writeTar } from "../tar/writer.js";
import { ChunkStore, FixedChunker, type ChunkStats } from "./chunks.js";
import { gzipStored } from "./gzip.js";
import type { ResolvedOptions } from "./options.js";

/** The kernels conversion uses. */
export interface ConvertKernels {
  /** Chunk digests. */
  digester: Hasher;
  /** Blob ids and OCI digests. */
  sha256: Hasher;
  /** undefined for compressor "none". */
  codec: ChunkCodec | undefined;
  /** Streams for the blobs' data digests; createStreamingSha256 prefers the runtime's native SHA-256 (several times the kernel's speed). */
  streamingSha256?: () => Promise<StreamingSha256>;
}

export interface ConvertResult {
  manifest: Descriptor;
  /** The index written with mergePlatform. */
  index?: Descriptor;
  bootstrap: Descriptor;
  blobs: Descriptor[];
  stats: ChunkStats & { files: number; inputBytes: number; outputBytes: number };
}

const ARTIFACT_TYPE_NYDUS = "application/vnd.nydus.image.manifest.v1+json";
const OS_FEATURE_NYDUS = "nydus.remoteimage.v1";

/** One blob being filled: its writer and the upload it streams into. */
interface OpenBlob {
  writer: BlobWriter;
  upload: BlobUpload;
}

/** `events`: blob events as blobs finish, then file and chunk events for the merged tree (src/events.ts). */
export async function convert(source: Image, dest: ImageSink, tag: string | undefined, kernels: ConvertKernels, options: ResolvedOptions & { events?: EventSink }): Promise<ConvertResult> {
  const manifest = await source.manifest();
  const config = await source.config();
  const layers = await source.layers();
  const store = new ChunkStore(kernels.digester, kernels.codec);
  const chunker = new FixedChunker(options.chunkSize);
  const finished: { info: BlobInfo; descriptor: Descriptor }[] = [];
  const uploads: BlobUpload[] = [];
  let current: OpenBlob | undefined;
  let currentLayer = -1;
  let files = 0;
  const events = options.events;
  // Chunk records that reused a stored chunk, for the chunk events' `deduplicated`.
  const deduped = events && new WeakSet<ChunkInfo>();

  const openBlob = async (): Promise<OpenBlob> => {
    const upload = await dest.upload();
    uploads.push(upload);
    const writer = new BlobWriter({
      blobIndex: finished.length,
      chunkSize: options.chunkSize,
      compressor: options.compressor,
      digester: options.digester,
      sha256: kernels.sha256,
      dataSha256: await kernels.streamingSha256?.(),
      sink: (bytes: Uint8Array) => upload.write(bytes),
    });
    return { writer, upload };
  };
  const closeBlob = async (): Promise<void> => {
    if (!current) return;
    const { writer, upload } = current;
    current = undefined;
    if (writer.chunkCount === 0) return upload.abort();
    const info = await writer.finish();
    const { digest, size } = await upload.finish();
    info.blobId = digest.slice("sha256:".length);
    finished.push({
      info,
      descriptor: { mediaType: MediaType.NYDUS_BLOB, digest, size, annotations: { [Annotation.NYDUS_BLOB]: "true" } },
    });
    await events?.emit({ type: "blob", source: "convert", blobId: info.blobId, size, chunks: info.chunkCount, uncompressedSize: info.uncompressedSize });
  };

  try {
    const root = await flatten(source, {
      onFile: async (inode: Inode, entry, layer) => {
        if (layer !== currentLayer) {
          if (!options.singleBlob) await closeBlob();
          currentLayer = layer;
          await events?.emit({ type: "progress", source: "convert", phase: "layers", done: layer, total: layers.length });
        }
        current ??= await openBlob();
        const target = current.writer;
        const chunks: ChunkInfo[] = [];
        await chunker.file(entry.body(), async (chunk, fileOffset) => {
          const stored = await store.put(chunk, fileOffset, target);
          chunks.push(stored.info);
          if (stored.deduped) deduped?.add(stored.info);
        });
        (inode as RafsInode).chunks = chunks;
        files++;
      },
    });
    await closeBlob();
    if (events) {
      await events.emit({ type: "progress", source: "convert", phase: "layers", done: layers.length, total: layers.length });
      await emitTree(events, "convert", root as RafsInode, finished.map((b) => b.info), options.digester, (chunk) => deduped!.has(chunk));
    }

    const bootstrap = writeBootstrap({
      root: root as RafsInode,
      blobs: finished.map((b) => b.info),
      chunkSize: options.chunkSize,
      compressor: options.compressor,
      digester: options.digester,
      prefetch: prefetchPaths(root, options.prefetchPatterns),
    });
    const bootstrapTar = writeTar([
      { path: "image/", type: "dir", mode: 0o755 },
      { path: BOOTSTRAP_PATH_IN_LAYER, type: "file", mode: 0o644, data: bootstrap },
    ]);
    const bootstrapDesc = await dest.writeBlob(gzipStored(bootstrapTar), MEDIA_TYPES.ociLayerGzip, {
      [Annotation.NYDUS_FS_VERSION]: "6",
      [Annotation.NYDUS_BOOTSTRAP]: "true",
    });

    const blobDescs = finished.map((b) => b.descriptor);
    const nydusConfig = {
      ...config,
      rootfs: { type: "layers", diff_ids: [...blobDescs.map((d) => d.digest), `sha256:${hex(kernels.sha256.digest(bootstrapTar))}`] },
      history: [...(Array.isArray(config.history) ? config.history : []), { created_by: "strata convert", comment: "Nydus Bootstrap Layer" }],
    };
    const configDesc = await dest.writeJson(nydusConfig, manifest.config.mediaType === MEDIA_TYPES.dockerConfig ? MEDIA_TYPES.ociConfig : manifest.config.mediaType);
    const originalDesc: Descriptor = { mediaType: manifest.mediaType ?? MEDIA_TYPES.ociManifest, digest: await source.digest(), size: (await source.rawManifest()).length };
    const nydusManifest: ImageManifest & { subject?: Descriptor } = {
      schemaVersion: 2,
      mediaType: MEDIA_TYPES.ociManifest,
      config: configDesc,
      layers: [...blobDescs, bootstrapDesc],
      ...(options.withReferrer ? { subject: originalDesc } : {}),
    };
    const manifestDesc = await dest.writeJson(nydusManifest, MEDIA_TYPES.ociManifest);

    let indexDesc: Descriptor | undefined;
    if (options.mergePlatform) {
      const platform: Platform = { os: config.os ?? "linux", architecture: config.architecture ?? "amd64", ...(config.variant ? { variant: config.variant } : {}) };
      await copyImage(source, dest);
      const index = {
        schemaVersion: 2,
        mediaType: MEDIA_TYPES.ociIndex,
        manifests: [
          { ...originalDesc, platform },
          { ...manifestDesc, platform: { ...platform, "os.features": [OS_FEATURE_NYDUS] }, artifactType: ARTIFACT_TYPE_NYDUS },
        ],
      };
      indexDesc = await dest.writeJson(index, MEDIA_TYPES.ociIndex);
    }
    await dest.tag(indexDesc ?? manifestDesc, tag);

    const inputBytes = layers.reduce((n, l) => n + l.size, 0);
    const outputBytes = blobDescs.reduce((n, d) => n + d.size, 0) + bootstrapDesc.size;
    return { manifest: manifestDesc, index: indexDesc, bootstrap: bootstrapDesc, blobs: blobDescs, stats: { ...store.stats, files, inputBytes, outputBytes } };
  } catch (e) {
    // Blobs already renamed are complete and unreferenced; partial ones are removed.
    await Promise.all(uploads.map((u) => u.abort().catch(() => {})));
    throw e;
  }
}

/** Copies the source image (manifest, config, layers as stored) into the destination, for --merge-platform. */
async function copyImage(source: Image, dest: ImageSink): Promise<void> {
  for (const layer of await source.layers()) {
    const upload = await dest.upload();
    try {
      const reader = layer.compressed().getReader();
      for (let r = await reader.read(); !r.done; r = await reader.read()) await upload.write(r.value);
      await upload.finish();
    } catch (e) {
      await upload.abort();
      throw e;
    }
  }
  const manifest = await source.manifest();
  await dest.writeBlob(await source.rawConfig(), manifest.config.mediaType);
  await dest.writeBlob(await source.rawManifest(), manifest.mediaType ?? MEDIA_TYPES.ociManifest);
}

/** Paths of regular files selected by the prefetch patterns, in tree order. */
export function prefetchPaths(root: Inode, patterns: readonly string[]): string[] {
  const wanted = patterns.map((p) => p.trim()).filter((p) => p !== "" && !p.startsWith("#")).map((p) => p.replace(/\/+$/, "") || "/");
  if (wanted.length === 0) return [];
  const out: string[] = [];
  const visit = (inode: Inode, path: string) => {
    if (!inode.entries) {
      if ((inode.mode & 0o170000) === 0o100000 && wanted.some((w) => w === "/" || path === w || path.startsWith(`${w}/`))) out.push(path);
      return;
    }
    for (const name of [...inode.entries.keys()].sort(compareNames)) visit(inode.entries.get(name)!, `${path === "/" ? "" : path}/${name}`);
  };
  visit(root, "/");
  return out;
}

