/**
 * The blob devices of a Nydus image as files: what `fsck.erofs --device=` and the kernel's
 * `mount -o device=` read. Each file is written under a temporary name and renamed when
 * complete, so a file present under its final name is always whole and can be reused.
 *
 * A device's bytes follow from its chunk records alone (each chunk is checked against its digest
 * before it is written), so the records' fingerprint names its content: a cache keyed by it can
 * never hand one image a device written for another whose blob merely claims the same id.
 */
import { isStrataError, StrataError } from "../errors.js";
import type { Hasher } from "../kernels/kernel.js";
import { hex } from "../oci/verify.js";
import type { FilesPort, OutputPort } from "../ports.js";
import { blobChunks, blobDevice } from "../rafs/device.js";
import { EROFS_BLOCK_SIZE } from "../rafs/layout.js";
import type { RafsKernels } from "../rafs/read.js";
import type { BlobInfo, ChunkInfo, RafsImage, RafsInode } from "../rafs/types.js";
import { blobSet, requireRafs, type NydusImage } from "./image.js";

export interface DeviceFile {
  blobId: string;
  path: string;
  /** Bytes: the blob's uncompressed size rounded up to whole 4 KiB blocks (loop devices read whole blocks). */
  size: number;
  /** Whether it holds every chunk of the blob (from its compression table) or only the bootstrap's. */
  complete: boolean;
  /** SHA-256 (hex) of the chunk records the device was laid out from: digest, uncompressed offset and size of each. */
  fingerprint: string;
  /** Whether a file already present under its name was used instead of writing one. */
  reused: boolean;
}

export interface DeviceOptions {
  /** The file name for a blob's device. */
  name(blobId: string, fingerprint: string): string;
  /** Keep a present file of the right size instead of writing it again (a cache whose names include the fingerprint). */
  reuse?: boolean;
  onDevice?(device: DeviceFile): void;
}

/**
 * Writes one device file per blob of the bootstrap's blob table, in table order, into `dir`
 * (created if needed). Every chunk is decompressed and checked against its digest first.
 */
export async function writeBlobDevices(
  image: NydusImage,
  dir: string,
  ports: { files: FilesPort; output: OutputPort },
  kernels: RafsKernels,
  options: DeviceOptions,
): Promise<DeviceFile[]> {
  const rafs = requireSoundRafs(image);
  const blobs = blobSet(image, kernels);
  const used = chunksByBlob(rafs.root);
  await ports.output.mkdir(dir);
  const out: DeviceFile[] = [];
  for (const info of rafs.blobs) {
    const blob = await blobs(info);
    const all = allChunks(blob, info);
    if (all) checkAgainstBootstrap(info, all, used.get(info.blobIndex) ?? []);
    const complete = all !== undefined;
    const chunks = all ?? used.get(info.blobIndex) ?? [];
    const fingerprint = hex(fingerprintOf(chunks, kernels.hasher("sha256")));
    const path = `${dir}/${options.name(info.blobId, fingerprint)}`;
    const size = Math.ceil(info.uncompressedSize / EROFS_BLOCK_SIZE) * EROFS_BLOCK_SIZE;
    const present = options.reuse ? await ports.files.stat(path) : undefined;
    const reused = present?.kind === "file" && present.size === size;
    if (!reused) await writeDevice(path, size, blobDevice(blob, info, chunks, kernels.codec(info.compressor), kernels.hasher(info.digester)), ports.output);
    const device = { blobId: info.blobId, path, size, complete, fingerprint, reused };
    options.onDevice?.(device);
    out.push(device);
  }
  return out;
}

/**
 * The decoded bootstrap, refused (BAD_BOOTSTRAP, naming its first problem) unless it has no
 * problem at all: the kernel is about to read it, and a lenient decoding is for reports only.
 */
export function requireSoundRafs(image: NydusImage): RafsImage {
  const rafs = requireRafs(image);
  const first = image.bootstrapProblems[0];
  if (first) throw new StrataError("BAD_BOOTSTRAP", `${image.name}: the bootstrap is damaged: ${first.message}`, { problems: image.bootstrapProblems.length });
  return rafs;
}

async function writeDevice(path: string, size: number, pieces: AsyncIterable<Uint8Array>, output: OutputPort): Promise<void> {
  const pending = await output.create(path);
  try {
    let written = 0;
    for await (const piece of pieces) {
      await pending.write(piece);
      written += piece.length;
    }
    if (size > written) await pending.write(new Uint8Array(size - written));
    await pending.commit();
  } catch (e) {
    await pending.abort();
    throw e;
  }
}

/** The blob's own chunk list (compression table and digests), or undefined when it has none. */
function allChunks(blob: Parameters<typeof blobChunks>[0], info: BlobInfo): ChunkInfo[] | undefined {
  try {
    return blobChunks(blob, info);
  } catch (e) {
    if (isStrataError(e, "UNSUPPORTED")) return undefined;
    throw e;
  }
}

/** The blob's own digests must be the bootstrap's for every chunk the bootstrap uses. */
function checkAgainstBootstrap(info: BlobInfo, all: ChunkInfo[], used: ChunkInfo[]): void {
  for (const c of used) {
    const own = all[c.index];
    if (!own || !equalBytes(own.digest, c.digest) || own.uncompressedOffset !== c.uncompressedOffset || own.uncompressedSize !== c.uncompressedSize) {
      throw new StrataError("DIGEST_MISMATCH", `blob ${info.blobId}: chunk ${c.index} in the blob's tables differs from the bootstrap's record`, { blobId: info.blobId, chunk: c.index });
    }
  }
}

/** SHA-256 over each chunk's digest, uncompressed offset (u64) and size (u32), in offset order. */
function fingerprintOf(chunks: readonly ChunkInfo[], sha256: Hasher): Uint8Array {
  const unique = new Map(chunks.map((c) => [c.uncompressedOffset, c]));
  const record = new Uint8Array(32 + 12);
  const view = new DataView(record.buffer);
  sha256.init();
  for (const c of [...unique.values()].sort((a, b) => a.uncompressedOffset - b.uncompressedOffset)) {
    record.fill(0).set(c.digest.subarray(0, 32));
    view.setBigUint64(32, BigInt(c.uncompressedOffset), true);
    view.setUint32(40, c.uncompressedSize, true);
    sha256.update(record);
  }
  return sha256.final();
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

function chunksByBlob(root: RafsInode): Map<number, ChunkInfo[]> {
  const out = new Map<number, ChunkInfo[]>();
  const visit = (inode: RafsInode) => {
    for (const c of inode.chunks ?? []) (out.get(c.blobIndex) ?? out.set(c.blobIndex, []).get(c.blobIndex)!).push(c);
    for (const child of inode.entries?.values() ?? []) visit(child);
  };
  visit(root);
  return out;
}
