/**
 * `strata verify`: every check nydusify's `check` makes on a Nydus image's manifest and
 * bootstrap, plus the content: each blob's id (= its sha256), ToC and section digests, and every
 * chunk decompressed and hashed. The report lists every failure rather than stopping at the first.
 *
 * A blob whose sha256 differs from its id (the upstream fixture be7d77… is one) is a failure, not
 * a warning (a registry or nydusd fetching it by id would refuse it), of the "blob-id" check
 * only: its ToC, sections and chunks are still verified and reported on their own.
 */
import { type ErrorCode, isStrataError, StrataError } from "../errors.js";
import { chainedEmitter, emitTree, type EventSink } from "../events.js";
import { walk } from "../fs/inode.js";
import type { BlobRange } from "../oci/blob.js";
import type { Hasher } from "../kernels/kernel.js";
import type { StreamingSha256 } from "../oci/decompress.js";
import { hex } from "../oci/verify.js";
import { openBlob, type NydusBlob } from "../rafs/blob-reader.js";
import { checkV5Digests } from "../rafs/bootstrap.js";
import { Annotation, BlobSection, MediaType, TAR_HEADER_SIZE } from "../rafs/layout.js";
import { readChunk, type RafsKernels } from "../rafs/read.js";
import type { BlobInfo, ChunkInfo, RafsInode } from "../rafs/types.js";
import { type NydusImage, sha256Of } from "./image.js";

/** Which part of the image a failure is in. */
export type VerifyPart = "manifest" | "config" | "bootstrap" | "blob" | "chunk";

/** The checks, by name. */
export type VerifyCheck =
  | "config" // the config blob is readable, matches its digest and lists diff_ids
  | "diff-ids" // config diff_ids: one per layer
  | "diff-id" // a layer's diff_id
  | "layer-digest" // a layer's stored bytes against its descriptor
  | "bootstrap-layer" // the last layer is the bootstrap, with its annotations
  | "blob-layer" // the other layers are Nydus blobs
  | "blob-table" // bootstrap blob table ↔ blob layers
  | "bootstrap" // bootstrap readable and structurally sound
  | "inode-digest" // RAFS v5 inode digests
  | "blob-missing"
  | "blob-id" // sha256 of the blob = its id
  | "blob-size" // stored size = the bootstrap's compressed size
  | "blob-structure" // ToC, compression table, blob.digest readable and consistent
  | "toc-digest" // the ToC against the digest in the bootstrap
  | "section-digest" // a ToC section against its ToC digest
  | "chunk-count" // compression table entries = the bootstrap's chunk count
  | "chunk"; // a chunk decompresses and matches its digest

export interface VerifyFailure {
  part: VerifyPart;
  check: VerifyCheck;
  message: string;
  /** The StrataError code behind the failure, when there was one. */
  code?: ErrorCode;
  layer?: number;
  blobId?: string;
  /** Blob section: image.blob, blob.meta, blob.meta.header, blob.digest, rafs.blob.toc. */
  section?: string;
  /** File path inside the image and chunk index in that file. */
  path?: string;
  chunk?: number;
  /** Byte offset in the blob (chunks, sections) or the bootstrap. */
  offset?: number;
}

export interface VerifyReport {
  ok: boolean;
  failures: VerifyFailure[];
  /** What was looked at. */
  counts: { layers: number; blobs: number; files: number; chunks: number; chunksOk: number };
}

export interface VerifyProgress {
  phase: "manifest" | "bootstrap" | "blobs" | "chunks";
  done: number;
  total: number;
}

export interface VerifyOptions {
  onProgress?: (progress: VerifyProgress) => void;
  /**
   * Makes streaming SHA-256 hashers for whole blobs (OciKernels.sha256: strata's kernel or the
   * runtime's native one); called twice per verify. With it each blob is read once for its id
   * and image.blob digests; without it kernels.hasher("sha256") does two passes.
   */
  sha256?: () => Promise<StreamingSha256>;
  /** Stop listing after this many failures (default 1000): a wrecked image could report millions. */
  maxFailures?: number;
  /** Receives progress, blob, file and chunk events, and each failure as it is listed (src/events.ts). */
  events?: EventSink;
}

