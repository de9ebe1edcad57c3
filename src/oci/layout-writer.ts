/**
 * Writes images into an OCI image layout directory. Blobs are content-addressed: each is written
 * under a temporary name, hashed as it streams, and renamed to blobs/sha256/<digest> only when
 * complete. index.json is replaced last, in one rename, so an interrupted write never leaves a
 * tag pointing at a partial image (only unreferenced blobs, which are complete by construction).
 */
import { StrataError } from "../errors.js";
import type { FilesPort, OutputPort, PendingFile } from "../ports.js";
import type { Hasher } from "../kernels/kernel.js";
import type { StreamingSha256 } from "../kernels/sha256.js";
import { MEDIA_TYPES, type Descriptor, type ImageIndexManifest } from "./types.js";
import { hex } from "./verify.js";

const REF_NAME = "org.opencontainers.image.ref.name";
/** Bytes gathered before one write to the destination. */
const WRITE_BUFFER = 4 << 20;
const utf8 = new TextEncoder();

/** A blob being streamed into the layout. */
export interface BlobUpload {
  write(bytes: Uint8Array): Promise<void>;
  /** Renames the blob to its digest and returns {digest, size}. */
  finish(): Promise<{ digest: string; size: number }>;
  abort(): Promise<void>;
}

/** A SHA-256 stream: a StreamingSha256, or a kernel Hasher (init/update/final). */
type AnySha256 = StreamingSha256 | Pick<Hasher, "init" | "update" | "final">;

export interface LayoutHashers {
  sha256(): Promise<AnySha256>;
}

function streaming(h: AnySha256): StreamingSha256 {
  if (!("final" in h)) return h;
  h.init();
  return { update: (data) => void h.update(data), digest: async () => h.final() };
}

export class LayoutWriter {
  private constructor(
    private readonly dir: string,
    private readonly output: OutputPort,
    private readonly files: FilesPort,
    private readonly hashers: LayoutHashers,
  ) {}

  /** `hashers.sha256` makes the hashers that name blobs (createStreamingSha256 prefers the runtime's native one). */
  static async open(dir: string, output: OutputPort, files: FilesPort, hashers: LayoutHashers): Promise<LayoutWriter> {
    const writer = new LayoutWriter(dir.replace(/\/+$/, "") || "/", output, files, hashers);
    await output.mkdir(`${writer.dir}/blobs/sha256`);
    if (!(await files.stat(`${writer.dir}/oci-layout`))) {
      await writer.writeFile(`${writer.dir}/oci-layout`, utf8.encode(JSON.stringify({ imageLayoutVersion: "1.0.0" })));
    }
    return writer;
  }

  /** Starts streaming a blob of unknown digest. Small writes are coalesced into large ones. */
  async upload(): Promise<BlobUpload> {
    const pending = await this.output.create(`${this.dir}/blobs/sha256/upload`);
    const hasher = streaming(await this.hashers.sha256());
    const buffer = new Uint8Array(WRITE_BUFFER);
    let buffered = 0;
    let size = 0;
    const flush = async () => {
      if (buffered === 0) return;
      hasher.update(buffer.subarray(0, buffered));
      // Awaited before the buffer refills: no copy (PendingFile.write's contract).
      await pending.write(buffer.subarray(0, buffered));
      buffered = 0;
    };
    return {
      write: async (bytes) => {
        size += bytes.length;
        if (buffered + bytes.length > WRITE_BUFFER) await flush();
        if (bytes.length >= WRITE_BUFFER) {
          hasher.update(bytes);
          await pending.write(bytes);
          return;
        }
        buffer.set(bytes, buffered);
        buffered += bytes.length;
      },
      finish: async () => {
        await flush();
        const digest = `sha256:${hex(await hasher.digest())}`;
        await pending.commit(this.blobPath(digest));
        return { digest, size };
      },
      abort: () => pending.abort(),
    };
  }

  /** Writes a whole blob and returns its descriptor. */
  async writeBlob(bytes: Uint8Array, mediaType: string, annotations?: Record<string, string>): Promise<Descriptor> {
    const upload = await this.upload();
    try {
      await upload.write(bytes);
      const { digest, size } = await upload.finish();
      return { mediaType, digest, size, ...(annotations ? { annotations } : {}) };
    } catch (e) {
      await upload.abort();
      throw e;
    }
  }

  /** Writes a JSON document (manifest, config, index) as a blob, with canonical key order as given. */
  writeJson(value: unknown, mediaType: string): Promise<Descriptor> {
    return this.writeBlob(utf8.encode(JSON.stringify(value)), mediaType);
  }

  /** Points `tag` (or, without one, an untagged entry) at `manifest` in index.json, replacing an older entry of the same tag. */
  async tag(manifest: Descriptor, tag?: string): Promise<void> {
    const path = `${this.dir}/index.json`;
    let index: ImageIndexManifest = { schemaVersion: 2, mediaType: MEDIA_TYPES.ociIndex, manifests: [] };
    if (await this.files.stat(path)) {
      try {
        index = JSON.parse(new TextDecoder().decode(await this.files.readFile(path))) as ImageIndexManifest;
      } catch (cause) {
        throw new StrataError("BAD_MANIFEST", `${path} is not valid JSON`, { path }, { cause });
      }
      if (!Array.isArray(index.manifests)) throw new StrataError("BAD_MANIFEST", `${path} has no manifests array`, { path });
    }
    const entry: Descriptor = tag ? { ...manifest, annotations: { ...manifest.annotations, [REF_NAME]: tag } } : manifest;
    index.manifests = index.manifests.filter((d) => (tag ? d.annotations?.[REF_NAME] !== tag : d.digest !== manifest.digest));
    index.manifests.push(entry);
    await this.writeFile(path, utf8.encode(JSON.stringify(index)));
  }

  blobPath(digest: string): string {
    return `${this.dir}/blobs/sha256/${digest.slice("sha256:".length)}`;
  }

  private async writeFile(path: string, bytes: Uint8Array): Promise<void> {
    const pending: PendingFile = await this.output.create(path);
    try {
      await pending.write(bytes);
      await pending.commit();
    } catch (e) {
      await pending.abort();
      throw e;
    }
  }
}
