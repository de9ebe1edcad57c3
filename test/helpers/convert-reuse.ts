// Conversions with chunk dictionaries and the layer cache, and the checks their images must pass:
// strata verify, the tree read back through verified chunk reads, fsck.erofs extraction.
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { nodeCacheDir } from "../../runtimes/node/cache-dir.js";
import { nodeFilesPort } from "../../runtimes/node/files.js";
import { nodeOutput } from "../../runtimes/node/output.js";
import { openChunkDictionaries } from "../../src/convert/chunk-dict.js";
import { convert, type ConvertResult } from "../../src/convert/convert.js";
import { LayerCache } from "../../src/convert/layer-cache.js";
import { resolveOptions, type ConvertOptions } from "../../src/convert/options.js";
import { chunkCodecFor, hasherFor, rafsKernels } from "../../src/kernels/index.js";
import { createSha256, createStreamingSha256 } from "../../src/kernels/sha256.js";
import { openNydus } from "../../src/nydus/image.js";
import { verifyNydusImage, type VerifyReport } from "../../src/nydus/verify.js";
import { inspectImage, listTree, type InspectEntry } from "../../src/oci/inspect.js";
import { ociKernels } from "../../src/oci/kernels.js";
import { LayoutWriter } from "../../src/oci/layout-writer.js";
import type { Image } from "../../src/oci/types.js";
import type { Ports } from "../../src/ports.js";
import { bytesSource, openBlob } from "../../src/rafs/blob-reader.js";
import { readFile } from "../../src/rafs/read.js";
import type { RafsInode } from "../../src/rafs/types.js";
import { extractWithFsck, hasErofsUtils, type DiskEntry } from "./erofs.js";
import { ports as kernelPorts } from "./kernels.js";
import { readNydusLayout, type NydusLayout } from "./nydus-layout.js";

export const files = nodeFilesPort();
/** Kernels plus Node's files, as the CLI has them. */
export const ports: Ports = { ...kernelPorts, files, output: nodeOutput, cacheDir: nodeCacheDir };
export const rafs = await rafsKernels(ports);
export const CORPUS = process.env.STRATA_CORPUS ?? "/tmp/corpus";
export const corpusImage = (name: string) => join(CORPUS, "images", name);
export const hasCorpus = (...names: string[]) => names.every((n) => existsSync(corpusImage(n)));

export interface ReuseOptions extends ConvertOptions {
  /** Sources of chunk dictionaries, as --chunk-dict takes them. */
  dicts?: string[];
  cacheDir?: string;
}

/** Converts `source` into the layout `dir` under tag "latest", as `strata convert` does. */
export async function convertInto(source: Image, dir: string, options: ReuseOptions = {}): Promise<ConvertResult> {
  const { dicts = [], cacheDir, ...convertOptions } = options;
  const resolved = resolveOptions(convertOptions, ["none", "lz4_block", "zstd"], "zstd");
  const [digester, sha256, codec] = await Promise.all([hasherFor(ports, resolved.digester), createSha256(ports), chunkCodecFor(ports, resolved.compressor)]);
  const dictionaries = await openChunkDictionaries(ports, dicts, resolved, sha256);
  const cache = cacheDir === undefined ? undefined : new LayerCache(cacheDir, { files, output: nodeOutput, sha256, dirs: nodeCacheDir, streamingSha256: () => createStreamingSha256(ports) });
  const dest = await LayoutWriter.open(dir, nodeOutput, files, { sha256: () => createStreamingSha256(ports) });
  return convert(source, dest, "latest", { digester, sha256, codec, streamingSha256: () => createStreamingSha256(ports) }, resolved, { dictionaries, cache });
}

/** strata verify on the image tagged "latest" in `dir`. */
export async function verifyLayout(dir: string): Promise<VerifyReport> {
  const image = await openNydus(ports, `oci:${dir}:latest`, { kernels: ociKernels(ports) });
  return verifyNydusImage(image, rafs);
}

/** The converted tree as listing rows, content hashed through verified chunk reads. */
export async function convertedListing(out: NydusLayout): Promise<InspectEntry[]> {
  const blobs = new Map(await Promise.all(out.image.blobs.map(async (info) => [info.blobId, await openBlob(bytesSource(out.blobs.get(info.blobId)!), { info })] as const)));
  const digests = new Map<RafsInode, string>();
  const visit = async (inode: RafsInode, path: string) => {
    if (inode.chunks && !digests.has(inode)) digests.set(inode, createHash("sha256").update(await readFile(out.image, path, blobs, rafs)).digest("hex"));
    for (const [name, child] of inode.entries ?? []) await visit(child, path === "/" ? `/${name}` : `${path}/${name}`);
  };
  await visit(out.image.root, "/");
  return listTree(out.image.root, digests);
}

/**
 * Listing rows as fsck.erofs extraction shows them: setuid/setgid are not compared on disk
 * (chown after chmod clears them, and new directories inherit a parent's setgid).
 */
export function asDisk(rows: InspectEntry[]): DiskEntry[] {
  return rows
    .map((r) => ({
      path: r.path,
      type: r.type,
      mode: r.mode & ~0o6000,
      uid: r.uid,
      gid: r.gid,
      size: r.type === "file" || r.type === "symlink" ? r.size : 0,
      ...(r.sha256 !== undefined ? { sha256: r.sha256 } : {}),
      ...(r.target !== undefined ? { target: r.target } : {}),
    }))
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

const strip = (rows: InspectEntry[]) => rows.map(({ linkTo: _l, ...r }) => r);

/**
 * What a converted image must equal: the source's flattened tree, read by strata through
 * verified chunk reads, and (where erofs-utils exist) extracted by fsck.erofs.
 */
export async function sameTree(source: Image, dir: string): Promise<{ strata: [unknown, unknown]; fsck?: [unknown, unknown] }> {
  const expected = await inspectImage(source, ociKernels(ports));
  const out = await readNydusLayout(dir);
  const strata: [unknown, unknown] = [strip(await convertedListing(out)), strip(expected)];
  if (!hasErofsUtils) return { strata };
  const disk = (await extractWithFsck(out.bootstrap, out.image, out.blobs, rafs)).map((r) => ({ ...r, mode: r.mode & ~0o6000 }));
  return { strata, fsck: [disk, asDisk(expected)] };
}
