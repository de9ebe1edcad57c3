/**
 * `docker save` archives (docker-archive:FILE[:REF|:@N]): manifest.json lists, per image, its
 * config member and layer members (legacy `<id>/layer.tar` symlinks are followed). The image is
 * presented as a Docker schema 2 manifest built from those members.
 */
import { StrataError } from "../errors.js";
import type { FilesPort } from "../ports.js";
import { ArchiveIndex } from "./archive.js";
import { chunks } from "./blob.js";
import { sniffCompression, type OciKernels } from "./decompress.js";
import { MAX_JSON_BLOB, parseConfig } from "./image.js";
import { storedLayer } from "./layer.js";
import { MEDIA_TYPES, type Compression, type Image, type ImageConfig, type ImageManifest, type Layer } from "./types.js";
import { hex, sha256Digest } from "./verify.js";

export interface DockerArchiveOptions {
  kernels: OciKernels;
  /** A RepoTags entry ("name:tag", Docker Hub names may be short). */
  tag?: string;
  /** Position in manifest.json. */
  index?: number;
}

interface SaveEntry {
  Config: string;
  RepoTags?: string[] | null;
  Layers: string[];
}

const LAYER_TYPES: Record<Compression, string> = {
  none: MEDIA_TYPES.dockerLayer,
  gzip: MEDIA_TYPES.dockerLayerGzip,
  zstd: MEDIA_TYPES.ociLayerZstd,
};

/** Docker's reference normalisation: "busybox" → "docker.io/library/busybox:latest". */
export function normalizeDockerRef(ref: string): string {
  let name = ref;
  let tag = "";
  const at = name.indexOf("@");
  if (at >= 0) {
    tag = name.slice(at);
    name = name.slice(0, at);
  } else {
    const colon = name.lastIndexOf(":");
    if (colon > name.lastIndexOf("/")) {
      tag = name.slice(colon);
      name = name.slice(0, colon);
    } else tag = ":latest";
  }
  const first = name.split("/")[0]!;
  const hasRegistry = name.includes("/") && (first.includes(".") || first.includes(":") || first === "localhost");
  if (!hasRegistry) name = `docker.io/${name}`;
  if (name.startsWith("docker.io/") && name.split("/").length === 2) name = `docker.io/library/${name.slice("docker.io/".length)}`;
  return name + tag;
}

function parseSaveManifest(bytes: Uint8Array, where: string): SaveEntry[] {
  let doc: unknown;
  try {
    doc = JSON.parse(new TextDecoder().decode(bytes));
  } catch (e) {
    throw new StrataError("BAD_MANIFEST", `${where}/manifest.json is not valid JSON (${(e as Error).message})`);
  }
  if (!Array.isArray(doc) || doc.length === 0) throw new StrataError("BAD_MANIFEST", `${where}/manifest.json is not a non-empty array`);
  for (const [i, e] of doc.entries()) {
    if (typeof e?.Config !== "string" || !Array.isArray(e.Layers) || !e.Layers.every((l: unknown) => typeof l === "string")) {
      throw new StrataError("BAD_MANIFEST", `${where}/manifest.json entry ${i} needs Config and Layers`);
    }
  }
  return doc as SaveEntry[];
}

export async function openDockerArchive(files: FilesPort, file: string, options: DockerArchiveOptions): Promise<Image> {
  const where = `docker-archive:${file}`;
  const archive = await ArchiveIndex.open(files, file);
  if (!archive.has("manifest.json")) {
    throw new StrataError("UNSUPPORTED", `${where} has no manifest.json (pre-1.10 docker save layout is not supported)`, { path: file });
  }
  const small = async (member: string) => {
    const range = archive.member(member);
    if (range.size > MAX_JSON_BLOB) throw new StrataError("BAD_MANIFEST", `${member} in ${where} is too large`);
    return range.read(0, range.size);
  };
  const entries = parseSaveManifest(await small("manifest.json"), where);
  const entry = pick(entries, options, where);
  const rawConfig = await small(entry.Config);
  const config = parseConfig(rawConfig, `${where} config ${entry.Config}`, entry.Layers.length);
  const configDigest = await sha256Digest(options.kernels, rawConfig);
  const warnings: string[] = [];

  const layers: Layer[] = await Promise.all(
    entry.Layers.map(async (member, index) => {
      const blob = archive.member(member);
      const diffId = config.rootfs.diff_ids[index]!;
      const compression = sniffCompression(await blob.read(0, 4));
      // An uncompressed layer's digest is its diff_id; a compressed one must be hashed once.
      const digest = compression === "none" ? diffId : await digestOf(options.kernels, blob.stream());
      return storedLayer({ kernels: options.kernels, blob, descriptor: { mediaType: LAYER_TYPES[compression], digest, size: blob.size }, diffId, index, warnings });
    }),
  );

  const manifest: ImageManifest = {
    schemaVersion: 2,
    mediaType: MEDIA_TYPES.dockerManifest,
    config: { mediaType: MEDIA_TYPES.dockerConfig, digest: configDigest, size: rawConfig.length },
    layers: layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
  };
  const manifestBytes = new TextEncoder().encode(JSON.stringify(manifest));
  return {
    warnings,
    digest: () => sha256Digest(options.kernels, manifestBytes),
    manifest: async () => manifest,
    rawManifest: async () => manifestBytes,
    rawConfig: async () => rawConfig,
    config: async (): Promise<ImageConfig> => config,
    layers: async () => layers,
  };
}

function pick(entries: SaveEntry[], options: DockerArchiveOptions, where: string): SaveEntry {
  const tags = entries.flatMap((e) => e.RepoTags ?? []);
  if (options.index !== undefined) {
    const e = entries[options.index];
    if (!e) throw new StrataError("NOT_FOUND", `${where} has ${entries.length} images, no @${options.index}`, { count: entries.length });
    return e;
  }
  if (options.tag !== undefined) {
    const want = normalizeDockerRef(options.tag);
    const e = entries.find((x) => (x.RepoTags ?? []).some((t) => normalizeDockerRef(t) === want));
    if (!e) throw new StrataError("NOT_FOUND", `${where} has no image tagged ${options.tag}; tags: ${tags.join(", ") || "none"}`, { tag: options.tag, tags });
    return e;
  }
  if (entries.length !== 1) {
    throw new StrataError("BAD_REFERENCE", `${where} holds ${entries.length} images: name one with :REF or :@N; tags: ${tags.join(", ") || "none"}`, { tags });
  }
  return entries[0]!;
}

async function digestOf(kernels: OciKernels, stream: ReadableStream<Uint8Array>): Promise<string> {
  const h = (await kernels.sha256()).init();
  for await (const c of chunks(stream)) h.update(c);
  return `sha256:${hex(h.final())}`;
}
