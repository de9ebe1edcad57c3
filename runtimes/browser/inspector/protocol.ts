// The messages between <strata-inspector> and its worker. Every request carries an id; the
// worker answers it once (a result or an error) and may send progress for it before that.
import type { NydusBlobSummary, NydusInspection } from "../../../src/nydus/inspect.js";

/** One change a layer made to a path, read from the layer's tar entries. */
export interface PathChange {
  layer: number;
  action: "added" | "replaced" | "deleted" | "opaque";
}

/** A row of the tree: a path of the flattened image, or one a layer deleted for good. */
export interface TreeRow {
  path: string;
  type: "file" | "dir" | "symlink" | "hardlink" | "chardev" | "blockdev" | "fifo" | "socket";
  size: number;
  mode: number;
  target?: string;
  linkTo?: string;
  /** OCI sources: every change the layers made to this path, in order. */
  history?: PathChange[];
  /** The path is absent from the flattened image (a whiteout removed it). */
  deleted?: boolean;
  /** Nydus sources: chunk references and how many of them are deduplicated. */
  chunks?: number;
  dedupChunks?: number;
}

export interface LayerRow {
  index: number;
  digest: string;
  mediaType: string;
  size: number;
  role?: "bootstrap" | "blob";
}

export interface ImageSummary {
  kind: "oci" | "nydus";
  name: string;
  manifest?: unknown;
  config?: unknown;
  layers: LayerRow[];
  /** Nydus: bootstrap settings, blobs and the dedup totals. */
  bootstrap?: NydusInspection["bootstrap"];
  blobs?: NydusBlobSummary[];
  dedup?: NydusInspection["chunks"];
  stats: { entries: number; files: number; dirs: number; bytes: number };
}

export interface ChunkRow {
  blobId: string;
  index: number;
  compressed: boolean;
  compressedSize: number;
  uncompressedSize: number;
  fileOffset: number;
  digest: string;
  deduplicated: boolean;
}

export interface FailureRow {
  message: string;
  check: string;
  path?: string;
  chunk?: number;
  layer?: number;
  blobId?: string;
}

export type Request =
  | { id: number; type: "open-files"; files: File[] }
  | { id: number; type: "open-registry"; reference: string; token?: string; insecure?: boolean }
  | { id: number; type: "verify" }
  | { id: number; type: "chunks"; path: string }
  | { id: number; type: "preview"; path: string };

export type Reply =
  | { id: number; type: "opened"; image: ImageSummary; rows: TreeRow[] }
  | { id: number; type: "progress"; phase: string; done: number; total: number }
  | { id: number; type: "verified"; ok: boolean; failures: FailureRow[]; checked: string }
  | { id: number; type: "chunks"; path: string; chunks: ChunkRow[] }
  | { id: number; type: "preview"; path: string; text?: string; hex?: string; bytes: number; size: number }
  | { id: number; type: "error"; message: string; code?: string };

/** Bytes a preview shows at most. */
export const PREVIEW_BYTES = 64 * 1024;
