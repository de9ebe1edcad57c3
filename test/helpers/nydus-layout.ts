// Reads a Nydus image that strata wrote into an OCI layout back into memory, for tests.
import { gunzipSync } from "node:zlib";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseBootstrap } from "../../src/rafs/bootstrap.js";
import { readTar } from "../../src/tar/reader.js";
import { Annotation, BOOTSTRAP_PATH_IN_LAYER, MediaType } from "../../src/rafs/layout.js";
import type { RafsImage } from "../../src/rafs/types.js";
import type { Descriptor, ImageManifest } from "../../src/oci/types.js";

export interface NydusLayout {
  manifestDigest: string;
  manifest: ImageManifest;
  config: { rootfs: { diff_ids: string[] }; history?: unknown[] };
  bootstrap: Uint8Array;
  image: RafsImage;
  blobs: Map<string, Uint8Array>;
}

const blob = (dir: string, digest: string) => new Uint8Array(readFileSync(join(dir, "blobs/sha256", digest.slice(7))));

export async function readNydusLayout(dir: string, tag = "latest"): Promise<NydusLayout> {
  const index = JSON.parse(readFileSync(join(dir, "index.json"), "utf8")) as { manifests: Descriptor[] };
  const entry = index.manifests.find((d) => d.annotations?.["org.opencontainers.image.ref.name"] === tag)!;
  const manifest = JSON.parse(new TextDecoder().decode(blob(dir, entry.digest))) as ImageManifest;
  const config = JSON.parse(new TextDecoder().decode(blob(dir, manifest.config.digest)));
  const last = manifest.layers.at(-1)!;
  if (last.annotations?.[Annotation.NYDUS_BOOTSTRAP] !== "true") throw new Error("last layer is not a Nydus bootstrap");
  let bootstrap: Uint8Array | undefined;
  for await (const e of readTar(new Uint8Array(gunzipSync(blob(dir, last.digest))))) {
    if (e.path === BOOTSTRAP_PATH_IN_LAYER) bootstrap = await e.bytes();
  }
  const blobs = new Map<string, Uint8Array>();
  for (const l of manifest.layers.slice(0, -1)) {
    if (l.mediaType !== MediaType.NYDUS_BLOB) throw new Error(`layer ${l.digest} is not a Nydus blob`);
    blobs.set(l.digest.slice(7), blob(dir, l.digest));
  }
  return { manifestDigest: entry.digest, manifest, config, bootstrap: bootstrap!, image: parseBootstrap(bootstrap!), blobs };
}