export async function verifyNydusImage(image: NydusImage, kernels: RafsKernels, options: VerifyOptions = {}): Promise<VerifyReport> {
  const failures: VerifyFailure[] = [];
  const max = options.maxFailures ?? 1000;
  const fail = (f: VerifyFailure): void => {
    if (failures.length >= max) return;
    failures.push(f);
    send?.emit({ type: "verify-failure", source: "verify", ...f });
  };
  const events = options.events;
  const send = events && chainedEmitter(events);
  const onProgress = options.onProgress ?? (() => {});
  const progress = (p: VerifyProgress): void => {
    onProgress(p);
    send?.emit({ type: "progress", source: "verify", ...p });
  };
  const counts = { layers: image.oci?.manifest.layers.length ?? 0, blobs: 0, files: 0, chunks: 0, chunksOk: 0 };

  for (const p of image.problems) {
    const check = p.part === "config" ? "config" : p.part === "bootstrap" ? "bootstrap" : "blob-missing";
    fail({ part: p.part, check, message: p.message, code: p.code, layer: p.layer, blobId: p.blobId });
  }
  progress({ phase: "manifest", done: 0, total: 1 });
  if (image.oci) checkManifest(image, fail);
  progress({ phase: "manifest", done: 1, total: 1 });

  progress({ phase: "bootstrap", done: 0, total: 1 });
  const rafs = image.rafs;
  for (const p of image.bootstrapProblems) fail({ part: "bootstrap", check: "bootstrap", message: p.message, path: p.path, offset: p.offset });
  if (!rafs && image.bootstrap.length > 0 && image.bootstrapProblems.length === 0) {
    fail({ part: "bootstrap", check: "bootstrap", message: `${image.name}: the bootstrap cannot be decoded` });
  }
  if (rafs?.version === 5) {
    for (const m of checkV5Digests(rafs, kernels.hasher(rafs.digester))) {
      fail({ part: "bootstrap", check: "inode-digest", message: `${m.path}: inode digest does not match its content`, path: m.path });
    }
  }
  progress({ phase: "bootstrap", done: 1, total: 1 });
  if (!rafs) {
    await send?.settle();
    return { ok: false, failures, counts };
  }

  // Blobs: id, ToC, sections, then open each for chunk reads.
  const opened = new Map<string, NydusBlob>();
  const streams = options.sha256 && ((await Promise.all([options.sha256(), options.sha256()])) as [StreamingSha256, StreamingSha256]);
  const check: BlobCheck = { kernels, fail, sha256: kernels.hasher("sha256"), streams };
  for (const [i, info] of rafs.blobs.entries()) {
    progress({ phase: "blobs", done: i, total: rafs.blobs.length });
    const range = image.blobs.get(info.blobId);
    if (!range) {
      // An OCI image without the layer is reported by the blob-table check.
      if (!image.oci) fail({ part: "blob", check: "blob-missing", message: `blob ${info.blobId} (blob ${i} of the bootstrap) is missing`, blobId: info.blobId });
      continue;
    }
    counts.blobs++;
    const blob = await checkBlob(info, range, check, image.blobLayers.get(info.blobId));
    opened.set(info.blobId, blob);
    send?.emit({ type: "blob", source: "verify", blobId: info.blobId, size: range.size, chunks: info.chunkCount, uncompressedSize: info.uncompressedSize });
  }
  progress({ phase: "blobs", done: rafs.blobs.length, total: rafs.blobs.length });

  // Every chunk of every file. A chunk shared by several files is read once; chunks are read in
  // blob order, so reads stream through each blob.
  if (events) {
    await send!.settle();
    await emitTree(events, "verify", rafs.root, { blobs: rafs.blobs, digester: rafs.digester });
  }
  const files = [...walk(rafs.root)].filter(([, node]) => (node as RafsInode).chunks);
  counts.files = files.length;
  const distinct = new Map<string, { path: string; chunk: number; info: ChunkInfo }[]>();
  for (const [path, node] of files) {
    for (const [i, info] of (node as RafsInode).chunks!.entries()) {
      const key = `${info.blobIndex}/${info.index}/${info.compressedOffset}/${info.compressedSize}/${hex(info.digest)}`;
      const refs = distinct.get(key);
      if (refs) refs.push({ path, chunk: i, info });
      else distinct.set(key, [{ path, chunk: i, info }]);
    }
  }
  const order = [...distinct.values()].sort((a, b) => a[0]!.info.blobIndex - b[0]!.info.blobIndex || a[0]!.info.compressedOffset - b[0]!.info.compressedOffset);
  const total = files.reduce((n, [, node]) => n + (node as RafsInode).chunks!.length, 0);
  const blobs = (info: BlobInfo): NydusBlob => {
    const blob = opened.get(info.blobId);
    if (!blob) throw new StrataError("NOT_FOUND", `blob ${info.blobId} is missing`, { blobId: info.blobId });
    return blob;
  };
  for (const refs of order) {
    progress({ phase: "chunks", done: counts.chunks, total });
    await send?.settle();
    const { path, chunk: index, info } = refs[0]!;
    let failure: VerifyFailure | undefined;
    try {
      await readChunk(rafs, info, blobs, kernels, { path, chunk: index });
    } catch (e) {
      if (!isStrataError(e)) throw e;
      // A chunk that disagrees with the blob's tables names that table; else its data is bad.
      const section = (e.code === "BAD_BLOB" ? sectionOf(e) : undefined) ?? BlobSection.DATA;
      failure = { part: "chunk", check: "chunk", message: e.message, code: e.code, blobId: rafs.blobs[info.blobIndex]?.blobId, offset: info.compressedOffset, section };
    }
    for (const ref of refs) {
      counts.chunks++;
      if (failure) fail({ ...failure, path: ref.path, chunk: ref.chunk });
      else counts.chunksOk++;
    }
  }
  progress({ phase: "chunks", done: total, total });
  await send?.settle();
  return { ok: failures.length === 0, failures, counts };
}

