/**
 * A registry repository as an ImageSink. Blobs already there are found with HEAD and never sent
 * again; small blobs go up in one PUT, larger ones in chunks (POST, PATCH..., PUT ?digest=), and a
 * chunk that fails is resumed from the offset the registry reports. Streamed blobs are held in
 * memory up to a limit so their digest is known (and checked with HEAD) before anything is sent;
 * beyond it they stream through a chunked upload that is cancelled if the blob turns out to exist.
 * Manifests are PUT by digest, and by tag last; a manifest with a subject is also listed in the
 * referrers tag `sha256-<hex>` when the registry has no referrers API (distribution 2.8).
 */
import { StrataError } from "../errors.js";
import { concat } from "../kernels/stream.js";
import type { StreamingSha256 } from "../kernels/sha256.js";
import { chunks } from "../oci/blob.js";
import type { BlobUpload, ImageSink } from "../oci/sink.js";
import { MEDIA_TYPES, type Descriptor, type Image } from "../oci/types.js";
import { hex } from "../oci/verify.js";
import { Limiter, unexpected, type RegistryClient } from "./client.js";
import { MANIFEST_ACCEPT } from "./store.js";

const MANIFEST_TYPES = new Set<string>([MEDIA_TYPES.ociIndex, MEDIA_TYPES.ociManifest, MEDIA_TYPES.dockerManifestList, MEDIA_TYPES.dockerManifest]);
const utf8 = new TextEncoder();

export interface RegistrySinkOptions {
  /** Makes the hashers that name streamed blobs (createStreamingSha256 prefers the runtime's native one). */
  sha256(): Promise<StreamingSha256>;
  /** Streamed blobs up to this size are held in memory and checked with HEAD before upload (default 64 MiB). */
  bufferLimit?: number;
}

/** What a push did, for reports and tests. */
export interface PushStats {
  /** Blobs sent. */
  uploaded: number;
  /** Blobs the registry already had. */
  skipped: number;
  /** Blobs mounted from another repository of the same registry. */
  mounted: number;
  /** Manifest PUTs (by digest, tag and referrers tag). */
  manifests: number;
}

export class RegistrySink implements ImageSink {
  readonly stats: PushStats = { uploaded: 0, skipped: 0, mounted: 0, manifests: 0 };
  private readonly manifests = new Map<string, { bytes: Uint8Array; mediaType: string }>();
  private readonly bufferLimit: number;

  constructor(
    readonly client: RegistryClient,
    readonly repository: string,
    private readonly options: RegistrySinkOptions,
  ) {
    this.bufferLimit = options.bufferLimit ?? 64 << 20;
  }

  get name(): string {
    return this.client.where(this.repository);
  }

  /** Whether the repository has blob `digest`. */
  async exists(digest: string): Promise<boolean> {
    const res = await this.client.send({ method: "HEAD", repository: this.repository, path: `blobs/${digest}`, actions: "pull,push" });
    if (res.status === 200) return true;
    if (res.status === 404) return false;
    throw await unexpected(res, `HEAD blob ${digest} in ${this.name}`);
  }

  /** Mounts blob `digest` from `from` (same registry); false when the registry would not. */
  async mount(digest: string, from: string): Promise<boolean> {
    const res = await this.client.send({
      method: "POST",
      repository: this.repository,
      path: `blobs/uploads/?mount=${encodeURIComponent(digest)}&from=${encodeURIComponent(from)}`,
      actions: "pull,push",
      extraScopes: [`repository:${from}:pull`],
    });
    await res.body?.cancel();
    if (res.status === 201) {
      this.stats.mounted++;
      return true;
    }
    // 202: the registry started an ordinary upload instead; it is not needed.
    const location = res.headers.get("location");
    if (res.status === 202 && location) await this.session(location).cancel();
    return false;
  }

