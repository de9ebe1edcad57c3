/**
 * Chunk dictionaries, as nydus-image's `--chunk-dict bootstrap=FILE` (builder/src/core/chunk_dict.rs):
 * the chunks of an existing Nydus image, by digest, so a conversion references them where they
 * already are instead of storing them again. The dictionary's blobs that end up referenced join
 * the new bootstrap's blob table and the new manifest's layers.
 *
 * Nydus keeps a dictionary only when it was built with the same chunk size and RAFS version, and
 * ignores its chunks when their digester differs; strata refuses any such mismatch before work
 * starts (a dictionary silently contributing nothing is a mistake worth hearing about). The
 * compressor must agree too: RAFS v6 records one compressor per image in its superblock.
 */
import { isStrataError, StrataError } from "../errors.js";
import { rafsKernels } from "../kernels/index.js";
import type { Hasher } from "../kernels/kernel.js";
import type { BlobRange } from "../oci/blob.js";
import { hex } from "../oci/verify.js";
import { openNydus, requireRafs, type NydusImage } from "../nydus/image.js";
import { ociKernels } from "../oci/kernels.js";
import { parseRegistryReference } from "../oci/reference.js";
import type { Ports } from "../ports.js";
import type { RegistryOptions } from "../registry/client.js";
import { openBlob } from "../rafs/blob-reader.js";
import { ChunkFlags } from "../rafs/layout.js";
import type { RafsKernels } from "../rafs/read.js";
import type { BlobInfo, ChunkInfo, RafsInode } from "../rafs/types.js";
import type { ResolvedOptions } from "./options.js";

/** One dictionary chunk: where it is stored. */
export interface DictChunk {
  info: ChunkInfo;
  blob: DictBlob;
}

/** A dictionary blob that can be referenced: its blob-table entry and its stored bytes. */
export interface DictBlob {
  info: BlobInfo;
  range: BlobRange;
  /** Position among all dictionaries' blobs (dictionary order, then blob-table order): the order they join a blob table in. */
  order: number;
  /** The dictionary it belongs to, for messages. */
  dictionary: string;
  /** For a dictionary in a registry: where a registry destination can mount the blob from. */
  origin?: { registry: string; repository: string };
}

export interface ChunkDictionary {
  /** Names the dictionary in messages and cache keys: its bootstrap's or image's name. */
  readonly name: string;
  /** Hex sha256 of its bootstrap: what cache keys name it by. */
  readonly id: string;
  readonly blobs: readonly DictBlob[];
  /** Chunks of the blobs present, each digest once: the tree's in tree order, then the rest of the blobs' tables. */
  readonly chunks: readonly DictChunk[];
  /** Blob ids of the bootstrap's blob table whose bytes were not found: their chunks are left out. */
  readonly missingBlobs: readonly string[];
}

/**
 * The dictionary held by `image`, checked against the conversion's options. `firstOrder` numbers
 * its blobs after those of the dictionaries loaded before it.
 */
