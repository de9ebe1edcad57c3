/**
 * `strata dedup`: how much of a set of OCI images is the same content, cut at different
 * granularities, and what that means for bytes stored in a registry and moved to a client.
 *
 * Content is measured on each image's merged tree (what a container sees), every path counted as
 * `find` would: whole files, fixed chunks of each power of two from 4 KiB to 4 MiB (how RAFS cuts
 * files: every file starts a new chunk), and FastCDC chunks of each file. Unique bytes count each
 * distinct chunk (digest and length) once across all images.
 *
 * Storage is measured on real images: the OCI originals as stored, strata's conversions of each
 * image on its own, and strata's conversions where each image uses the ones before it as chunk
 * dictionaries. A registry stores every distinct blob once; a client that pulls the images in
 * order fetches the blobs it does not hold yet.
 */
import { openChunkDictionaries } from "../convert/chunk-dict.js";
import { convert } from "../convert/convert.js";
import { resolveOptions, type ConvertOptions } from "../convert/options.js";
import { walk, type Inode } from "../fs/inode.js";
import { createFastCdc, type FastCdcOptions } from "../kernels/chunker.js";
import { chunkCodecFor, hasherFor } from "../kernels/index.js";
import type { Hasher } from "../kernels/kernel.js";
import { createSha256, createStreamingSha256 } from "../kernels/sha256.js";
import { flatten } from "../oci/flatten.js";
import { ociKernels } from "../oci/kernels.js";
import { LayoutWriter } from "../oci/layout-writer.js";
import { openImage } from "../oci/open.js";
import type { Descriptor, Image, ImageManifest } from "../oci/types.js";
import type { Ports } from "../ports.js";
import { memoryFiles } from "../ports-memory.js";

/** 4 KiB, 8 KiB, ... 4 MiB. */
export const FIXED_SIZES: readonly number[] = Array.from({ length: 11 }, (_, i) => 4096 << i);

export interface DedupOptions {
  fixedSizes?: readonly number[];
  fastCdc?: FastCdcOptions;
  /** Convert the images (with and without dictionaries) to measure strata's storage; default true. */
  strata?: boolean;
  /** Settings of those conversions (default: strata convert's). */
  convert?: ConvertOptions;
}

/** Content cut one way: totals over all images and what each image adds to the ones before. */
export interface ContentRow {
  /** "file", "fixed", "fastcdc". */
  method: "file" | "fixed" | "fastcdc";
  /** Fixed: the chunk size. FastCDC: the average it aims at. */
  chunkSize?: number;
  pieces: number;
  uniquePieces: number;
  totalBytes: number;
  uniqueBytes: number;
  /** Per image, in order: bytes of pieces not in any image before it. */
  newBytes: number[];
}

/** One way of storing the images. */
export interface StorageRow {
  format: "oci" | "strata" | "strata+dict";
  /** Every distinct blob (layers, configs, manifests) once. */
  registryBytes: number;
  /** Per image, pulled in order by one client: bytes of the blobs it did not hold yet. */
  transferBytes: number[];
}

export interface DedupReport {
  images: string[];
  /** Bytes of regular files per image (paths counted as `find` does). */
  imageBytes: number[];
  content: ContentRow[];
  storage: StorageRow[];
}

/** Pieces of one file: a key and a length each. */
interface Cut {
  keys: string[];
  lengths: number[];
}

export async function analyzeDedup(ports: Ports, sources: readonly string[], options: DedupOptions = {}): Promise<DedupReport> {
  const fixedSizes = options.fixedSizes ?? FIXED_SIZES;
  const blake3 = await hasherFor(ports, "blake3");
  const cdc = await createFastCdc(ports, options.fastCdc);
  const cdcAverage = options.fastCdc?.avgSize ?? 64 << 10;
  const methods: { method: ContentRow["method"]; chunkSize?: number; cut: (body: Uint8Array) => Cut }[] = [
    { method: "file", cut: (body) => ({ keys: [key(blake3.digest(body), 0)], lengths: [body.length] }) },
    ...fixedSizes.map((size) => ({ method: "fixed" as const, chunkSize: size, cut: (body: Uint8Array) => digestPieces(blake3, body, fixedLengths(body.length, size)) })),
    {
      method: "fastcdc",
      chunkSize: cdcAverage,
      cut: (body) => {
        const lengths: number[] = [];
        cdc.init((n) => lengths.push(n));
        cdc.update(body);
        cdc.final();
        return digestPieces(blake3, body, lengths);
      },
    },
  ];
  const rows: ContentRow[] = methods.map(({ method, chunkSize }) => ({ method, ...(chunkSize ? { chunkSize } : {}), pieces: 0, uniquePieces: 0, totalBytes: 0, uniqueBytes: 0, newBytes: [] }));
  const seen = methods.map(() => new Set<string>());
  const images: Image[] = [];
  const imageBytes: number[] = [];

  for (const source of sources) {
    const image = await openImage(ports, source, { kernels: ociKernels(ports) });
    images.push(image);
    const cuts = new Map<Inode, Cut[]>();
    const root = await flatten(image, {
      onFile: async (inode, entry) => {
        const body = new Uint8Array(entry.size);
        let at = 0;
        for await (const piece of entry.body()) {
          body.set(piece, at);
          at += piece.length;
        }
        cuts.set(inode, methods.map((m) => m.cut(body)));
      },
    });
    const added = rows.map(() => 0);
    let bytes = 0;
    for (const [, inode] of walk(root)) {
      const fileCuts = cuts.get(inode);
      if (!fileCuts) continue;
      bytes += inode.size;
      fileCuts.forEach((cut, m) => {
        const row = rows[m]!;
        cut.keys.forEach((k, i) => {
          const length = cut.lengths[i]!;
          row.pieces++;
          row.totalBytes += length;
          if (seen[m]!.has(k)) return;
          seen[m]!.add(k);
          row.uniquePieces++;
          row.uniqueBytes += length;
          added[m]! += length;
        });
      });
    }
    rows.forEach((row, m) => row.newBytes.push(added[m]!));
    imageBytes.push(bytes);
  }

  const storage: StorageRow[] = [await ociStorage(images)];
  if (options.strata ?? true) storage.push(...(await strataStorage(ports, images, options.convert ?? {})));
  return { images: [...sources], imageBytes, content: rows, storage };
}

