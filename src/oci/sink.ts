/**
 * Where converted or copied images are written: an OCI layout directory (LayoutWriter) or a
 * registry repository (RegistrySink). Blobs stream in before their digest is known.
 */
import type { BlobUpload } from "./layout-writer.js";
import type { Descriptor } from "./types.js";

export type { BlobUpload };

export interface ImageSink {
  /** Starts streaming a blob of unknown digest. */
  upload(): Promise<BlobUpload>;
  /** Stores a whole blob (manifests and indexes too, by their media type) and returns its descriptor. */
  writeBlob(bytes: Uint8Array, mediaType: string, annotations?: Record<string, string>): Promise<Descriptor>;
  /** Stores a JSON document (manifest, config, index) with its keys in the order given. */
  writeJson(value: unknown, mediaType: string): Promise<Descriptor>;
  /** Points `tag` at a manifest or index stored before (without a tag, only records it where that means something). */
  tag(manifest: Descriptor, tag?: string): Promise<void>;
  /**
   * Stores a blob whose digest and size are known, opening its bytes only when needed: a registry
   * skips one it has and mounts one from `mountFrom` (a repository of the same registry).
   */
  putBlob?(descriptor: Descriptor, open: () => ReadableStream<Uint8Array>, mountFrom?: { registry: string; repository: string }): Promise<void>;
  /** Where a blob of this digest is stored on the local disk, for sinks that are directories (a hardlink there stores it). */
  blobPath?(digest: string): string;
}