type Fail = (f: VerifyFailure) => void;

/** nydusify's manifest rules, and the layer digests measured while opening. */
function checkManifest(image: NydusImage, fail: Fail): void {
  const { manifest, diffIds, bootstrapLayer, layerSizes } = image.oci!;
  const layers = manifest.layers;
  if (diffIds && diffIds.length !== layers.length) {
    fail({ part: "config", check: "diff-ids", message: `the config lists ${diffIds.length} diff_ids for ${layers.length} layers` });
  }
  for (const [i, layer] of layers.entries()) {
    const size = layerSizes.get(i);
    if (size !== undefined && size !== layer.size) {
      fail({ part: i === bootstrapLayer.index ? "bootstrap" : "blob", check: "layer-digest", message: `layer ${i} (${layer.digest}) is ${size} bytes, the manifest says ${layer.size}`, layer: i });
    }
  }

  const { index, descriptor } = bootstrapLayer;
  const annotations = descriptor.annotations ?? {};
  if (annotations[Annotation.NYDUS_BOOTSTRAP] !== "true") {
    fail({ part: "manifest", check: "bootstrap-layer", message: `the last layer (${index}) lacks the annotation ${Annotation.NYDUS_BOOTSTRAP}=true`, layer: index });
  }
  const version = image.rafs?.version;
  const fsVersion = annotations[Annotation.NYDUS_FS_VERSION];
  if (fsVersion === undefined || (version !== undefined && fsVersion !== String(version))) {
    fail({ part: "manifest", check: "bootstrap-layer", message: `the last layer's ${Annotation.NYDUS_FS_VERSION} is ${JSON.stringify(fsVersion)}, the bootstrap is RAFS v${version ?? "?"}`, layer: index });
  }
  if (bootstrapLayer.storedDigest !== undefined && bootstrapLayer.storedDigest !== descriptor.digest) {
    fail({ part: "bootstrap", check: "layer-digest", message: `bootstrap layer ${index} has digest ${bootstrapLayer.storedDigest}, the manifest says ${descriptor.digest}`, layer: index });
  }
  const bootDiffId = diffIds?.[index];
  if (bootstrapLayer.tarDigest !== undefined && bootDiffId !== undefined && bootDiffId !== bootstrapLayer.tarDigest) {
    fail({ part: "bootstrap", check: "diff-id", message: `bootstrap layer ${index}: its tar has digest ${bootstrapLayer.tarDigest}, diff_id ${bootDiffId}`, layer: index });
  }

  const tableIds = new Set(image.rafs?.blobs.map((b) => b.blobId));
  for (const [i, layer] of layers.entries()) {
    if (i === index) continue;
    if (layer.mediaType !== MediaType.NYDUS_BLOB || layer.annotations?.[Annotation.NYDUS_BLOB] !== "true") {
      fail({ part: "manifest", check: "blob-layer", message: `layer ${i} (${layer.digest}) is not a Nydus blob: media type ${layer.mediaType}, ${Annotation.NYDUS_BLOB}=${layer.annotations?.[Annotation.NYDUS_BLOB] ?? "(absent)"}`, layer: i });
    }
    if (diffIds?.[i] !== undefined && diffIds[i] !== layer.digest) {
      fail({ part: "config", check: "diff-id", message: `blob layer ${i}: diff_id ${diffIds[i]} differs from its digest ${layer.digest}`, layer: i });
    }
    const blobId = layer.digest.replace(/^sha256:/, "");
    if (image.rafs && !tableIds.has(blobId)) {
      fail({ part: "manifest", check: "blob-table", message: `layer ${i} (${layer.digest}) is not in the bootstrap's blob table`, layer: i, blobId });
    }
  }
  for (const info of image.rafs?.blobs ?? []) {
    if (!image.blobLayers.has(info.blobId)) {
      fail({ part: "manifest", check: "blob-table", message: `blob ${info.blobId} of the bootstrap's blob table is not a layer of the image`, blobId: info.blobId });
    }
  }
}

