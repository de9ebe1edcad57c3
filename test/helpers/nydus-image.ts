// Small Nydus OCI layouts in memory for the verify tests, packaged the way nydusify does (blob
// layers, then a tar+gzip layer with image/image.boot and the bootstrap annotations).
import { createHash } from "node:crypto";
import { gzipSync } from "node:zlib";
import { Annotation, BOOTSTRAP_PATH_IN_LAYER, MediaType } from "../../src/rafs/layout.js";
import { MEDIA_TYPES } from "../../src/oci/types.js";
import { writeTar } from "../../src/tar/writer.js";

const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
const json = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));

export interface NydusLayout {
  /** Layout files by path relative to its root: oci-layout, index.json, blobs/sha256/... */
  files: Map<string, Uint8Array>;
  /** The bootstrap layer's path in `files`, and the blob layers' by blob id. */
  bootstrapPath: string;
  blobPaths: Map<string, string>;
}

/** The tar+gzip bootstrap layer holding `bootstrap` as image/image.boot. */
export function bootstrapLayer(bootstrap: Uint8Array): { tar: Uint8Array; gz: Uint8Array } {
  const tar = writeTar([
    { path: "image", type: "dir", mode: 0o755 },
    { path: BOOTSTRAP_PATH_IN_LAYER, type: "file", mode: 0o444, data: bootstrap },
  ]);
  return { tar, gz: new Uint8Array(gzipSync(tar)) };
}

/** An OCI layout of a Nydus image: `blobs` are the stored blobs, in blob-table order. */
export function nydusLayout(bootstrap: Uint8Array, blobs: readonly Uint8Array[]): NydusLayout {
  const files = new Map<string, Uint8Array>();
  const put = (bytes: Uint8Array) => {
    const digest = sha256(bytes);
    files.set(`blobs/sha256/${digest}`, bytes);
    return { digest: `sha256:${digest}`, size: bytes.length };
  };
  const blobPaths = new Map<string, string>();
  const layers = blobs.map((blob) => {
    const d = put(blob);
    blobPaths.set(d.digest.slice(7), `blobs/sha256/${d.digest.slice(7)}`);
    return { mediaType: MediaType.NYDUS_BLOB, ...d, annotations: { [Annotation.NYDUS_BLOB]: "true" } };
  });
  const { tar, gz } = bootstrapLayer(bootstrap);
  const boot = put(gz);
  layers.push({
    mediaType: MediaType.OCI_LAYER_GZIP,
    ...boot,
    annotations: { [Annotation.NYDUS_BOOTSTRAP]: "true", [Annotation.NYDUS_FS_VERSION]: "6" } as Record<string, string>,
  } as (typeof layers)[number]);
  const config = put(
    json({ architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: [...layers.slice(0, -1).map((l) => l.digest), `sha256:${sha256(tar)}`] } }),
  );
  const manifest = put(json({ schemaVersion: 2, mediaType: MEDIA_TYPES.ociManifest, config: { mediaType: MEDIA_TYPES.ociConfig, ...config }, layers }));
  files.set("oci-layout", json({ imageLayoutVersion: "1.0.0" }));
  files.set("index.json", json({ schemaVersion: 2, manifests: [{ mediaType: MEDIA_TYPES.ociManifest, ...manifest, annotations: { "org.opencontainers.image.ref.name": "latest" } }] }));
  return { files, bootstrapPath: `blobs/sha256/${boot.digest.slice(7)}`, blobPaths };
}

/**
 * The upstream v6 fixture with its blob renamed to the blob's real sha256 (its stored id differs,
 * see the fixtures README): every occurrence of the old id in the bootstrap (device slot and blob
 * table) is rewritten, nothing else changes.
 */
export function renameBlobId(bootstrap: Uint8Array, oldId: string, newId: string): Uint8Array {
  const out = bootstrap.slice();
  const from = new TextEncoder().encode(oldId);
  const to = new TextEncoder().encode(newId);
  let replaced = 0;
  for (let i = 0; i + from.length <= out.length; i++) {
    if (from.every((b, j) => out[i + j] === b)) {
      out.set(to, i);
      replaced++;
    }
  }
  if (replaced === 0) throw new Error(`blob id ${oldId} not found in the bootstrap`);
  return out;
}
