/**
 * OCI v1 → Nydus RAFS v6 (`strata convert`). Each layer is read once: its tar streams through the
 * overlay merge, and every regular file it adds is chunked, hashed, deduplicated against the whole
 * image and compressed into that layer's blob (as nydusify does). The merged tree becomes one
 * bootstrap, stored as the last layer. Output goes through temporary names; the tag moves last.
 *
 * Reuse (docs/DEDUP.md): chunks found in chunk dictionaries are referenced where they are stored,
 * and the dictionary blobs used join the blob table and the manifest; layers found in the layer
 * cache are replayed into the merge from their records, unread, and their blobs reused.
 */
import { emitTree, type EventSink } from "../events.js";
import type { Inode } from "../fs/inode.js";
import { compareNames } from "../fs/inode.js";
import type { ChunkCodec, Hasher } from "../kernels/kernel.js";
import type { StreamingSha256 } from "../kernels/sha256.js";
import type { BlobUpload, ImageSink } from "../oci/sink.js";
import type { Overlay } from "../fs/overlay.js";
import type { BlobRange } from "../oci/blob.js";
import { flatten } from "../oci/flatten.js";
import type { ChunkCompressPool, PendingFile } from "../ports.js";
import { isStrataError, StrataError } from "../errors.js";
import { MEDIA_TYPES, type Descriptor, type Image, type ImageManifest, type Platform } from "../oci/types.js";
import { hex } from "../oci/verify.js";
import { BlobWriter } from "../rafs/blob-writer.js";
import { writeBootstrap } from "../rafs/bootstrap-writer.js";
import { Annotation, BOOTSTRAP_PATH_IN_LAYER, MediaType } from "../rafs/layout.js";
import type { BlobInfo, ChunkInfo, RafsInode } from "../rafs/types.js";
import { writeTar } from "../tar/writer.js";
import { BlobSlots } from "./blob-slots.js";
import type { ChunkDictionary, DictBlob } from "./chunk-dict.js";
import { ChunkStore, FixedChunker, type ChunkStats } from "./chunks.js";
import { gzip } from "./gzip.js";
import type { LayerCache, RecordedEntry } from "./layer-cache.js";
import type { ResolvedOptions } from "./options.js";

/** The kernels conversion uses. */
export interface ConvertKernels {
  /** Chunk digests. */
  digester: Hasher;
  /** Blob ids and OCI digests. */
  sha256: Hasher;
  /** undefined for compressor "none". */
  codec: ChunkCodec | undefined;
  /** Compresses chunks on other threads instead of `codec` (same compressor, same output bytes). */
  codecPool?: ChunkCompressPool;
  /** Streams for the blobs' data digests; createStreamingSha256 prefers the runtime's native SHA-256 (several times the kernel's speed). */
  streamingSha256?: () => Promise<StreamingSha256>;
}

export interface ConvertResult {
  manifest: Descriptor;
  /** The index written with mergePlatform. */
  index?: Descriptor;
  bootstrap: Descriptor;
  /** Every blob layer, in manifest order: the layers' own blobs, then the dictionary blobs used. */
  blobs: Descriptor[];
  /** The dictionary blobs the image uses (copied into the destination). */
  dictionaryBlobs: Descriptor[];
  /**
   * outputBytes: the layers' own blobs and the bootstrap layer (not the dictionary blobs).
   * layerBytesRead: stored bytes of the source layers read (cached layers are not read).
   */
  stats: ChunkStats & { files: number; inputBytes: number; outputBytes: number; layerBytesRead: number; cachedLayers: number };
}

const ARTIFACT_TYPE_NYDUS = "application/vnd.nydus.image.manifest.v1+json";
const OS_FEATURE_NYDUS = "nydus.remoteimage.v1";

/** One blob being filled: its writer, the upload it streams into, and its copy for the layer cache. */
interface OpenBlob {
  writer: BlobWriter;
  upload: BlobUpload;
  slot: number;
  cacheCopy?: PendingFile;
}

/** What a conversion may reuse: chunks stored in other images, and layers converted before. */
export interface ConvertReuse {
  /** Chunk dictionaries, by priority (a digest found in several is taken from the first). */
  dictionaries?: readonly ChunkDictionary[];
  /** Converted layers, read and extended; not used with singleBlob (a shared blob is no layer's own). */
  cache?: LayerCache;
}