/** What checkBlob uses besides the blob. */
interface BlobCheck {
  kernels: RafsKernels;
  fail: Fail;
  /** One-shot SHA-256 of metadata (ToC, sections). */
  sha256: Hasher;
  /** Two streaming SHA-256 instances for whole blobs, when the caller gave a factory. */
  streams?: [StreamingSha256, StreamingSha256];
}

/** A blob's id, ToC digest and section digests; returns the blob opened for chunk reads. */
async function checkBlob(info: BlobInfo, range: BlobRange, check: BlobCheck, layer: number | undefined): Promise<NydusBlob> {
  const { kernels, fail, sha256 } = check;
  const blobId = info.blobId;
  const where = { part: "blob" as const, blobId, ...(layer === undefined ? {} : { layer }) };
  // 0 means unrecorded (RAFS v5 without the extended blob table).
  if (info.compressedSize !== 0 && info.compressedSize !== range.size) {
    fail({ ...where, check: "blob-size", message: `blob ${blobId} is ${range.size} bytes, the bootstrap says ${info.compressedSize}` });
  }

  // The ToC is checked on its own first: a damaged one may keep the blob from opening at all.
  const meta = info.meta;
  if (meta.tocSize > 0 && meta.tocDigest && meta.tocDigest.some((b) => b !== 0) && meta.tocSize <= range.size) {
    const toc = await range.read(range.size - meta.tocSize, meta.tocSize);
    if (!equal(sha256.digest(toc), meta.tocDigest)) {
      fail({ ...where, check: "toc-digest", section: BlobSection.TOC, offset: range.size - meta.tocSize, message: `blob ${blobId}: the ToC does not match the digest in the bootstrap` });
    }
  }

  let blob: NydusBlob | undefined;
  try {
    blob = await openBlob(windowed(range), { info, codec: kernels.codec });
  } catch (e) {
    if (!isStrataError(e)) throw e;
    fail({ ...where, check: "blob-structure", message: e.message, code: e.code, section: sectionOf(e), offset: e.details.offset as number | undefined });
  }
  // image.blob's digest covers the chunk data and the tar header after it: a prefix of the blob,
  // hashed in the same pass as the whole blob.
  const dataEntry = blob?.toc?.find((e) => e.name === BlobSection.DATA);
  const [whole, data] = await hashBlob(range, dataEntry && dataEntry.compressedSize + TAR_HEADER_SIZE, check);
  if (whole !== blobId) fail({ ...where, check: "blob-id", message: `blob ${blobId} has sha256 ${whole}` });
  // Without its own tables, chunks can still be read where the bootstrap says they are.
  if (!blob) return rawBlob(info, range);

  if (!blob.toc && meta.tocSize > 0) {
    fail({ ...where, check: "blob-structure", section: BlobSection.TOC, message: `blob ${blobId}: the bootstrap records a ToC of ${meta.tocSize} bytes, the blob has none` });
  }
  for (const entry of blob.toc ?? []) {
    try {
      const digest = entry === dataEntry ? data : await blob.section(entry.name).then((bytes) => bytes && hex(sha256.digest(bytes)));
      if (digest !== undefined && digest !== hex(entry.digest)) {
        fail({ ...where, check: "section-digest", section: entry.name, offset: entry === dataEntry ? 0 : entry.compressedOffset, message: `blob ${blobId}: section ${entry.name} does not match its ToC digest` });
      }
    } catch (e) {
      if (!isStrataError(e)) throw e;
      fail({ ...where, check: "section-digest", section: entry.name, message: e.message, code: e.code });
    }
  }
  if (blob.table && blob.table.length !== info.chunkCount) {
    fail({ ...where, check: "chunk-count", section: BlobSection.META, message: `blob ${blobId}: compression table has ${blob.table.length} chunks, the bootstrap says ${info.chunkCount}` });
  }
  return blob;
}

