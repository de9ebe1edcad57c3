/**
 * Images and indexes over a content-addressed blob store (an OCI layout directory or archive):
 * manifest parsing and validation, tag and platform selection, index loop detection.
 */
import { StrataError } from "../errors.js";
import type { BlobRange } from "./blob.js";
import type { OciKernels } from "./decompress.js";
import { storedLayer } from "./layer.js";
import { isDigest } from "./reference.js";
import { MEDIA_TYPES, type Descriptor, type Image, type ImageConfig, type ImageIndex, type ImageIndexManifest, type ImageManifest, type Layer, type Platform } from "./types.js";
import { verifyBytes } from "./verify.js";

/** Manifests, indexes and configs larger than this are refused before reading. */
export const MAX_JSON_BLOB = 8 << 20;
/** Nested indexes followed before giving up. */
const MAX_INDEX_DEPTH = 8;

export interface BlobStore {
  /** Names the store in messages ("oci:/path", "oci-archive:file.tar"). */
  readonly name: string;
  /**
   * The stored blob, or NOT_FOUND. `size`, when the caller trusts one (a verified manifest's), lets
   * a remote store skip asking for it: lazy readers then make no request until they read.
   */
  blob(digest: string, size?: number): Promise<BlobRange>;
}

const utf8 = new TextDecoder();

function badManifest(what: string, why: string, details: Record<string, unknown> = {}): StrataError {
  return new StrataError("BAD_MANIFEST", `${what}: ${why}`, details);
}

