/**
 * A Nydus image as strata reads it: the bootstrap (decoded leniently, so a damaged one can still
 * be verified and reported on) and random access to its blobs by blob id. It comes from an OCI
 * image (blob layers, then a tar+gzip layer holding image/image.boot) or from a bare bootstrap
 * file with a directory of blobs named by blob id (how nydus-image leaves its output).
 *
 * Opening never throws for damaged content past the manifest: what could not be read is kept in
 * `problems`, for verifyNydusImage to report with everything else.
 */
import { type ErrorCode, isStrataError, StrataError } from "../errors.js";
import type { Hasher } from "../kernels/kernel.js";
import { concat } from "../kernels/stream.js";
import { type BlobRange, chunks, fileRange, memoryRange } from "../oci/blob.js";
import { decompressor, type OciKernels, sniffCompression } from "../oci/decompress.js";
import { type BlobStore, MAX_JSON_BLOB, parseJson, REF_NAME } from "../oci/image.js";
import { directoryStore, openOciLayout, readLayoutIndex, type LayoutOptions } from "../oci/layout.js";
import { MEDIA_TYPES, type Descriptor, type Image, type ImageManifest } from "../oci/types.js";
import { hex, verifyBytes } from "../oci/verify.js";
import { openImage } from "../oci/open.js";
import { parseReference, parseRegistryReference } from "../oci/reference.js";
import type { RegistryOptions } from "../registry/client.js";
import { openRegistry } from "../registry/store.js";
import type { FilesPort, Ports } from "../ports.js";
import { openBlob, type NydusBlob } from "../rafs/blob-reader.js";
import { type BootstrapProblem, verifyBootstrap } from "../rafs/bootstrap.js";
import { BOOTSTRAP_PATH_IN_LAYER } from "../rafs/layout.js";
import type { RafsKernels } from "../rafs/read.js";
import type { BlobInfo, RafsImage } from "../rafs/types.js";
import { readTar } from "../tar/reader.js";

/** Bootstrap layers (and bootstraps) larger than this are refused: they are metadata only. */
export const MAX_BOOTSTRAP_SIZE = 1 << 30;

/** Something that went wrong while opening, kept for the verify report. */
export interface OpenProblem {
  /** "bootstrap" for the bootstrap layer or file, "blob" for a blob layer or file, "config" for the image config. */
  part: "bootstrap" | "blob" | "config";
  message: string;
  code?: ErrorCode;
  layer?: number;
  blobId?: string;
}

/** The OCI side of a Nydus image opened from one. */
export interface NydusOci {
  image: Image;
  manifest: ImageManifest;
  /** The config's rootfs.diff_ids, or undefined when the config could not be read. */
  diffIds?: string[];
  /** The last layer, where the bootstrap must be. */
  bootstrapLayer: {
    index: number;
    descriptor: Descriptor;
    /** sha256 of the stored layer bytes and of its tar (the diff_id), when they could be read. */
    storedDigest?: string;
    tarDigest?: string;
  };
  /** The stored size of each layer whose blob was found, by manifest index. */
  layerSizes: Map<number, number>;
}

export interface NydusImage {
  /** Names the image in messages: "oci:/path", or the bootstrap path. */
  readonly name: string;
  /** The bootstrap bytes (empty when they could not be read). */
  readonly bootstrap: Uint8Array;
  /** The bootstrap decoded as far as it is sound; undefined when its superblocks are not. */
  readonly rafs?: RafsImage;
  readonly bootstrapProblems: readonly BootstrapProblem[];
  /** The stored blobs found, by blob id (64 hex). */
  readonly blobs: ReadonlyMap<string, BlobRange>;
  /** For OCI images: the manifest index of each blob layer, by blob id. */
  readonly blobLayers: ReadonlyMap<string, number>;
  readonly oci?: NydusOci;
  readonly problems: readonly OpenProblem[];
}

/** A Nydus image from its parts: the bootstrap bytes and the stored blobs by id. */
export function nydusImage(name: string, bootstrap: Uint8Array, blobs: ReadonlyMap<string, BlobRange>, extra: Partial<Pick<NydusImage, "oci" | "blobLayers" | "problems">> = {}): NydusImage {
  const { image, problems } = verifyBootstrap(bootstrap);
  return { name, bootstrap, rafs: image, bootstrapProblems: problems, blobs, blobLayers: extra.blobLayers ?? new Map(), oci: extra.oci, problems: extra.problems ?? [] };
}

/**
 * A bare bootstrap file and the directory holding its blobs, each named by its blob id. Blobs
 * that are not there are simply absent from `blobs` (verify reports them).
 */