  /** Pushes a blob held in memory, unless the registry has it (`check` false: known not to). */
  async pushBytes(bytes: Uint8Array, digest: string, check = true): Promise<void> {
    if (check && (await this.exists(digest))) {
      this.stats.skipped++;
      return;
    }
    for (let attempt = 1; ; attempt++) {
      const session = await this.start();
      try {
        if (bytes.length <= this.client.chunkSize) {
          await session.finish(digest, bytes);
        } else {
          let monolithic = false;
          for (let at = 0; at < bytes.length && !monolithic; at += this.client.chunkSize) {
            monolithic = !(await session.patch(bytes.subarray(at, at + this.client.chunkSize)));
          }
          if (monolithic) {
            // No chunked uploads here: the whole blob in one PUT on a fresh session.
            await session.cancel();
            await (await this.start()).finish(digest, bytes);
          } else {
            await session.finish(digest, new Uint8Array(0));
          }
        }
        this.stats.uploaded++;
        return;
      } catch (e) {
        await session.cancel();
        // The last PUT may have landed with its answer lost.
        if (await this.exists(digest).catch(() => false)) {
          this.stats.uploaded++;
          return;
        }
        // Started again, once: a session the registry lost (restarted, expired), or bytes damaged on the way.
        if (attempt >= 2 || !(e instanceof StrataError) || (e.details.status !== 404 && e.code !== "DIGEST_MISMATCH")) throw e;
      }
    }
  }

  /** Pushes a stream whose digest and size are known (copies), unless the registry has it. */
  async pushStream(descriptor: Descriptor, open: () => ReadableStream<Uint8Array>): Promise<void> {
    if (await this.exists(descriptor.digest)) {
      this.stats.skipped++;
      return;
    }
    await streamInto(() => this.upload({ skipExisting: false }), descriptor, open);
  }

  async putBlob(descriptor: Descriptor, open: () => ReadableStream<Uint8Array>, mountFrom?: { registry: string; repository: string }): Promise<void> {
    if (mountFrom?.registry === this.client.registry && mountFrom.repository !== this.repository && (await this.mount(descriptor.digest, mountFrom.repository))) return;
    await this.pushStream(descriptor, open);
  }

  async upload(options: { skipExisting?: boolean } = {}): Promise<BlobUpload> {
    const hasher = await this.options.sha256();
    const held: Uint8Array[] = [];
    let heldBytes = 0;
    let size = 0;
    let session: UploadSession | undefined;
    // The chunk being filled, allocated only once the blob outgrows the in-memory limit.
    let pending = new Uint8Array(0);
    let pendingBytes = 0;
    let done = false;

    const send = async (bytes: Uint8Array) => {
      if (pending.length === 0) pending = new Uint8Array(this.client.chunkSize);
      for (let at = 0; at < bytes.length; ) {
        const take = Math.min(bytes.length - at, pending.length - pendingBytes);
        pending.set(bytes.subarray(at, at + take), pendingBytes);
        pendingBytes += take;
        at += take;
        if (pendingBytes === pending.length) {
          if (!(await session!.patch(pending))) throw new StrataError("REGISTRY", `${this.name} accepts no chunked uploads, and blobs over ${this.bufferLimit} bytes are streamed`);
          pendingBytes = 0;
        }
      }
    };
    return {
      write: async (bytes) => {
        hasher.update(bytes);
        size += bytes.length;
        if (!session && heldBytes + bytes.length <= this.bufferLimit) {
          held.push(bytes.slice());
          heldBytes += bytes.length;
          return;
        }
        if (!session) {
          session = await this.start();
          for (const part of held.splice(0)) await send(part);
        }
        await send(bytes);
      },
      finish: async () => {
        const digest = `sha256:${hex(await hasher.digest())}`;
        if (!session) {
          const bytes = concat(held, heldBytes);
          await this.pushBytes(bytes, digest, options.skipExisting !== false);
        } else if (options.skipExisting !== false && (await this.exists(digest))) {
          await session.cancel();
          this.stats.skipped++;
        } else {
          await session.finish(digest, pending.subarray(0, pendingBytes));
          this.stats.uploaded++;
        }
        done = true;
        return { digest, size };
      },
      abort: async () => {
        if (!done) await session?.cancel();
        done = true;
      },
    };
  }

