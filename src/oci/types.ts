/**
 * OCI image interfaces in the style of go-containerregistry: an Image hands out its manifest,
 * config and layers lazily; a Layer streams its bytes compressed or uncompressed, verified
 * against its digest and diff_id as they flow.
 */

export const MEDIA_TYPES = {
  ociIndex: "application/vnd.oci.image.index.v1+json",
  ociManifest: "application/vnd.oci.image.manifest.v1+json",
  ociConfig: "application/vnd.oci.image.config.v1+json",
  ociLayer: "application/vnd.oci.image.layer.v1.tar",
  ociLayerGzip: "application/vnd.oci.image.layer.v1.tar+gzip",
  ociLayerZstd: "application/vnd.oci.image.layer.v1.tar+zstd",
  dockerManifestList: "application/vnd.docker.distribution.manifest.list.v2+json",
  dockerManifest: "application/vnd.docker.distribution.manifest.v2+json",
  dockerConfig: "application/vnd.docker.container.image.v1+json",
  dockerLayer: "application/vnd.docker.image.rootfs.diff.tar",
  dockerLayerGzip: "application/vnd.docker.image.rootfs.diff.tar.gzip",
} as const;

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

export interface Descriptor {
  mediaType: string;
  /** "sha256:<64 hex>". */
  digest: string;
  size: number;
  annotations?: Record<string, string>;
  platform?: Platform;
}

export interface ImageManifest {
  schemaVersion: 2;
  mediaType?: string;
  config: Descriptor;
  layers: Descriptor[];
  annotations?: Record<string, string>;
}

export interface ImageIndexManifest {
  schemaVersion: 2;
  mediaType?: string;
  manifests: Descriptor[];
  annotations?: Record<string, string>;
}

/** The parts of an image config strata reads; the rest is kept as parsed. */
export interface ImageConfig {
  architecture?: string;
  os?: string;
  variant?: string;
  rootfs: { type: string; diff_ids: string[] };
  [key: string]: unknown;
}

export type Compression = "none" | "gzip" | "zstd";

export interface Layer {
  /** Digest of the blob as stored (compressed). */
  readonly digest: string;
  /** Digest of the uncompressed tar (the config's diff_id). */
  readonly diffId: string;
  readonly mediaType: string;
  /** Stored (compressed) size in bytes. */
  readonly size: number;
  /** The stored bytes; the stream errors with DIGEST_MISMATCH instead of closing if they do not match. */
  compressed(): ReadableStream<Uint8Array>;
  /** The tar; errors with DIGEST_MISMATCH at its end if the stored bytes or the tar do not match. */
  uncompressed(): ReadableStream<Uint8Array>;
  /** The compression found by the first bytes (trusted over the media type). */
  compression(): Promise<Compression>;
}

export interface Image {
  /** Digest of the manifest. */
  digest(): Promise<string>;
  manifest(): Promise<ImageManifest>;
  /** The manifest as stored (its sha256 is digest()). */
  rawManifest(): Promise<Uint8Array>;
  /** The config blob as stored (verified). */
  rawConfig(): Promise<Uint8Array>;
  config(): Promise<ImageConfig>;
  layers(): Promise<Layer[]>;
  /** Non-fatal oddities found while reading (media type vs magic bytes, ...). */
  readonly warnings: string[];
}

export interface ImageIndex {
  index(): Promise<ImageIndexManifest>;
  /** The image for a manifest descriptor found in this index. */
  image(descriptor: Descriptor): Promise<Image>;
}