const HASH_PIECE = 4 << 20;

/** Hex sha256 of the whole blob and of its first `prefix` bytes: one pass with two streams, else two passes. */
async function hashBlob(range: BlobRange, prefix: number | undefined, check: BlobCheck): Promise<[string, string | undefined]> {
  if (!check.streams) {
    return [await sha256Of(range, check.sha256), prefix === undefined ? undefined : await sha256Of(range, check.sha256, prefix)];
  }
  const [whole, head] = check.streams;
  whole.init();
  head.init();
  const stop = Math.min(prefix ?? 0, range.size);
  for (let at = 0; at < range.size; at += HASH_PIECE) {
    const piece = await range.read(at, Math.min(HASH_PIECE, range.size - at));
    whole.update(piece);
    if (at < stop) head.update(piece.subarray(0, stop - at));
  }
  return [hex(whole.final()), prefix === undefined ? undefined : hex(head.final())];
}

const WINDOW = 8 << 20;

/** Reads through an 8 MiB window: chunks read in offset order cost one read per window, not one each. */
function windowed(range: BlobRange): BlobRange {
  let start = 0;
  let bytes: Uint8Array = new Uint8Array(0);
  return {
    size: range.size,
    stream: () => range.stream(),
    async read(offset, length) {
      if (length > WINDOW) return range.read(offset, length);
      if (offset < start || offset + length > start + bytes.length) {
        start = offset;
        bytes = await range.read(offset, Math.min(WINDOW, range.size - offset));
      }
      return bytes.subarray(offset - start, offset - start + length);
    },
  };
}

/** Reads chunks at the offsets the bootstrap gives, for blobs whose own metadata is damaged. */
function rawBlob(info: BlobInfo, range: BlobRange): NydusBlob {
  return {
    id: info.blobId,
    size: range.size,
    section: async () => undefined,
    async readChunk(chunk) {
      if (chunk.compressedOffset + chunk.compressedSize > range.size) {
        throw new StrataError("BAD_BLOB", `blob ${info.blobId}: chunk ${chunk.index} at ${chunk.compressedOffset} runs past the blob's ${range.size} bytes`, { blobId: info.blobId, offset: chunk.compressedOffset });
      }
      return range.read(chunk.compressedOffset, chunk.compressedSize);
    },
  };
}

/** The blob section a blob-reader error is about, from its message. */
function sectionOf(e: StrataError): string | undefined {
  if (typeof e.details.section === "string") return e.details.section;
  const m = e.message;
  if (/\bToC\b/.test(m)) return BlobSection.TOC;
  if (/blob\.digest/.test(m)) return BlobSection.DIGEST;
  if (/compression[- ]table|blob\.meta/.test(m)) return BlobSection.META;
  return undefined;
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
