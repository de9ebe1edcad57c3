/**
 * A Nydus image back to an OCI v1 image: one tar+gzip layer holding the flattened tree, and the
 * config with its rootfs and history rewritten for that one layer. The tar is deterministic:
 * entries in tree order (depth first, names sorted by bytes), hardlinks as tar links to the
 * first path of their inode, xattrs as PAX SCHILY.xattr.* records, no user or group names.
 * Every chunk is verified as it is read. Blobs go through the LayoutWriter (temporary names,
 * index.json last), so a failed export leaves no tag pointing at a partial image.
 */
import { devMajor, devMinor } from "../fs/inode.js";
import type { StreamingSha256 } from "../kernels/sha256.js";
import { blobSet, requireRafs, type NydusImage } from "../nydus/image.js";
import { chunks } from "../oci/blob.js";
import type { LayoutWriter } from "../oci/layout-writer.js";
import { MEDIA_TYPES, type Descriptor, type ImageConfig, type ImageManifest } from "../oci/types.js";
import { hex } from "../oci/verify.js";
import { readFileStream, type RafsKernels } from "../rafs/read.js";
import { StrataError } from "../errors.js";
import { tarEnd, tarHeader, tarPadding, type TarWriteHeader } from "../tar/writer.js";
import { planTree, showPath, type PlannedEntry } from "../unpack/plan.js";
import { defaultGzipMode, gzipStream, type GzipMode } from "./gzip.js";

export interface ExportKernels {
  rafs: RafsKernels;
  /** A SHA-256 stream for the layer's diff_id. */
  sha256(): Promise<StreamingSha256>;
}

export interface ExportOptions {
  /** Default: "native" where CompressionStream exists (see ./gzip.ts). */
  gzip?: GzipMode;
}

export interface ExportResult {
  manifest: Descriptor;
  config: Descriptor;
  layer: Descriptor;
  diffId: string;
  /** Tar entries written. */
  entries: number;
  /** Paths a tar cannot hold (sockets). */
  skipped: string[];
}

/** History entries that describe the Nydus bootstrap layer, dropped on export. */
const BOOTSTRAP_HISTORY_COMMENT = "Nydus Bootstrap Layer";

export async function exportImage(image: NydusImage, dest: LayoutWriter, tag: string | undefined, kernels: ExportKernels, options: ExportOptions = {}): Promise<ExportResult> {
  const rafs = requireRafs(image);
  const problem = image.bootstrapProblems[0];
  if (problem) throw new StrataError("BAD_BOOTSTRAP", `${image.name}: the bootstrap is damaged: ${problem.message}`, { ...problem });
  const plan = planTree(rafs.root);
  const blobs = blobSet(image, kernels.rafs);
  const skipped = plan.filter((e) => e.kind === "socket" && !e.linkOf).map((e) => showPath(e.path));
  const skippedSet = new Set(skipped);
  const entries = plan.filter((e) => e.kind !== "socket" && !(e.linkOf && skippedSet.has(showPath(e.linkOf))));

  async function* tar(): AsyncGenerator<Uint8Array> {
    for (const e of entries) {
      yield tarHeader(header(e));
      if (e.kind !== "file" || e.linkOf) continue;
      let size = 0;
      for await (const piece of chunks(readFileStream(rafs, showPath(e.path), blobs, kernels.rafs))) {
        size += piece.length;
        yield piece;
      }
      if (size !== e.inode.size) throw new StrataError("BAD_BOOTSTRAP", `${showPath(e.path)}: ${size} bytes of content, the inode says ${e.inode.size}`, { path: showPath(e.path) });
      yield tarPadding(size);
    }
    yield tarEnd();
  }

  const diffSha = await kernels.sha256();
  const source = tar();
  const tarStream = new ReadableStream<Uint8Array>({
    async pull(controller) {
      const next = await source.next();
      if (next.done) return controller.close();
      diffSha.update(next.value);
      controller.enqueue(next.value);
    },
    async cancel() {
      await source.return(undefined);
    },
  });
  const upload = await dest.upload();
  let stored: { digest: string; size: number };
  try {
    for await (const bytes of chunks(tarStream.pipeThrough(gzipStream(options.gzip ?? defaultGzipMode())))) await upload.write(bytes);
    stored = await upload.finish();
  } catch (e) {
    await upload.abort();
    throw e;
  }
  const diffId = `sha256:${hex(await diffSha.digest())}`;
  const layer: Descriptor = { mediaType: MEDIA_TYPES.ociLayerGzip, digest: stored.digest, size: stored.size };

  const config = exportedConfig(image.oci ? await image.oci.image.config() : undefined, diffId);
  const configDesc = await dest.writeJson(config, MEDIA_TYPES.ociConfig);
  const manifest: ImageManifest = { schemaVersion: 2, mediaType: MEDIA_TYPES.ociManifest, config: configDesc, layers: [layer] };
  const manifestDesc = await dest.writeJson(manifest, MEDIA_TYPES.ociManifest);
  await dest.tag(manifestDesc, tag);
  return { manifest: manifestDesc, config: configDesc, layer, diffId, entries: entries.length, skipped };
}

/** The tar header of one planned entry: "./" for the root, "a/b/" for directories. */
function header(e: PlannedEntry): TarWriteHeader {
  const name = e.path.join("/");
  const inode = e.inode;
  const common = { mode: inode.mode & 0o7777, uid: inode.uid, gid: inode.gid, mtime: inode.mtime, mtimeNsec: inode.mtimeNsec, xattrs: inode.xattrs };
  if (e.linkOf) return { path: name, type: "hardlink", linkname: e.linkOf.join("/"), ...common };
  switch (e.kind) {
    case "dir":
      return { path: name === "" ? "./" : `${name}/`, type: "dir", ...common };
    case "file":
      return { path: name, type: "file", size: inode.size, ...common };
    case "symlink":
      return { path: name, type: "symlink", linkname: inode.target!, ...common };
    case "chardev":
    case "blockdev":
      return { path: name, type: e.kind, devmajor: devMajor(inode.rdev), devminor: devMinor(inode.rdev), ...common };
    case "fifo":
      return { path: name, type: "fifo", ...common };
    case "socket":
      throw new StrataError("UNSUPPORTED", `${showPath(e.path)}: a tar cannot hold a socket`);
  }
}

/**
 * The Nydus image's config for one flattened layer: rootfs.diff_ids is that layer, the earlier
 * history entries are kept as empty layers (the bootstrap's own entry is dropped) and one entry
 * for the export is appended. A bare bootstrap has no config: a minimal linux/amd64 one is made.
 */
function exportedConfig(source: ImageConfig | undefined, diffId: string): ImageConfig {
  const base: ImageConfig = source ?? { architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: [] }, config: {} };
  const history = (Array.isArray(base.history) ? (base.history as Record<string, unknown>[]) : [])
    .filter((h) => h?.comment !== BOOTSTRAP_HISTORY_COMMENT)
    .map((h) => ({ ...h, empty_layer: true }));
  return {
    ...base,
    rootfs: { type: "layers", diff_ids: [diffId] },
    history: [...history, { created_by: "strata export", comment: "flattened from a Nydus image" }],
  };
}
