/**
 * `strata inspect` for Nydus images: the manifest and layers, the bootstrap's settings, each blob
 * with its sizes and chunk counts, and the tree (or one path) with every file's chunk list. Chunks
 * referenced more than once (by several files, or twice in one) are marked deduplicated, and the
 * bytes they save are totalled. Reads only the bootstrap: the result is plain JSON-able data.
 */
import { walk, type Inode } from "../fs/inode.js";
import { listTree, type InspectEntry } from "../oci/inspect.js";
import { hex } from "../oci/verify.js";
import { lookup } from "../rafs/read.js";
import type { ChunkInfo, RafsInode } from "../rafs/types.js";
import { ChunkFlags } from "../rafs/layout.js";
import { type NydusImage, requireRafs } from "./image.js";

export interface NydusLayerInfo {
  index: number;
  digest: string;
  mediaType: string;
  size: number;
  /** "bootstrap" for the last layer, "blob" for the others. */
  role: "bootstrap" | "blob";
  diffId?: string;
  annotations?: Record<string, string>;
}

export interface NydusChunkEntry {
  /** Blob id and the chunk's index in that blob's compression table. */
  blobId: string;
  index: number;
  compressed: boolean;
  compressedOffset: number;
  compressedSize: number;
  uncompressedOffset: number;
  uncompressedSize: number;
  /** Where the chunk lands in the file. */
  fileOffset: number;
  /** Hex chunk digest (the image's digester over the uncompressed chunk). */
  digest: string;
  /** The chunk is referenced more than once in the image. */
  deduplicated: boolean;
}

export interface NydusTreeEntry extends InspectEntry {
  chunks?: NydusChunkEntry[];
}

export interface NydusBlobSummary {
  blobId: string;
  /** Position in the bootstrap's blob table. */
  blobIndex: number;
  /** Manifest index of its layer (OCI images). */
  layer?: number;
  /** Bytes of the stored blob, when it was found. */
  storedSize?: number;
  /** Sizes the bootstrap records. */
  compressedSize: number;
  uncompressedSize: number;
  compressor: string;
  digester: string;
  chunkSize: number;
  /** Chunks in the blob (blob table) and distinct chunks the tree uses from it. */
  chunkCount: number;
  chunksUsed: number;
}

export interface NydusInspection {
  name: string;
  manifest?: { mediaType?: string; config: string; layers: NydusLayerInfo[] };
  bootstrap: {
    version: 5 | 6;
    size: number;
    chunkSize: number;
    compressor: string;
    digester: string;
    flags: number;
    prefetch: string[];
  };
  blobs: NydusBlobSummary[];
  chunks: {
    /** Chunk references in the files inspected, and distinct chunks among them. */
    references: number;
    distinct: number;
    /** Distinct chunks referenced more than once, and the uncompressed bytes the extra references save. */
    deduplicated: number;
    deduplicatedBytes: number;
    compressedBytes: number;
    uncompressedBytes: number;
  };
  /** Rows for `path` (default "/") and everything under it, in walk order. */
  tree: NydusTreeEntry[];
}

export interface InspectOptions {
  /** Only this path and what is under it (default "/"). NOT_FOUND if absent. */
  path?: string;
  /** Include per-file chunk lists (default true). */
  chunks?: boolean;
}

/** One physical chunk: same blob, same table entry, same place. */
const chunkKey = (c: ChunkInfo) => `${c.blobIndex}/${c.index}/${c.compressedOffset}`;