export function parseJson(bytes: Uint8Array, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(utf8.decode(bytes));
  } catch (e) {
    throw badManifest(what, `not valid JSON (${(e as Error).message})`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw badManifest(what, "not a JSON object");
  return value as Record<string, unknown>;
}

export function parseDescriptor(value: unknown, what: string): Descriptor {
  const d = value as Partial<Descriptor> | null;
  if (typeof d !== "object" || d === null) throw badManifest(what, "descriptor is not an object");
  if (typeof d.digest !== "string") throw badManifest(what, "descriptor has no digest");
  if (!isDigest(d.digest)) {
    if (/^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/.test(d.digest) && !d.digest.startsWith("sha256:")) {
      throw new StrataError("UNSUPPORTED", `${what}: digest algorithm of ${d.digest} is not supported (sha256 only)`, { digest: d.digest });
    }
    throw badManifest(what, `malformed digest ${JSON.stringify(d.digest)}`);
  }
  if (typeof d.size !== "number" || !Number.isSafeInteger(d.size) || d.size < 0) throw badManifest(what, `descriptor ${d.digest} has an invalid size`);
  if (typeof d.mediaType !== "string") throw badManifest(what, `descriptor ${d.digest} has no mediaType`);
  return d as Descriptor;
}

/** Reads a small JSON blob, verifying its digest and size first. */
async function readJsonBlob(store: BlobStore, kernels: OciKernels, d: Descriptor, what: string): Promise<Uint8Array> {
  if (d.size > MAX_JSON_BLOB) throw badManifest(what, `${d.digest} is ${d.size} bytes, more than ${MAX_JSON_BLOB}`);
  const blob = await store.blob(d.digest);
  if (blob.size !== d.size) {
    throw new StrataError("DIGEST_MISMATCH", `${what} ${d.digest} is ${blob.size} bytes in ${store.name}, expected ${d.size}`, { digest: d.digest });
  }
  return verifyBytes(kernels, await blob.read(0, d.size), { digest: d.digest, size: d.size, what: `${what} ${d.digest}` });
}

export function parseManifest(bytes: Uint8Array, what: string): ImageManifest {
  const m = parseJson(bytes, what);
  if (m.schemaVersion !== 2) throw badManifest(what, `schemaVersion is ${JSON.stringify(m.schemaVersion)}, expected 2`);
  if (!Array.isArray(m.layers)) throw badManifest(what, "has no layers array");
  return {
    ...(m as object),
    schemaVersion: 2,
    config: parseDescriptor(m.config, `${what} config`),
    layers: m.layers.map((l, i) => parseDescriptor(l, `${what} layer ${i}`)),
  } as ImageManifest;
}

export function parseIndex(bytes: Uint8Array, what: string): ImageIndexManifest {
  const m = parseJson(bytes, what);
  if (m.schemaVersion !== 2) throw badManifest(what, `schemaVersion is ${JSON.stringify(m.schemaVersion)}, expected 2`);
  if (!Array.isArray(m.manifests)) throw badManifest(what, "has no manifests array");
  return { ...(m as object), schemaVersion: 2, manifests: m.manifests.map((d, i) => parseDescriptor(d, `${what} entry ${i}`)) } as ImageIndexManifest;
}

export function parseConfig(bytes: Uint8Array, what: string, layerCount: number): ImageConfig {
  const c = parseJson(bytes, what);
  const rootfs = c.rootfs as ImageConfig["rootfs"] | undefined;
  if (!rootfs || !Array.isArray(rootfs.diff_ids)) throw badManifest(what, "has no rootfs.diff_ids");
  for (const id of rootfs.diff_ids) {
    if (typeof id !== "string" || !isDigest(id)) throw badManifest(what, `diff_id ${JSON.stringify(id)} is not a sha256 digest`);
  }
  if (rootfs.diff_ids.length !== layerCount) {
    throw badManifest(what, `lists ${rootfs.diff_ids.length} diff_ids for ${layerCount} layers`);
  }
  return c as ImageConfig;
}

const INDEX_TYPES = new Set<string>([MEDIA_TYPES.ociIndex, MEDIA_TYPES.dockerManifestList]);
const MANIFEST_TYPES = new Set<string>([MEDIA_TYPES.ociManifest, MEDIA_TYPES.dockerManifest]);

/** An image described by a manifest in a blob store. */
export class StoredImage implements Image {
  readonly warnings: string[] = [];
  private rawManifestP?: Promise<Uint8Array>;
  private manifestP?: Promise<ImageManifest>;
  private rawConfigP?: Promise<Uint8Array>;
  private configP?: Promise<ImageConfig>;
  private layersP?: Promise<Layer[]>;

  constructor(
    private readonly store: BlobStore,
    private readonly kernels: OciKernels,
    private readonly descriptor: Descriptor,
  ) {}

  async digest(): Promise<string> {
    return this.descriptor.digest;
  }

  rawManifest(): Promise<Uint8Array> {
    return (this.rawManifestP ??= readJsonBlob(this.store, this.kernels, this.descriptor, "manifest"));
  }

  manifest(): Promise<ImageManifest> {
    return (this.manifestP ??= this.rawManifest().then((b) => parseManifest(b, `manifest ${this.descriptor.digest} in ${this.store.name}`)));
  }

  rawConfig(): Promise<Uint8Array> {
    return (this.rawConfigP ??= this.manifest().then((m) => readJsonBlob(this.store, this.kernels, m.config, "config")));
  }

  config(): Promise<ImageConfig> {
    return (this.configP ??= Promise.all([this.manifest(), this.rawConfig()]).then(([m, raw]) =>
      parseConfig(raw, `config ${m.config.digest} in ${this.store.name}`, m.layers.length),
    ));
  }

  layers(): Promise<Layer[]> {
    return (this.layersP ??= (async () => {
      const [m, c] = await Promise.all([this.manifest(), this.config()]);
      return Promise.all(
        m.layers.map(async (descriptor, index) => {
          const blob = await this.store.blob(descriptor.digest);
          if (blob.size !== descriptor.size) {
            throw new StrataError("DIGEST_MISMATCH", `layer ${index} (${descriptor.digest}) is ${blob.size} bytes in ${this.store.name}, expected ${descriptor.size}`, {
              digest: descriptor.digest,
              layer: index,
            });
          }
          return storedLayer({ kernels: this.kernels, blob, descriptor, diffId: c.rootfs.diff_ids[index]!, index, warnings: this.warnings });
        }),
      );
    })());
  }
}

export class StoredIndex implements ImageIndex {
  private indexP?: Promise<ImageIndexManifest>;

  constructor(
    private readonly store: BlobStore,
    private readonly kernels: OciKernels,
    private readonly descriptor: Descriptor,
  ) {}

  index(): Promise<ImageIndexManifest> {
    return (this.indexP ??= readJsonBlob(this.store, this.kernels, this.descriptor, "index").then((b) => parseIndex(b, `index ${this.descriptor.digest} in ${this.store.name}`)));
  }

  async image(descriptor: Descriptor): Promise<Image> {
    const found = (await this.index()).manifests.some((d) => d.digest === descriptor.digest);
    if (!found) throw new StrataError("NOT_FOUND", `${descriptor.digest} is not in index ${this.descriptor.digest}`, { digest: descriptor.digest });
    return new StoredImage(this.store, this.kernels, descriptor);
  }
}

export function parsePlatform(value: string): Platform {
  const parts = value.split("/");
  if (parts.length < 2 || parts.length > 3 || parts.some((p) => p === "")) {
    throw new StrataError("INVALID_ARGUMENT", `platform ${JSON.stringify(value)} is not os/arch[/variant]`, { platform: value });
  }
  return parts.length === 3 ? { os: parts[0]!, architecture: parts[1]!, variant: parts[2]! } : { os: parts[0]!, architecture: parts[1]! };
}

export function formatPlatform(p: Platform | undefined): string {
  if (!p) return "(no platform)";
  return [p.os, p.architecture, p.variant].filter(Boolean).join("/");
}

function matches(p: Platform | undefined, want: Platform): boolean {
  if (!p) return false;
  return p.os === want.os && p.architecture === want.architecture && (want.variant === undefined || p.variant === want.variant);
}

/** What kind of document a descriptor names: by media type, or by looking when the type is unknown. */
async function isIndex(store: BlobStore, kernels: OciKernels, d: Descriptor): Promise<boolean> {
  if (INDEX_TYPES.has(d.mediaType)) return true;
  if (MANIFEST_TYPES.has(d.mediaType)) return false;
  const doc = parseJson(await readJsonBlob(store, kernels, d, "manifest"), `${d.digest} in ${store.name}`);
  return Array.isArray(doc.manifests);
}

/**
 * Follows `descriptor` to one image: an image manifest is returned as is; an index picks the
 * manifest for `platform` (nested indexes followed, loops detected).
 */
export async function resolveImage(store: BlobStore, kernels: OciKernels, descriptor: Descriptor, platform: Platform, seen = new Set<string>()): Promise<StoredImage> {
  if (!(await isIndex(store, kernels, descriptor))) return new StoredImage(store, kernels, descriptor);
  if (seen.has(descriptor.digest)) throw badManifest(`index ${descriptor.digest} in ${store.name}`, "refers back to itself (index loop)");
  if (seen.size >= MAX_INDEX_DEPTH) throw badManifest(`index ${descriptor.digest} in ${store.name}`, `nested more than ${MAX_INDEX_DEPTH} deep`);
  seen.add(descriptor.digest);
  const index = await new StoredIndex(store, kernels, descriptor).index();
  const candidates = index.manifests.filter((d) => matches(d.platform, platform));
  // An index of one entry without a platform (a tag wrapper) is followed as is.
  if (candidates.length === 0 && index.manifests.length === 1 && !index.manifests[0]!.platform) candidates.push(index.manifests[0]!);
  if (candidates.length === 0) {
    const available = index.manifests.map((d) => formatPlatform(d.platform)).join(", ") || "nothing";
    throw new StrataError("NOT_FOUND", `index ${descriptor.digest} in ${store.name} has no image for ${formatPlatform(platform)}; available: ${available}`, {
      platform: formatPlatform(platform),
      available: index.manifests.map((d) => formatPlatform(d.platform)),
    });
  }
  return resolveImage(store, kernels, candidates[0]!, platform, seen);
}

export const REF_NAME = "org.opencontainers.image.ref.name";

export interface Selection {
  tag?: string;
  digest?: string;
  platform?: string;
}

/** Picks the image a layout's index.json names: by digest, by tag, or the only (or "latest") entry. */
export async function selectFromLayout(store: BlobStore, kernels: OciKernels, topIndex: ImageIndexManifest, selection: Selection): Promise<StoredImage> {
  const platform = parsePlatform(selection.platform ?? "linux/amd64");
  const tags = topIndex.manifests.map((d) => d.annotations?.[REF_NAME]).filter((t): t is string => t !== undefined);
  let chosen: Descriptor | undefined;
  if (selection.digest) {
    chosen = topIndex.manifests.find((d) => d.digest === selection.digest);
    if (!chosen) {
      // A manifest reachable only through a nested index: read it to learn what it is.
      const blob = await store.blob(selection.digest);
      const bytes = await verifyBytes(kernels, await blob.read(0, Math.min(blob.size, MAX_JSON_BLOB)), { digest: selection.digest, size: blob.size, what: `manifest ${selection.digest}` });
      const doc = parseJson(bytes, `${selection.digest} in ${store.name}`);
      const mediaType = typeof doc.mediaType === "string" ? doc.mediaType : Array.isArray(doc.manifests) ? MEDIA_TYPES.ociIndex : MEDIA_TYPES.ociManifest;
      chosen = { mediaType, digest: selection.digest, size: bytes.length };
    }
  } else if (selection.tag !== undefined) {
    const all = topIndex.manifests.filter((d) => d.annotations?.[REF_NAME] === selection.tag);
    if (all.length === 0) {
      throw new StrataError("NOT_FOUND", `tag ${JSON.stringify(selection.tag)} is not in ${store.name}; tags: ${tags.join(", ") || "none"}`, { tag: selection.tag, tags });
    }
    chosen = all.find((d) => matches(d.platform, platform)) ?? all[0];
  } else if (topIndex.manifests.length === 1) {
    chosen = topIndex.manifests[0];
  } else {
    chosen = topIndex.manifests.find((d) => d.annotations?.[REF_NAME] === "latest") ?? topIndex.manifests.find((d) => matches(d.platform, platform));
    if (!chosen) {
      throw new StrataError("BAD_REFERENCE", `${store.name} holds ${topIndex.manifests.length} manifests: name one with :TAG or @DIGEST; tags: ${tags.join(", ") || "none"}`, { tags });
    }
  }
  return resolveImage(store, kernels, chosen!, platform);
}