function fixedLengths(size: number, chunk: number): number[] {
  const lengths: number[] = [];
  for (let at = 0; at < size; at += chunk) lengths.push(Math.min(chunk, size - at));
  if (size === 0) lengths.push(0);
  return lengths;
}

/** Digests of consecutive pieces, in windows so each wasm crossing stays bounded. */
function digestPieces(hasher: Hasher, body: Uint8Array, lengths: number[]): Cut {
  const keys: string[] = [];
  const WINDOW = 1024;
  let at = 0;
  for (let i = 0; i < lengths.length; i += WINDOW) {
    const sizes = lengths.slice(i, i + WINDOW);
    const span = sizes.reduce((a, b) => a + b, 0);
    const digests = hasher.digestMany(body.subarray(at, at + span), sizes);
    for (let j = 0; j < sizes.length; j++) keys.push(key(digests.subarray(j * hasher.digestSize, (j + 1) * hasher.digestSize), sizes[j]!));
    at += span;
  }
  return { keys, lengths };
}

/** 16 bytes of digest and the length: collisions are out of reach for any corpus. */
function key(digest: Uint8Array, length: number): string {
  let s = "";
  for (let i = 0; i < 16; i++) s += (digest[i]! < 16 ? "0" : "") + digest[i]!.toString(16);
  return `${s}:${length}`;
}

/** Registry and pull bytes of images given by their manifests' blobs. */
function storageOf(format: StorageRow["format"], blobsPerImage: Descriptor[][]): StorageRow {
  const held = new Map<string, number>();
  const transferBytes = blobsPerImage.map((blobs) => {
    let fetched = 0;
    for (const d of blobs) {
      if (held.has(d.digest)) continue;
      held.set(d.digest, d.size);
      fetched += d.size;
    }
    return fetched;
  });
  return { format, registryBytes: [...held.values()].reduce((a, b) => a + b, 0), transferBytes };
}

async function ociStorage(images: Image[]): Promise<StorageRow> {
  const blobs: Descriptor[][] = [];
  for (const image of images) {
    const manifest = await image.manifest();
    blobs.push([{ mediaType: "", digest: await image.digest(), size: (await image.rawManifest()).length }, manifest.config, ...manifest.layers]);
  }
  return storageOf("oci", blobs);
}

/**
 * Converts every image twice into in-memory layouts: on its own, and with the images converted
 * before it as chunk dictionaries (the most recent first).
 */
async function strataStorage(ports: Ports, images: Image[], convertOptions: ConvertOptions): Promise<StorageRow[]> {
  const resolved = resolveOptions(convertOptions, ["none", "lz4_block", "zstd"], "zstd");
  const [digester, sha256, codec] = await Promise.all([hasherFor(ports, resolved.digester), createSha256(ports), chunkCodecFor(ports, resolved.compressor)]);
  const kernels = { digester, sha256, codec, streamingSha256: () => createStreamingSha256(ports) };
  const rows: StorageRow[] = [];
  for (const withDictionaries of [false, true]) {
    const memory = memoryFiles("/dedup");
    const memoryPorts: Ports = { ...ports, files: memory.reader, output: memory.output };
    const dest = await LayoutWriter.open("/dedup/images", memory.output, memory.reader, { sha256: () => createStreamingSha256(ports) });
    const blobs: Descriptor[][] = [];
    for (const [i, image] of images.entries()) {
      const dicts = withDictionaries ? images.slice(0, i).map((_, j) => `oci:/dedup/images:image-${j}`).reverse() : [];
      const dictionaries = await openChunkDictionaries(memoryPorts, dicts, resolved, sha256);
      const result = await convert(image, dest, `image-${i}`, kernels, resolved, { dictionaries });
      const manifest = JSON.parse(new TextDecoder().decode(memory.files.get(`images/blobs/sha256/${result.manifest.digest.slice(7)}`)!)) as ImageManifest;
      blobs.push([result.manifest, manifest.config, ...manifest.layers]);
    }
    rows.push(storageOf(withDictionaries ? "strata+dict" : "strata", blobs));
  }
  return rows;
}