export function inspectNydusImage(image: NydusImage, options: InspectOptions = {}): NydusInspection {
  const rafs = requireRafs(image);
  const path = normalize(options.path ?? "/");
  const top = lookup(rafs, path);

  // References across the whole image decide what is deduplicated; each inode counts once (hardlinks).
  const references = new Map<string, number>();
  const seen = new Set<Inode>();
  for (const [, node] of walk(rafs.root)) {
    if (seen.has(node)) continue;
    seen.add(node);
    for (const c of (node as RafsInode).chunks ?? []) references.set(chunkKey(c), (references.get(chunkKey(c)) ?? 0) + 1);
  }

  // Rows for the subtree, with paths made absolute.
  const rows: NydusTreeEntry[] = listTree(top, new Map());
  const absolute = (p: string) => (path === "/" ? p : p === "/" ? path : `${path}${p}`);
  const stats = { references: 0, distinct: 0, deduplicated: 0, deduplicatedBytes: 0, compressedBytes: 0, uncompressedBytes: 0 };
  const counted = new Set<string>();
  const used = new Map<number, Set<string>>();
  const inSubtree = new Set<Inode>();
  let i = 0;
  for (const [, node] of walk(top)) {
    const row = rows[i++]!;
    row.path = absolute(row.path);
    if (row.linkTo !== undefined) row.linkTo = absolute(row.linkTo);
    const chunks = (node as RafsInode).chunks;
    if (!chunks || inSubtree.has(node)) continue;
    inSubtree.add(node);
    for (const c of chunks) {
      const key = chunkKey(c);
      stats.references++;
      if (!used.has(c.blobIndex)) used.set(c.blobIndex, new Set());
      used.get(c.blobIndex)!.add(key);
      if (counted.has(key)) {
        stats.deduplicatedBytes += c.uncompressedSize;
        continue;
      }
      counted.add(key);
      stats.distinct++;
      stats.compressedBytes += c.compressedSize;
      stats.uncompressedBytes += c.uncompressedSize;
      if (references.get(key)! > 1) stats.deduplicated++;
    }
    if (options.chunks !== false) row.chunks = chunks.map((c) => chunkEntry(c, rafs.blobs[c.blobIndex]?.blobId ?? "", references.get(chunkKey(c))! > 1));
  }

  return {
    name: image.name,
    manifest: image.oci && {
      mediaType: image.oci.manifest.mediaType,
      config: image.oci.manifest.config.digest,
      layers: image.oci.manifest.layers.map((l, index) => ({
        index,
        digest: l.digest,
        mediaType: l.mediaType,
        size: l.size,
        role: index === image.oci!.bootstrapLayer.index ? "bootstrap" : "blob",
        ...(image.oci!.diffIds?.[index] !== undefined ? { diffId: image.oci!.diffIds[index] } : {}),
        ...(l.annotations ? { annotations: { ...l.annotations } } : {}),
      })),
    },
    bootstrap: {
      version: rafs.version,
      size: image.bootstrap.length,
      chunkSize: rafs.chunkSize,
      compressor: rafs.compressor,
      digester: rafs.digester,
      flags: rafs.flags,
      prefetch: [...rafs.prefetch],
    },
    blobs: rafs.blobs.map((b) => {
      const layer = image.blobLayers.get(b.blobId);
      const stored = image.blobs.get(b.blobId);
      return {
        blobId: b.blobId,
        blobIndex: b.blobIndex,
        ...(layer !== undefined ? { layer } : {}),
        ...(stored ? { storedSize: stored.size } : {}),
        compressedSize: b.compressedSize,
        uncompressedSize: b.uncompressedSize,
        compressor: b.compressor,
        digester: b.digester,
        chunkSize: b.chunkSize,
        chunkCount: b.chunkCount,
        chunksUsed: used.get(b.blobIndex)?.size ?? 0,
      };
    }),
    chunks: stats,
    tree: rows,
  };
}

function chunkEntry(c: ChunkInfo, blobId: string, deduplicated: boolean): NydusChunkEntry {
  return {
    blobId,
    index: c.index,
    compressed: (c.flags & ChunkFlags.COMPRESSED) !== 0,
    compressedOffset: c.compressedOffset,
    compressedSize: c.compressedSize,
    uncompressedOffset: c.uncompressedOffset,
    uncompressedSize: c.uncompressedSize,
    fileOffset: c.fileOffset,
    digest: hex(c.digest),
    deduplicated,
  };
}

/** "/a/b" without a trailing slash; "" and "." are the root. */
function normalize(path: string): string {
  const parts = path.split("/").filter((p) => p !== "" && p !== ".");
  return parts.length ? `/${parts.join("/")}` : "/";
}