  async writeBlob(bytes: Uint8Array, mediaType: string, annotations?: Record<string, string>): Promise<Descriptor> {
    const hasher = await this.options.sha256();
    hasher.update(bytes);
    const digest = `sha256:${hex(await hasher.digest())}`;
    if (MANIFEST_TYPES.has(mediaType)) await this.putManifestOnce(bytes, mediaType, digest);
    else await this.pushBytes(bytes, digest);
    return { mediaType, digest, size: bytes.length, ...(annotations ? { annotations } : {}) };
  }

  writeJson(value: unknown, mediaType: string): Promise<Descriptor> {
    return this.writeBlob(utf8.encode(JSON.stringify(value)), mediaType);
  }

  /** Points `tag` at a manifest written before, unless it already points there. */
  async tag(manifest: Descriptor, tag?: string): Promise<void> {
    if (tag === undefined) return;
    const stored = this.manifests.get(manifest.digest);
    if (!stored) throw new StrataError("INVALID_ARGUMENT", `cannot tag ${manifest.digest} in ${this.name}: it was not written through this sink`, { digest: manifest.digest });
    if ((await this.manifestDigest(tag)) === manifest.digest) return;
    await this.putManifest(stored.bytes, stored.mediaType, tag, manifest.digest);
  }

  /** The digest `reference` names in the repository, or undefined. */
  async manifestDigest(reference: string): Promise<string | undefined> {
    const res = await this.client.send({ method: "HEAD", repository: this.repository, path: `manifests/${reference}`, headers: { accept: MANIFEST_ACCEPT }, actions: "pull,push" });
    if (res.status === 404) return undefined;
    if (res.status !== 200) throw await unexpected(res, `HEAD manifest ${reference} in ${this.name}`);
    return res.headers.get("docker-content-digest") ?? undefined;
  }

  private async putManifestOnce(bytes: Uint8Array, mediaType: string, digest: string): Promise<void> {
    this.manifests.set(digest, { bytes, mediaType });
    if ((await this.manifestDigest(digest)) === digest) return;
    await this.putManifest(bytes, mediaType, digest, digest);
    const subject = (JSON.parse(new TextDecoder().decode(bytes)) as { subject?: Descriptor }).subject;
    if (subject && !this.referrersApi) await this.addReferrer(subject, bytes, mediaType, digest);
  }

  /** Set from the OCI-Subject header of the last manifest PUT with a subject. */
  private referrersApi = false;

  private async putManifest(bytes: Uint8Array, mediaType: string, reference: string, digest: string): Promise<void> {
    const res = await this.client.send({ method: "PUT", repository: this.repository, path: `manifests/${reference}`, headers: { "content-type": mediaType }, body: bytes, actions: "pull,push" });
    if (res.status !== 201 && res.status !== 200) throw await unexpected(res, `PUT manifest ${reference} to ${this.name}`);
    await res.body?.cancel();
    this.referrersApi = res.headers.has("oci-subject");
    const stored = res.headers.get("docker-content-digest");
    if (stored && stored !== digest) throw new StrataError("DIGEST_MISMATCH", `${this.name} stored manifest ${reference} as ${stored}, expected ${digest}`, { digest, actual: stored });
    this.stats.manifests++;
  }