/** A layer being converted for the cache: its entries as the merge sees them. */
interface Recording {
  key: string;
  entries: RecordedEntry[];
  blob?: BlobInfo;
}

const READ_PIECE = 4 << 20;

/** `events`: blob events as blobs finish, then file and chunk events for the merged tree (src/events.ts). */
export async function convert(
  source: Image,
  dest: ImageSink,
  tag: string | undefined,
  kernels: ConvertKernels,
  options: ResolvedOptions & { events?: EventSink },
  reuse: ConvertReuse = {},
): Promise<ConvertResult> {
  const manifest = await source.manifest();
  const config = await source.config();
  const layers = await source.layers();
  const store = new ChunkStore(kernels.digester, kernels.codec, kernels.codecPool);
  const chunker = new FixedChunker(options.chunkSize);
  const slots = new BlobSlots();
  const dictionaries = reuse.dictionaries ?? [];
  const dictBlobs = new Map<string, DictBlob>();
  for (const dict of dictionaries) {
    for (const blob of dict.blobs) if (!dictBlobs.has(blob.info.blobId)) dictBlobs.set(blob.info.blobId, blob);
    for (const { info, blob } of dict.chunks) store.preload(info, () => slots.dict(blob));
  }
  const cache = options.singleBlob ? undefined : reuse.cache;
  const uploads: BlobUpload[] = [];
  let current: OpenBlob | undefined;
  let recording: Recording | undefined;
  let files = 0;
  let cachedLayers = 0;
  let layerBytesRead = 0;
  const events = options.events;
  // Chunk records that reused a stored chunk, for the chunk events' `deduplicated`.
  const deduped = events && new WeakSet<ChunkInfo>();
  const blobEvent = (info: BlobInfo, size: number) => events?.emit({ type: "blob", source: "convert", blobId: info.blobId, size, chunks: info.chunkCount, uncompressedSize: info.uncompressedSize });

  const openBlob = async (): Promise<OpenBlob> => {
    const slot = slots.reserve();
    const upload = await dest.upload();
    uploads.push(upload);
    const cacheCopy = recording && (await cache!.pendingBlob());
    const writer = new BlobWriter({
      blobIndex: slot,
      chunkSize: options.chunkSize,
      compressor: options.compressor,
      digester: options.digester,
      sha256: kernels.sha256,
      dataSha256: await kernels.streamingSha256?.(),
      sink: async (bytes: Uint8Array) => {
        await upload.write(bytes);
        await cacheCopy?.write(bytes);
      },
    });
    return { writer, upload, slot, cacheCopy };
  };
  const closeBlob = async (): Promise<void> => {
    if (!current) return;
    const { writer, upload, slot, cacheCopy } = current;
    current = undefined;
    if (writer.chunkCount === 0) {
      await cacheCopy?.abort();
      return upload.abort();
    }
    const info = await writer.finish();
    const { digest, size } = await upload.finish();
    info.blobId = digest.slice("sha256:".length);
    await cacheCopy?.commit(cache!.blobPath(info.blobId));
    if (recording) recording.blob = info;
    slots.fill(slot, info, blobDescriptor(digest, size));
    await blobEvent(info, size);
  };
  /** Streams bytes into a new blob of the destination; false when they are not `blobId`. */
  const copyBlob = async (pieces: AsyncIterable<Uint8Array>, blobId: string): Promise<Descriptor | undefined> => {
    const upload = await dest.upload();
    uploads.push(upload);
    for await (const piece of pieces) await upload.write(piece);
    // A mismatch leaves a complete, unreferenced blob in the destination.
    const { digest, size } = await upload.finish();
    return digest === `sha256:${blobId}` ? blobDescriptor(digest, size) : undefined;
  };

  /** Puts a dictionary blob into the destination: a registry mounts or skips it where it can; undefined when its bytes are not its id. */
  const placeDictBlob = async (blob: DictBlob): Promise<Descriptor | undefined> => {
    if (!dest.putBlob) return copyBlob(pieces(blob.range), blob.info.blobId);
    return putKnownBlob(blobDescriptor(`sha256:${blob.info.blobId}`, blob.range.size), () => blob.range.stream(), blob.origin);
  };
  /** Puts a cached blob into the destination: hardlinked where it can be, else copied; undefined when its bytes are not its id. */
  const placeCachedBlob = async (blob: BlobInfo): Promise<Descriptor | undefined> => {
    const digest = `sha256:${blob.blobId}`;
    const placed = dest.blobPath ? await cache!.linkBlob(blob.blobId, dest.blobPath(digest)) : "unsupported";
    if (placed === "linked") return blobDescriptor(digest, blob.compressedSize);
    if (placed === "mismatch") return undefined;
    if (!dest.putBlob) return copyBlob(cache!.blobPieces(blob.blobId), blob.blobId);
    // A registry that has the blob already is not sent it again.
    return putKnownBlob(blobDescriptor(digest, blob.compressedSize), () => streamOf(cache!.blobPieces(blob.blobId)));
  };
  /** Stores a blob of known digest through the sink's putBlob; undefined when the bytes are not that digest. */
  const putKnownBlob = async (descriptor: Descriptor, open: () => ReadableStream<Uint8Array>, mountFrom?: DictBlob["origin"]): Promise<Descriptor | undefined> => {
    try {
      await dest.putBlob!(descriptor, open, mountFrom);
      return descriptor;
    } catch (e) {
      if (isStrataError(e, "DIGEST_MISMATCH")) return undefined;
      throw e;
    }
  };
  /** Applies a cached layer to the merge; false when there is none usable (the layer is read). */
  const replay = async (key: string, index: number, overlay: Overlay): Promise<boolean> => {
    const hit = await cache!.get(key);
    if (!hit) return false;
    const { record } = hit;
    const ownId = record.blob?.blobId;
    if (!record.blobs.every((id) => id === ownId || slots.slotOf(id) !== undefined || dictBlobs.has(id))) return false;
    let own = -1;
    if (record.blob) {
      const descriptor = await placeCachedBlob(record.blob);
      if (!descriptor) return false;
      own = slots.reserve();
      slots.fill(own, { ...record.blob, blobIndex: own }, descriptor);
      await blobEvent(record.blob, descriptor.size);
    }
    const slotOf = record.blobs.map((id) => (id === ownId ? own : (slots.slotOf(id) ?? slots.dict(dictBlobs.get(id)!))));
    overlay.beginLayer(index);
    for (const { header, chunks } of record.entries) {
      const inode = overlay.apply({ ...header, uname: "", gname: "", headerOffset: 0, offset: 0 }) as RafsInode | undefined;
      if (!inode || !chunks) continue;
      // The record was decoded for this conversion alone: its chunks become the inode's.
      for (const c of chunks) {
        c.blobIndex = slotOf[c.blobIndex]!;
        if (c.blobIndex === own) store.preload(c, () => own);
      }
      inode.chunks = chunks;
      files++;
    }
    return true;
  };
  /** Ends the layer being converted: its blob is finished and, when recorded, cached. */
  const endLayer = async (): Promise<void> => {
    await store.drain();
    if (!options.singleBlob) await closeBlob();
    if (!recording) return;
    const { key, entries, blob } = recording;
    recording = undefined;
    const blobs: string[] = [];
    const refs = new Map<number, number>();
    const ref = (slot: number): number => {
      let at = refs.get(slot);
      if (at === undefined) {
        at = blobs.push(slots.idOf(slot)!) - 1;
        refs.set(slot, at);
      }
      return at;
    };
    await cache!.put(key, { blob, blobs, entries: entries.map((e) => (e.chunks ? { header: e.header, chunks: e.chunks.map((c) => ({ ...c, blobIndex: ref(c.blobIndex) })) } : e)) });
  };

  try {
    const root = await flatten(source, {
      beforeLayer: async (index, layer, overlay) => {
        await endLayer();
        await events?.emit({ type: "progress", source: "convert", phase: "layers", done: index, total: layers.length });
        if (cache) {
          const key = cache.key({ diffId: layer.diffId, chunkSize: options.chunkSize, compressor: options.compressor, digester: options.digester, dictionaries: dictionaries.map((d) => d.id), lowerBlobs: slots.layerBlobIds() });
          if (await replay(key, index, overlay)) {
            cachedLayers++;
            return true;
          }
          recording = { key, entries: [] };
        }
        layerBytesRead += layer.size;
        return false;
      },
      onEntry: (entry) => {
        const { path, type, mode, uid, gid, mtime, mtimeNsec, size, linkname, devmajor, devminor, xattrs } = entry;
        recording?.entries.push({ header: { path, type, mode, uid, gid, mtime, mtimeNsec, size, linkname, devmajor, devminor, xattrs } });
      },
      onFile: async (inode: Inode, entry) => {
        current ??= await openBlob();
        const target = current.writer;
        // Filled as the chunks are written (in order); complete once the store is drained.
        const chunks: ChunkInfo[] = [];
        await chunker.file(entry.body(), (chunk, fileOffset) =>
          store.add(chunk, fileOffset, target, (info, reused) => {
            chunks.push(info);
            if (reused) deduped?.add(info);
          }),
        );
        (inode as RafsInode).chunks = chunks;
        if (recording) recording.entries[recording.entries.length - 1]!.chunks = chunks;
        files++;
      },
    });
    await endLayer();
    await closeBlob();

    const table = slots.finish(root as RafsInode);
    // The dictionary blobs used become layers of this image: it must hold every blob it names.
    const dictionaryBlobs: Descriptor[] = [];
    for (const blob of table.dictBlobs) {
      const descriptor = await placeDictBlob(blob);
      if (!descriptor) throw new StrataError("DIGEST_MISMATCH", `chunk dictionary ${blob.dictionary}: blob ${blob.info.blobId} does not match its id`, { dictionary: blob.dictionary, blobId: blob.info.blobId });
      dictionaryBlobs.push(descriptor);
    }
    if (events) {
      await events.emit({ type: "progress", source: "convert", phase: "layers", done: layers.length, total: layers.length });
      await emitTree(events, "convert", root as RafsInode, { blobs: table.blobs, digester: options.digester, deduplicated: (chunk) => deduped!.has(chunk) });
    }

    const bootstrap = writeBootstrap({
      root: root as RafsInode,
      blobs: table.blobs,
      chunkSize: options.chunkSize,
      compressor: options.compressor,
      digester: options.digester,
      prefetch: prefetchPaths(root, options.prefetchPatterns),
    });
    const bootstrapTar = writeTar([
      { path: "image/", type: "dir", mode: 0o755 },
      { path: BOOTSTRAP_PATH_IN_LAYER, type: "file", mode: 0o644, data: bootstrap },
    ]);
    const bootstrapDesc = await dest.writeBlob(gzip(bootstrapTar), MEDIA_TYPES.ociLayerGzip, {
      [Annotation.NYDUS_FS_VERSION]: "6",
      [Annotation.NYDUS_BOOTSTRAP]: "true",
    });

    const blobDescs = [...table.layerBlobs, ...dictionaryBlobs];
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
    const outputBytes = table.layerBlobs.reduce((n, d) => n + d.size, 0) + bootstrapDesc.size;
    return {
      manifest: manifestDesc,
      index: indexDesc,
      bootstrap: bootstrapDesc,
      blobs: blobDescs,
      dictionaryBlobs,
      stats: { ...store.stats, files, inputBytes, outputBytes, layerBytesRead, cachedLayers },
    };
  } catch (e) {
    // Chunks still in flight are written (or fail) before their blob is removed.
    await store.drain().catch(() => {});
    // Blobs already renamed are complete and unreferenced; partial ones are removed.
    await current?.cacheCopy?.abort().catch(() => {});
    await Promise.all(uploads.map((u) => u.abort().catch(() => {})));
    throw e;
  }
}

function blobDescriptor(digest: string, size: number): Descriptor {
  return { mediaType: MediaType.NYDUS_BLOB, digest, size, annotations: { [Annotation.NYDUS_BLOB]: "true" } };
}

function streamOf(source: AsyncIterable<Uint8Array>): ReadableStream<Uint8Array> {
  const it = source[Symbol.asyncIterator]();
  return new ReadableStream({
    async pull(controller) {
      const r = await it.next();
      if (r.done) controller.close();
      else controller.enqueue(r.value);
    },
    async cancel() {
      await it.return?.();
    },
  });
}

async function* pieces(range: BlobRange): AsyncGenerator<Uint8Array> {
  for (let at = 0; at < range.size; at += READ_PIECE) yield await range.read(at, Math.min(READ_PIECE, range.size - at));
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