export async function openNydusBootstrap(files: FilesPort, bootstrapPath: string, blobsDir: string): Promise<NydusImage> {
  const st = await files.stat(bootstrapPath);
  if (st?.kind !== "file") throw new StrataError("NOT_FOUND", `no bootstrap file at ${bootstrapPath}`, { path: bootstrapPath });
  if (st.size > MAX_BOOTSTRAP_SIZE) throw new StrataError("BAD_BOOTSTRAP", `${bootstrapPath} is ${st.size} bytes, more than a bootstrap may be (${MAX_BOOTSTRAP_SIZE})`, { path: bootstrapPath });
  const bootstrap = await files.readFile(bootstrapPath);
  const { image } = verifyBootstrap(bootstrap);
  const blobs = new Map<string, BlobRange>();
  for (const info of image?.blobs ?? []) {
    const path = `${blobsDir}/${info.blobId}`;
    const blob = await files.stat(path);
    if (blob?.kind === "file") blobs.set(info.blobId, fileRange(files, path, 0, blob.size));
  }
  return nydusImage(bootstrapPath, bootstrap, blobs);
}

export interface OpenNydusOptions {
  kernels: OciKernels;
  /**
   * Random access to the image's stored blobs (an OCI layout's or archive's BlobStore). Without
   * it, blob layers are read whole into memory through the Image's layer streams.
   */
  store?: BlobStore;
  /** Names the image in messages. */
  name?: string;
  /**
   * Layers are taken at the manifest's sizes without asking the store (no request per blob on a
   * registry): a missing blob shows only when read. For lazy reads; verify wants them checked.
   */
  lazyBlobs?: boolean;
}

/**
 * A Nydus image from an OCI image: the last layer must hold image/image.boot, the others are
 * blobs whose digest is their blob id. Throws only when the manifest cannot be read.
 */
export async function openNydusImage(image: Image, options: OpenNydusOptions): Promise<NydusImage> {
  const manifest = await image.manifest();
  const name = options.name ?? `image ${await image.digest()}`;
  const problems: OpenProblem[] = [];
  const note = (part: OpenProblem["part"], e: unknown, where: { layer?: number; blobId?: string } = {}): void => {
    if (!isStrataError(e)) throw e;
    problems.push({ part, message: e.message, code: e.code, ...where });
  };
  if (manifest.layers.length === 0) throw new StrataError("BAD_MANIFEST", `${name}: the manifest has no layers, so no bootstrap`);

  let diffIds: string[] | undefined;
  try {
    diffIds = diffIdsOf(await image.rawConfig(), name);
  } catch (e) {
    note("config", e);
  }

  const rangeOf = await layerRanges(image, manifest, options, diffIds);
  const layerSizes = new Map<number, number>();
  const index = manifest.layers.length - 1;
  const descriptor = manifest.layers[index]!;
  const bootstrapLayer: NydusOci["bootstrapLayer"] = { index, descriptor };
  let bootstrap: Uint8Array = new Uint8Array(0);
  try {
    const range = await rangeOf(index);
    layerSizes.set(index, range.size);
    const extracted = await extractBootstrap(range, options.kernels, `layer ${index} (${descriptor.digest})`);
    Object.assign(bootstrapLayer, { storedDigest: extracted.storedDigest, tarDigest: extracted.tarDigest });
    bootstrap = extracted.bootstrap;
  } catch (e) {
    note("bootstrap", e, { layer: index });
  }

  const blobs = new Map<string, BlobRange>();
  const blobLayers = new Map<string, number>();
  for (const [i, layer] of manifest.layers.entries()) {
    if (i === index) continue;
    const blobId = layer.digest.replace(/^sha256:/, "");
    blobLayers.set(blobId, i);
    try {
      const range = await rangeOf(i);
      layerSizes.set(i, range.size);
      blobs.set(blobId, range);
    } catch (e) {
      note("blob", e, { layer: i, blobId });
    }
  }
  return nydusImage(name, bootstrap, blobs, { oci: { image, manifest, diffIds, bootstrapLayer, layerSizes }, blobLayers, problems });
}

/**
 * A Nydus image in an OCI layout directory, with random access to its blob files. When the tag
 * names an index holding both the OCI and the Nydus manifest (nydusify --merge-platform), the
 * Nydus one is opened.
 */