  /** Lists a manifest in its subject's referrers tag (the fallback of the OCI distribution spec). */
  private async addReferrer(subject: Descriptor, bytes: Uint8Array, mediaType: string, digest: string): Promise<void> {
    const doc = JSON.parse(new TextDecoder().decode(bytes)) as { artifactType?: string; config?: Descriptor; annotations?: Record<string, string> };
    const entry: Descriptor & { artifactType?: string } = {
      mediaType,
      digest,
      size: bytes.length,
      artifactType: doc.artifactType ?? doc.config?.mediaType,
      ...(doc.annotations ? { annotations: doc.annotations } : {}),
    };
    const tag = `sha256-${subject.digest.slice("sha256:".length)}`;
    const res = await this.client.send({ method: "GET", repository: this.repository, path: `manifests/${tag}`, headers: { accept: MEDIA_TYPES.ociIndex }, actions: "pull,push" });
    let manifests: Descriptor[] = [];
    if (res.status === 200) {
      const index = (await res.json().catch(() => ({}))) as { manifests?: Descriptor[] };
      manifests = Array.isArray(index.manifests) ? index.manifests : [];
    } else if (res.status === 404) {
      await res.body?.cancel();
    } else {
      throw await unexpected(res, `GET referrers tag ${tag} in ${this.name}`);
    }
    if (manifests.some((d) => d.digest === digest)) return;
    const index = utf8.encode(JSON.stringify({ schemaVersion: 2, mediaType: MEDIA_TYPES.ociIndex, manifests: [...manifests, entry] }));
    const hasher = await this.options.sha256();
    hasher.update(index);
    await this.putManifest(index, MEDIA_TYPES.ociIndex, tag, `sha256:${hex(await hasher.digest())}`);
  }

  private async start(): Promise<UploadSession> {
    const res = await this.client.send({ method: "POST", repository: this.repository, path: "blobs/uploads/", actions: "pull,push" });
    const location = res.headers.get("location");
    if (res.status !== 202 || !location) throw await unexpected(res, `starting an upload to ${this.name}`);
    await res.body?.cancel();
    return this.session(location);
  }

  private session(location: string): UploadSession {
    return new UploadSession(this.client, this.repository, this.client.resolve(location), `upload to ${this.name}`);
  }
}

/** One upload: chunks PATCHed in order, resumed from the registry's offset after a failure. */
class UploadSession {
  private offset = 0;

  constructor(
    private readonly client: RegistryClient,
    private readonly repository: string,
    private location: string,
    private readonly what: string,
  ) {}

  /** Sends `chunk` (the caller may reuse it once this resolves); false when the registry takes no PATCH at all. */
  async patch(chunk: Uint8Array): Promise<boolean> {
    const start = this.offset;
    for (let attempt = 1; ; attempt++) {
      const part = chunk.subarray(this.offset - start);
      let failure: unknown;
      try {
        const res = await this.client.send({
          method: "PATCH",
          repository: this.repository,
          path: this.location,
          headers: { "content-type": "application/octet-stream", "content-range": `${this.offset}-${this.offset + part.length - 1}` },
          body: part,
          actions: "pull,push",
          retry: false,
        });
        if (res.status === 202) {
          await res.body?.cancel();
          this.moveTo(res);
          this.offset += part.length;
          return true;
        }
        if ((res.status === 405 || res.status === 501) && this.offset === 0) {
          await res.body?.cancel();
          return false;
        }
        failure = await unexpected(res, `PATCH bytes ${this.offset}.. of ${this.what}`, this.location);
        if (res.status < 500 && res.status !== 429 && res.status !== 416) throw failure;
      } catch (e) {
        if (e instanceof StrataError && e.code !== "NETWORK") throw e;
        failure = e;
      }
      if (attempt >= this.client.retry.attempts) throw failure;
      await this.client.pause(attempt);
      const received = await this.status();
      if (received < start || received > start + chunk.length) {
        throw new StrataError("REGISTRY", `${this.what}: the registry holds ${received} bytes, expected ${start}..${start + chunk.length}`, { offset: received });
      }
      this.offset = received;
      if (received === start + chunk.length) return true;
    }
  }

