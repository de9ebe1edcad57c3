/**
 * A registry repository as a BlobStore, so images and indexes are read by the same code as OCI
 * layouts (src/oci/image.ts): manifests come from /manifests/ (verified, kept in memory), other
 * blobs are HTTP-backed BlobRanges.
 */
import { isStrataError, StrataError } from "../errors.js";
import { memoryRange, readAll, type BlobRange } from "../oci/blob.js";
import type { OciKernels } from "../oci/decompress.js";
import { MAX_JSON_BLOB, parseDescriptor, parseJson, parsePlatform, resolveImage, type BlobStore, type StoredImage } from "../oci/image.js";
import type { RegistryReference } from "../oci/reference.js";
import { MEDIA_TYPES, type Descriptor } from "../oci/types.js";
import { sha256Digest } from "../oci/verify.js";
import type { Ports } from "../ports.js";
import { registryBlob } from "./blob.js";
import { registryClient, unexpected, type RegistryClient, type RegistryOptions } from "./client.js";

/** Every manifest type strata reads, OCI and Docker. */
export const MANIFEST_ACCEPT = [MEDIA_TYPES.ociIndex, MEDIA_TYPES.ociManifest, MEDIA_TYPES.dockerManifestList, MEDIA_TYPES.dockerManifest].join(", ");

const OS_FEATURE_NYDUS = "nydus.remoteimage.v1";

export class RegistryStore implements BlobStore {
  readonly name: string;
  private readonly manifests = new Map<string, Promise<Uint8Array>>();
  /** Digests that index entries name: fetched from /manifests/, not /blobs/. */
  private readonly manifestDigests = new Set<string>();

  constructor(
    readonly client: RegistryClient,
    readonly repository: string,
    private readonly kernels: Pick<OciKernels, "sha256">,
  ) {
    this.name = client.where(repository);
  }

  /** The manifest or index a tag or digest names, verified against its digest. */
  async manifest(reference: string): Promise<{ descriptor: Descriptor; bytes: Uint8Array }> {
    const what = `manifest ${reference} in ${this.name}`;
    let bytes: Uint8Array | undefined;
    let res: Response | undefined;
    for (let attempt = 1; !bytes; attempt++) {
      res = await this.client.send({ method: "GET", repository: this.repository, path: `manifests/${reference}`, headers: { accept: MANIFEST_ACCEPT }, actions: "pull", mirrored: true });
      if (res.status !== 200) throw await unexpected(res, what);
      const declared = Number(res.headers.get("content-length") ?? 0);
      if (declared > MAX_JSON_BLOB) {
        await res.body?.cancel();
        throw new StrataError("BAD_MANIFEST", `${what} is ${declared} bytes, more than ${MAX_JSON_BLOB}`);
      }
      try {
        bytes = await readAll(res.body ?? new ReadableStream());
      } catch (e) {
        if (attempt >= this.client.retry.attempts) throw new StrataError("NETWORK", `${what}: reading the body failed: ${(e as Error).message}`, {}, { cause: e });
      }
    }
    if (bytes.length > MAX_JSON_BLOB) throw new StrataError("BAD_MANIFEST", `${what} is more than ${MAX_JSON_BLOB} bytes`);
    const digest = await sha256Digest(this.kernels as OciKernels, bytes);
    const expected = reference.startsWith("sha256:") ? reference : res!.headers.get("docker-content-digest");
    if (expected && expected !== digest) throw new StrataError("DIGEST_MISMATCH", `${what} has digest ${digest}, expected ${expected}`, { digest: expected, actual: digest });
    const doc = parseJson(bytes, what);
    const contentType = res!.headers.get("content-type")?.split(";")[0]?.trim();
    const mediaType = typeof doc.mediaType === "string" ? doc.mediaType : contentType && contentType !== "application/json" ? contentType : Array.isArray(doc.manifests) ? MEDIA_TYPES.ociIndex : MEDIA_TYPES.ociManifest;
    if (Array.isArray(doc.manifests)) {
      for (const d of doc.manifests as { digest?: unknown }[]) if (typeof d?.digest === "string") this.manifestDigests.add(d.digest);
    }
    this.manifests.set(digest, Promise.resolve(bytes));
    return { descriptor: { mediaType, digest, size: bytes.length }, bytes };
  }

  async blob(digest: string, knownSize?: number): Promise<BlobRange> {
    const known = this.manifests.get(digest);
    if (known) return memoryRange(await known);
    if (this.manifestDigests.has(digest)) return memoryRange((await this.manifest(digest)).bytes);
    if (knownSize !== undefined) return registryBlob(this.client, this.repository, digest, knownSize);
    const res = await this.client.send({ method: "HEAD", repository: this.repository, path: `blobs/${digest}`, actions: "pull", mirrored: true });
    if (res.status === 404) {
      // A manifest named by digest that no index listed.
      const manifest = await this.manifest(digest).catch((e: unknown) => {
        throw isStrataError(e, "NOT_FOUND") ? new StrataError("NOT_FOUND", `blob ${digest} is not in ${this.name}`, { digest }) : e;
      });
      return memoryRange(manifest.bytes);
    }
    if (res.status !== 200) throw await unexpected(res, `HEAD blob ${digest} in ${this.name}`);
    const size = Number(res.headers.get("content-length"));
    if (!Number.isSafeInteger(size) || size < 0) throw new StrataError("REGISTRY", `HEAD blob ${digest} in ${this.name} has no Content-Length`, { digest });
    return registryBlob(this.client, this.repository, digest, size);
  }
}

export interface OpenRegistryOptions {
  kernels: OciKernels;
  /** os/arch[/variant] picked from indexes; default linux/amd64. */
  platform?: string;
  registry?: RegistryOptions;
  /** In an index holding an OCI and a Nydus manifest (nydusify --merge-platform), take the Nydus one. */
  preferNydus?: boolean;
}

/** The image a docker:// reference names (by digest, else tag), with the store it reads from. */
export async function openRegistry(ports: Ports, ref: RegistryReference, options: OpenRegistryOptions): Promise<{ image: StoredImage; store: RegistryStore }> {
  const client = registryClient(ports, ref.registry, options.registry);
  const store = new RegistryStore(client, ref.repository, options.kernels);
  const top = await store.manifest(ref.digest ?? ref.tag ?? "latest");
  const platform = parsePlatform(options.platform ?? "linux/amd64");
  let descriptor = top.descriptor;
  if (options.preferNydus) descriptor = nydusEntry(top.bytes, platform.os, platform.architecture) ?? descriptor;
  return { image: await resolveImage(store, options.kernels, descriptor, platform), store };
}

/** The Nydus manifest of a merged index, when `bytes` is one. */
function nydusEntry(bytes: Uint8Array, os: string, architecture: string): Descriptor | undefined {
  const doc = parseJson(bytes, "index") as { manifests?: (Descriptor & { platform?: { os?: string; architecture?: string; "os.features"?: unknown } })[] };
  if (!Array.isArray(doc.manifests)) return undefined;
  const found = doc.manifests.find((d) => {
    const features = d.platform?.["os.features"];
    return Array.isArray(features) && features.includes(OS_FEATURE_NYDUS) && d.platform?.os === os && d.platform?.architecture === architecture;
  });
  return found && parseDescriptor(found, "Nydus entry of the index");
}