export async function openNydusLayout(files: FilesPort, dir: string, options: LayoutOptions): Promise<NydusImage> {
  const store = directoryStore(files, dir);
  const nydusDigest = options.digest ? undefined : await mergedNydusManifest(files, dir, store, options);
  const image = await openOciLayout(files, dir, nydusDigest ? { ...options, digest: nydusDigest } : options);
  return openNydusImage(image, { kernels: options.kernels, store, name: `oci:${dir}` });
}

const OS_FEATURE_NYDUS = "nydus.remoteimage.v1";

/** The Nydus manifest's digest in the merged index the selection names, if it names one. */
async function mergedNydusManifest(files: FilesPort, dir: string, store: BlobStore, options: LayoutOptions): Promise<string | undefined> {
  const top = await readLayoutIndex(files, dir);
  const named = options.tag === undefined ? (top.manifests.length === 1 ? top.manifests : []) : top.manifests.filter((d) => d.annotations?.[REF_NAME] === options.tag);
  const [os, arch] = (options.platform ?? "").split("/");
  for (const d of named) {
    if (d.mediaType !== MEDIA_TYPES.ociIndex) continue;
    const range = await store.blob(d.digest);
    if (range.size > MAX_JSON_BLOB) continue;
    const bytes = await verifyBytes(options.kernels, await range.read(0, range.size), { digest: d.digest, size: d.size, what: `index ${d.digest}` });
    const index = parseJson(bytes, `index ${d.digest} in oci:${dir}`) as { manifests?: { digest?: unknown; platform?: Record<string, unknown> }[] };
    const nydus = (Array.isArray(index.manifests) ? index.manifests : []).find((m) => {
      const features = m.platform?.["os.features"];
      if (!Array.isArray(features) || !features.includes(OS_FEATURE_NYDUS) || typeof m.digest !== "string") return false;
      return !os || (m.platform?.os === os && m.platform?.architecture === arch);
    });
    if (nydus) return nydus.digest as string;
  }
  return undefined;
}

export interface OpenNydusSourceOptions {
  kernels: OciKernels;
  /** For a bare bootstrap: the directory of its blobs (default: the bootstrap's directory). */
  blobsDir?: string;
  /** os/arch[/variant] for multi-platform indexes. */
  platform?: string;
  /** For docker:// references: TLS, credentials, mirrors, retries. */
  registry?: RegistryOptions;
  /** See OpenNydusOptions.lazyBlobs. */
  lazyBlobs?: boolean;
}

/**
 * A Nydus image by name, for the CLI: `oci:DIR[:TAG|@DIGEST]` with random access to blob
 * files, `docker://HOST/REPO[:TAG|@DIGEST]` with HTTP Range access to blobs, `oci-archive:` and `docker-archive:` through their layer streams (blobs held in memory),
 * or else a path to a bare bootstrap file whose blobs are in `blobsDir`.
 */
export async function openNydus(ports: Ports, source: string, options: OpenNydusSourceOptions): Promise<NydusImage> {
  if (source.startsWith("docker://")) {
    const { image, store } = await openRegistry(ports, parseRegistryReference(source), { ...options, preferNydus: true });
    return openNydusImage(image, { kernels: options.kernels, store, name: source, lazyBlobs: options.lazyBlobs });
  }
  const files = ports.files;
  if (!files) throw new StrataError("INVALID_ARGUMENT", `opening ${source} needs a files port from the runtime`);
  if (!/^(oci|oci-archive|docker-archive):/.test(source)) {
    const slash = source.lastIndexOf("/");
    return openNydusBootstrap(files, source, options.blobsDir ?? (slash < 0 ? "." : source.slice(0, slash) || "/"));
  }
  const ref = parseReference(source);
  if (ref.transport === "oci") return openNydusLayout(files, ref.path, { kernels: options.kernels, tag: ref.tag, digest: ref.digest, platform: options.platform });
  const image = await openImage(ports, ref, { kernels: options.kernels, platform: options.platform });
  return openNydusImage(image, { kernels: options.kernels, name: source });
}

/** The diff_ids of a config, read leniently (a wrong count is for verify to report, not to stop on). */
function diffIdsOf(raw: Uint8Array, name: string): string[] {
  let config: unknown;
  try {
    config = JSON.parse(new TextDecoder().decode(raw));
  } catch (e) {
    throw new StrataError("BAD_MANIFEST", `${name}: config is not JSON: ${(e as Error).message}`);
  }
  const ids = (config as { rootfs?: { diff_ids?: unknown } } | null)?.rootfs?.diff_ids;
  if (!Array.isArray(ids) || !ids.every((id) => typeof id === "string")) throw new StrataError("BAD_MANIFEST", `${name}: config has no rootfs.diff_ids list`);
  return ids as string[];
}