  /** Completes the upload with its last bytes (maybe none). */
  async finish(digest: string, last: Uint8Array): Promise<void> {
    const sep = this.location.includes("?") ? "&" : "?";
    const res = await this.client.send({
      method: "PUT",
      repository: this.repository,
      path: `${this.location}${sep}digest=${encodeURIComponent(digest)}`,
      headers: { "content-type": "application/octet-stream" },
      body: last,
      actions: "pull,push",
    });
    if (res.status !== 201 && res.status !== 204) {
      const e = await unexpected(res, `completing ${this.what} as ${digest}`, this.location);
      // DIGEST_INVALID: the bytes the registry received do not hash to the digest.
      throw e.message.includes("DIGEST_INVALID") ? new StrataError("DIGEST_MISMATCH", e.message, { ...e.details, digest }) : e;
    }
    await res.body?.cancel();
    const stored = res.headers.get("docker-content-digest");
    if (stored && stored !== digest) throw new StrataError("DIGEST_MISMATCH", `${this.what} was stored as ${stored}, expected ${digest}`, { digest, actual: stored });
  }

  /** Abandons the upload (best effort: the registry also expires it). */
  async cancel(): Promise<void> {
    try {
      const res = await this.client.send({ method: "DELETE", repository: this.repository, path: this.location, actions: "pull,push", retry: false });
      await res.body?.cancel();
    } catch {
      // Nothing to undo: the registry drops abandoned uploads itself.
    }
  }

  /** Bytes the registry has received (from the Range header of GET on the upload). */
  private async status(): Promise<number> {
    const res = await this.client.send({ method: "GET", repository: this.repository, path: this.location, actions: "pull,push" });
    if (res.status !== 204 && res.status !== 200) throw await unexpected(res, `status of ${this.what}`, this.location);
    await res.body?.cancel();
    this.moveTo(res);
    const range = /^(?:bytes=)?0-(\d+)$/.exec(res.headers.get("range") ?? "");
    // "0-0" is both "nothing" and "one byte"; nothing is the safe reading.
    return range && Number(range[1]) > 0 ? Number(range[1]) + 1 : 0;
  }

  private moveTo(res: Response): void {
    const next = res.headers.get("location");
    if (next) this.location = this.client.resolve(next);
  }
}


export interface CopyOptions {
  /** For a registry destination: the source's repository when it is in the same registry (blobs are mounted, not sent). */
  mountFrom?: string;
  /** Blobs copied at once (default: the registry client's jobs, else 1). */
  jobs?: number;
}

/**
 * Copies an image (layers and config as stored, then the manifest) into a sink and tags it. A
 * registry gets only what it lacks; every copied blob is checked against its digest.
 */
export async function copyImage(source: Image, dest: ImageSink, tag: string | undefined, options: CopyOptions = {}): Promise<Descriptor> {
  const manifest = await source.manifest();
  const registry = dest instanceof RegistrySink ? dest : undefined;
  const limiter = new Limiter(options.jobs ?? registry?.client.limiter.limit ?? 1);
  const layers = await source.layers();
  await Promise.all(
    layers.map((layer) =>
      limiter.run(async () => {
        const descriptor = { mediaType: layer.mediaType, digest: layer.digest, size: layer.size };
        if (!registry) return streamInto(() => dest.upload(), descriptor, () => layer.compressed());
        if (options.mountFrom && (await registry.mount(layer.digest, options.mountFrom))) return;
        await registry.pushStream(descriptor, () => layer.compressed());
      }),
    ),
  );
  await dest.writeBlob(await source.rawConfig(), manifest.config.mediaType);
  const descriptor = await dest.writeBlob(await source.rawManifest(), manifest.mediaType ?? MEDIA_TYPES.ociManifest);
  await dest.tag(descriptor, tag);
  return descriptor;
}

/** Streams a blob of known digest into a new upload, failing (and aborting it) unless the digest matches. */
async function streamInto(start: () => Promise<BlobUpload>, descriptor: Descriptor, open: () => ReadableStream<Uint8Array>): Promise<void> {
  const upload = await start();
  try {
    for await (const part of chunks(open())) await upload.write(part);
    const { digest } = await upload.finish();
    if (digest !== descriptor.digest) throw new StrataError("DIGEST_MISMATCH", `copied blob has digest ${digest}, expected ${descriptor.digest}`, { digest: descriptor.digest, actual: digest });
  } catch (e) {
    await upload.abort();
    throw e;
  }
}
