/**
 * A RAFS v6 image as ONE EROFS disk: the bootstrap (its metadata) followed by the uncompressed
 * device of every blob its files use, each at a 4 KiB-aligned block. The bootstrap's chunk
 * indexes (EROFS `erofs_inode_chunk_index`: advise, device_id, blkaddr) are rewritten to device 0
 * and absolute block addresses, and its device table is dropped (extra_devices 0, the
 * DEVICE_TABLE incompat feature cleared), so `mount -t erofs -o loop` needs nothing else.
 * The Nydus extended superblock, blob table and chunk table stay as they were: EROFS ignores them.
 */
import { StrataError } from "../errors.js";
import type { Hasher } from "../kernels/kernel.js";
import type { NydusBlob } from "./blob-reader.js";
import { blobDevice } from "./device.js";
import { EROFS_BLOCK_SIZE, V6 } from "./layout.js";
import type { ChunkDecoder } from "./read.js";
import type { BlobInfo, ChunkInfo, RafsImage, RafsInode } from "./types.js";

const SB = V6.SUPERBLOCK_OFFSET;
const NULL_ADDR = 0xffff_ffff;

export interface BlockImagePlan {
  /** The rewritten bootstrap: the image's first bytes (a whole number of blocks). */
  metadata: Uint8Array;
  /** Each used blob's device, in blob-table order, with the chunks read from it. */
  devices: { info: BlobInfo; offset: number; size: number; chunks: ChunkInfo[] }[];
  /** Bytes of the whole image (a multiple of 4 KiB). */
  size: number;
}

/** Lays out the block image of a parsed RAFS v6 bootstrap and rewrites its chunk addresses. */
export function planBlockImage(bootstrap: Uint8Array, image: RafsImage): BlockImagePlan {
  if (image.version !== 6) throw new StrataError("UNSUPPORTED", `a block image needs a RAFS v6 (EROFS) bootstrap, this one is RAFS v${image.version}`);
  if (bootstrap.length % EROFS_BLOCK_SIZE !== 0) throw new StrataError("BAD_BOOTSTRAP", `bootstrap size ${bootstrap.length} is not a multiple of ${EROFS_BLOCK_SIZE}`);
  const metadata = bootstrap.slice();
  const view = new DataView(metadata.buffer);
  if (view.getUint32(SB + 8, true) & V6.FEATURE_COMPAT_SB_CHKSUM) throw new StrataError("UNSUPPORTED", "bootstraps with a superblock checksum are not supported", { offset: SB + 8 });

  const files = chunkedFiles(image.root);
  const chunksByBlob = new Map<number, ChunkInfo[]>();
  for (const file of files) for (const c of file.chunks!) (chunksByBlob.get(c.blobIndex) ?? chunksByBlob.set(c.blobIndex, []).get(c.blobIndex)!).push(c);

  const devices: BlockImagePlan["devices"] = [];
  const baseBlock = new Map<number, number>();
  let offset = metadata.length;
  for (const info of image.blobs) {
    const chunks = chunksByBlob.get(info.blobIndex);
    if (!chunks) continue;
    const size = Math.ceil(info.uncompressedSize / EROFS_BLOCK_SIZE) * EROFS_BLOCK_SIZE;
    baseBlock.set(info.blobIndex, offset / EROFS_BLOCK_SIZE);
    devices.push({ info, offset, size, chunks });
    offset += size;
  }
  if (offset / EROFS_BLOCK_SIZE > NULL_ADDR) throw new StrataError("UNSUPPORTED", `a block image of ${offset} bytes exceeds EROFS's 2^32 blocks`);

  const metaBase = view.getUint32(SB + 40, true) * EROFS_BLOCK_SIZE;
  for (const file of files) {
    const inode = metaBase + file.nid! * V6.INODE_SLOT_SIZE;
    if (inode + V6.INODE_EXTENDED_SIZE > metadata.length) throw new StrataError("BAD_BOOTSTRAP", `nid ${file.nid} lies past the bootstrap`, { nid: file.nid, offset: inode });
    const at = chunkIndexStart(view, inode);
    file.chunks!.forEach((c, i) => {
      const entry = at + i * V6.CHUNK_ADDR_SIZE;
      if (entry + V6.CHUNK_ADDR_SIZE > metadata.length) throw new StrataError("BAD_BOOTSTRAP", `chunk index ${i} of nid ${file.nid} lies past the bootstrap`, { nid: file.nid, offset: entry });
      const base = baseBlock.get(c.blobIndex);
      if (base === undefined) throw new StrataError("BAD_BOOTSTRAP", `nid ${file.nid} chunk ${i} names blob ${c.blobIndex}, not in the blob table`, { nid: file.nid });
      if (c.uncompressedOffset % EROFS_BLOCK_SIZE !== 0) throw new StrataError("BAD_BOOTSTRAP", `nid ${file.nid} chunk ${i} is not 4 KiB aligned in its blob`, { nid: file.nid, offset: entry });
      view.setUint16(entry, 0, true); // advise
      view.setUint16(entry + 2, 0, true); // device_id: the image itself
      view.setUint32(entry + 4, base + c.uncompressedOffset / EROFS_BLOCK_SIZE, true);
    });
  }
  view.setUint32(SB + 36, offset / EROFS_BLOCK_SIZE, true); // blocks
  view.setUint32(SB + 80, view.getUint32(SB + 80, true) & ~V6.FEATURE_INCOMPAT_DEVICE_TABLE, true);
  view.setUint16(SB + 86, 0, true); // extra_devices
  return { metadata, devices, size: offset };
}

/** Streams the image: the metadata, then each device (chunks verified) padded to whole blocks. */
export async function* blockImage(
  plan: BlockImagePlan,
  openBlob: (info: BlobInfo) => Promise<NydusBlob>,
  kernels: { codec(info: BlobInfo): ChunkDecoder; hasher(info: BlobInfo): Hasher },
): AsyncGenerator<Uint8Array> {
  yield plan.metadata;
  for (const { info, size, chunks } of plan.devices) {
    let written = 0;
    for await (const piece of blobDevice(await openBlob(info), info, chunks, kernels.codec(info), kernels.hasher(info))) {
      written += piece.length;
      yield piece;
    }
    if (size > written) yield new Uint8Array(size - written);
  }
}

/** Where an inode's chunk indexes start: after the inode and its inline xattrs, 8-byte aligned. */
function chunkIndexStart(view: DataView, inode: number): number {
  const extended = (view.getUint16(inode, true) & 1) === 1;
  const icount = view.getUint16(inode + 2, true);
  const xattrs = icount === 0 ? 0 : V6.XATTR_IBODY_HEADER_SIZE + (icount - 1) * V6.XATTR_ENTRY_SIZE;
  const end = inode + (extended ? V6.INODE_EXTENDED_SIZE : V6.INODE_COMPACT_SIZE) + xattrs;
  return Math.ceil(end / V6.CHUNK_ADDR_SIZE) * V6.CHUNK_ADDR_SIZE;
}

/** Every regular file with chunks, once per inode (hardlinks share one). */
function chunkedFiles(root: RafsInode): RafsInode[] {
  const seen = new Set<number>();
  const out: RafsInode[] = [];
  const visit = (inode: RafsInode) => {
    if (inode.chunks?.length && inode.nid !== undefined && !seen.has(inode.nid)) {
      seen.add(inode.nid);
      out.push(inode);
    }
    for (const child of inode.entries?.values() ?? []) visit(child);
  };
  visit(root);
  return out;
}