/** How to reach each layer's stored bytes: through the store, else through the Image's layers. */
async function layerRanges(image: Image, manifest: ImageManifest, options: OpenNydusOptions, diffIds: string[] | undefined): Promise<(index: number) => Promise<BlobRange>> {
  const store = options.store;
  if (store) return (i) => store.blob(manifest.layers[i]!.digest, options.lazyBlobs ? manifest.layers[i]!.size : undefined);
  if (diffIds?.length !== manifest.layers.length) {
    // Image.layers() needs a config that agrees with the manifest.
    return async (i) => {
      throw new StrataError("BAD_MANIFEST", `layer ${i} cannot be read: the config's diff_ids do not match the manifest's layers`, { layer: i });
    };
  }
  const layers = await image.layers();
  return async (i) => memoryRange(await readLimited(layers[i]!.compressed(), Infinity, `layer ${i}`));
}

/** Reads the bootstrap layer: its stored and tar digests, and image/image.boot from the tar. */
async function extractBootstrap(range: BlobRange, kernels: OciKernels, what: string): Promise<{ bootstrap: Uint8Array; storedDigest: string; tarDigest: string }> {
  if (range.size > MAX_BOOTSTRAP_SIZE) throw new StrataError("BAD_BOOTSTRAP", `${what} is ${range.size} bytes, more than a bootstrap layer may be`);
  const stored = await range.read(0, range.size);
  const sha = await kernels.sha256();
  const storedDigest = `sha256:${hex(sha.init().update(stored).final())}`;
  const codec = await decompressor(kernels, sniffCompression(stored.subarray(0, 4)), MAX_BOOTSTRAP_SIZE);
  const tar = await readLimited(memoryRange(stored).stream().pipeThrough(codec), MAX_BOOTSTRAP_SIZE, what);
  const tarDigest = `sha256:${hex(sha.init().update(tar).final())}`;
  for await (const entry of readTar(tar)) {
    if (entry.type === "file" && entry.path.replace(/^\.?\/+/, "") === BOOTSTRAP_PATH_IN_LAYER) {
      return { bootstrap: (await entry.bytes()).slice(), storedDigest, tarDigest };
    }
  }
  throw new StrataError("NOT_FOUND", `${what} holds no ${BOOTSTRAP_PATH_IN_LAYER}`, { member: BOOTSTRAP_PATH_IN_LAYER });
}

async function readLimited(stream: ReadableStream<Uint8Array>, limit: number, what: string): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let total = 0;
  for await (const part of chunks(stream)) {
    total += part.length;
    if (total > limit) throw new StrataError("OUTPUT_LIMIT", `${what} is larger than ${limit} bytes`, { limit });
    parts.push(part.slice());
  }
  return concat(parts, total);
}

/** The decoded bootstrap, or BAD_BOOTSTRAP naming its first problem when it is unusable. */
export function requireRafs(image: NydusImage): RafsImage {
  if (!image.rafs) {
    const first = image.bootstrapProblems[0]?.message ?? image.problems.find((p) => p.part === "bootstrap")?.message ?? "unreadable";
    throw new StrataError("BAD_BOOTSTRAP", `${image.name}: the bootstrap cannot be read: ${first}`);
  }
  return image.rafs;
}

/**
 * The image's blobs as the RAFS reader wants them (readFile, readChunk): opened through their
 * ToC on first use, and kept. NOT_FOUND for a blob the image does not have.
 */
export function blobSet(image: NydusImage, kernels: RafsKernels): (info: BlobInfo) => Promise<NydusBlob> {
  const opened = new Map<string, Promise<NydusBlob>>();
  return (info: BlobInfo) => {
    let blob = opened.get(info.blobId);
    if (!blob) {
      const range = image.blobs.get(info.blobId);
      if (!range) throw new StrataError("NOT_FOUND", `${image.name}: blob ${info.blobId} is not in the image`, { blobId: info.blobId });
      blob = openBlob(range, { info, codec: kernels.codec });
      opened.set(info.blobId, blob);
    }
    return blob;
  };
}

const HASH_PIECE = 1 << 20;

/** Hex sha256 of bytes [0, end) of a stored blob (default: all of it), read piece by piece. */
export async function sha256Of(range: BlobRange, sha256: Hasher, end = range.size): Promise<string> {
  const stop = Math.min(end, range.size);
  sha256.init();
  for (let at = 0; at < stop; at += HASH_PIECE) sha256.update(await range.read(at, Math.min(HASH_PIECE, stop - at)));
  return hex(sha256.final());
}