export async function chunkDictionary(
  image: NydusImage,
  options: Pick<ResolvedOptions, "chunkSize" | "compressor" | "digester">,
  kernels: { sha256: Hasher; codec: RafsKernels["codec"] },
  firstOrder = 0,
): Promise<ChunkDictionary> {
  const rafs = requireRafs(image);
  const mismatch = (what: string, theirs: unknown, ours: unknown) =>
    new StrataError("INVALID_ARGUMENT", `chunk dictionary ${image.name}: its ${what} is ${theirs}, this conversion's is ${ours}`, { dictionary: image.name, [what]: theirs, expected: ours });
  if (rafs.version !== 6) throw new StrataError("UNSUPPORTED", `chunk dictionary ${image.name} is RAFS v${rafs.version}: only v6 dictionaries can serve a v6 image`, { dictionary: image.name });
  if (rafs.chunkSize !== options.chunkSize) throw mismatch("chunk size", rafs.chunkSize, options.chunkSize);
  if (rafs.digester !== options.digester) throw mismatch("digester", rafs.digester, options.digester);
  if (rafs.compressor !== options.compressor) throw mismatch("compressor", rafs.compressor, options.compressor);

  const blobs: (DictBlob | undefined)[] = [];
  const reference = image.name.startsWith("docker://") ? parseRegistryReference(image.name) : undefined;
  const origin = reference && { registry: reference.registry, repository: reference.repository };
  const missingBlobs: string[] = [];
  for (const info of rafs.blobs) {
    if (info.chunkSize !== options.chunkSize) throw mismatch(`blob ${info.blobId} chunk size`, info.chunkSize, options.chunkSize);
    if (info.digester !== options.digester) throw mismatch(`blob ${info.blobId} digester`, info.digester, options.digester);
    if (info.compressor !== options.compressor) throw mismatch(`blob ${info.blobId} compressor`, info.compressor, options.compressor);
    if (info.cipherAlgorithm) throw new StrataError("UNSUPPORTED", `chunk dictionary ${image.name}: blob ${info.blobId} is encrypted`, { dictionary: image.name, blobId: info.blobId });
    const range = image.blobs.get(info.blobId);
    if (!range) missingBlobs.push(info.blobId);
    blobs.push(range && { info, range, order: firstOrder + info.blobIndex, dictionary: image.name, ...(origin ? { origin } : {}) });
  }

  // The tree's chunks first (they carry every field the bootstrap had), then those only the
  // blobs' own tables list: chunks of files deleted in later layers are still stored there.
  const chunks: DictChunk[] = [];
  const seen = new Set<string>();
  const add = (info: ChunkInfo, blob: DictBlob) => {
    const key = digestKey(info.digest, info.uncompressedSize);
    if (seen.has(key)) return;
    seen.add(key);
    chunks.push({ info, blob });
  };
  const visit = (inode: RafsInode) => {
    for (const chunk of inode.chunks ?? []) {
      const blob = blobs[chunk.blobIndex];
      if (blob) add(chunk, blob);
    }
    for (const child of inode.entries?.values() ?? []) visit(child);
  };
  visit(rafs.root);
  for (const blob of blobs) {
    if (!blob) continue;
    const opened = await openBlob(blob.range, { info: blob.info, codec: kernels.codec }).catch((e: unknown) => {
      if (isStrataError(e)) return undefined; // no readable tables: the tree's chunks are all there is
      throw e;
    });
    const { table, digests } = opened ?? {};
    if (!table || !digests || digests.length !== table.length * 32) continue;
    table.forEach((c, index) => {
      const digest = digests.subarray(index * 32, index * 32 + 32);
      add({ digest, blobIndex: blob.info.blobIndex, flags: c.compressed ? ChunkFlags.COMPRESSED : 0, compressedOffset: c.compressedOffset, compressedSize: c.compressedSize, uncompressedOffset: c.uncompressedOffset, uncompressedSize: c.uncompressedSize, fileOffset: 0, index, crc32: 0 }, blob);
    });
  }
  return { name: image.name, id: hex(kernels.sha256.digest(image.bootstrap)), blobs: blobs.filter((b): b is DictBlob => b !== undefined), chunks, missingBlobs };
}

function digestKey(digest: Uint8Array, size: number): string {
  let s = "";
  for (let i = 0; i < digest.length; i++) s += (digest[i]! < 16 ? "0" : "") + digest[i]!.toString(16);
  return `${s}:${size}`;
}

/**
 * Opens the dictionaries named on a command line, in order: each a Nydus image (`oci:DIR[:TAG]`
 * `docker://HOST/REPO[:TAG]` with `registry` options, and the other sources openNydus reads) or a
 * bare RAFS bootstrap (its blobs beside it).
 */
export async function openChunkDictionaries(
  ports: Ports,
  sources: readonly string[],
  options: Pick<ResolvedOptions, "chunkSize" | "compressor" | "digester">,
  sha256: Hasher,
  registry?: RegistryOptions,
): Promise<ChunkDictionary[]> {
  const dictionaries: ChunkDictionary[] = [];
  const rafs = await rafsKernels(ports);
  for (const [i, source] of sources.entries()) {
    const image = await openNydus(ports, source, { kernels: ociKernels(ports), registry });
    dictionaries.push(await chunkDictionary(image, options, { sha256, codec: rafs.codec }, i * BLOBS_PER_DICTIONARY));
  }
  return dictionaries;
}

/** Order numbers reserved per dictionary: more than a blob table holds. */
const BLOBS_PER_DICTIONARY = 0x100;
