/**
 * The blob table of an image being converted. Chunks name their blob by a provisional slot while
 * the conversion runs: a slot is taken when a layer's blob is opened or replayed from the cache,
 * and when a dictionary blob is first used. At the end the table is laid out deterministically
 * (layer blobs in layer order, then the dictionary blobs used, in dictionary order) and every
 * chunk's blob index is rewritten to its final place.
 */
import { StrataError } from "../errors.js";
import type { Descriptor } from "../oci/types.js";
import type { BlobInfo, ChunkInfo, RafsInode } from "../rafs/types.js";
import type { DictBlob } from "./chunk-dict.js";

/** RAFS v6 names a chunk's device in one byte: at most 255 blobs. */
const MAX_BLOBS = 0xff;

interface LayerSlot {
  kind: "layer";
  /** Filled once the blob is complete; a blob left empty never is. */
  blob?: { info: BlobInfo; descriptor: Descriptor };
}
interface DictSlot {
  kind: "dict";
  blob: DictBlob;
}

export interface BlobTable {
  /** The bootstrap's blob table, indexed as the chunks now are. */
  blobs: BlobInfo[];
  /** The layers' own blobs, in layer order (first in the table). */
  layerBlobs: Descriptor[];
  /** The dictionary blobs used, in table order (after the layer blobs). */
  dictBlobs: DictBlob[];
}

export class BlobSlots {
  private readonly slots: (LayerSlot | DictSlot)[] = [];
  private readonly byId = new Map<string, number>();

  /** A slot for a layer blob about to be written or replayed. */
  reserve(): number {
    this.check();
    return this.slots.push({ kind: "layer" }) - 1;
  }

  /** Records the finished blob of a reserved slot. */
  fill(slot: number, info: BlobInfo, descriptor: Descriptor): void {
    (this.slots[slot] as LayerSlot).blob = { info, descriptor };
    this.byId.set(info.blobId, slot);
  }

  /** The slot of a dictionary blob, taken on its first use. */
  dict(blob: DictBlob): number {
    let slot = this.byId.get(blob.info.blobId);
    if (slot === undefined) {
      this.check();
      slot = this.slots.push({ kind: "dict", blob }) - 1;
      this.byId.set(blob.info.blobId, slot);
    }
    return slot;
  }

  /** The slot of a blob already in the table, by id. */
  slotOf(blobId: string): number | undefined {
    return this.byId.get(blobId);
  }

  /** The blob id in `slot` (filled layer slots and dictionary slots). */
  idOf(slot: number): string | undefined {
    const s = this.slots[slot];
    return s?.kind === "dict" ? s.blob.info.blobId : s?.blob?.info.blobId;
  }

  /** Ids of the layer blobs completed so far, in layer order. */
  layerBlobIds(): string[] {
    return this.slots.flatMap((s) => (s.kind === "layer" && s.blob ? [s.blob.info.blobId] : []));
  }

  /** Lays the table out and rewrites the blob index of every chunk under `root`. */
  finish(root: RafsInode): BlobTable {
    const final = new Int32Array(this.slots.length).fill(-1);
    const blobs: BlobInfo[] = [];
    const layerBlobs: Descriptor[] = [];
    const dictBlobs: DictBlob[] = [];
    this.slots.forEach((s, slot) => {
      if (s.kind !== "layer" || !s.blob) return;
      final[slot] = blobs.length;
      blobs.push({ ...s.blob.info, blobIndex: blobs.length });
      layerBlobs.push(s.blob.descriptor);
    });
    const dicts = this.slots.flatMap((s, slot) => (s.kind === "dict" ? [{ slot, blob: s.blob }] : [])).sort((a, b) => a.blob.order - b.blob.order);
    for (const { slot, blob } of dicts) {
      final[slot] = blobs.length;
      blobs.push({ ...blob.info, blobIndex: blobs.length });
      dictBlobs.push(blob);
    }
    const seen = new Set<ChunkInfo[]>();
    const visit = (inode: RafsInode) => {
      if (inode.chunks && !seen.has(inode.chunks)) {
        seen.add(inode.chunks);
        for (const c of inode.chunks) c.blobIndex = final[c.blobIndex]!;
      }
      for (const child of inode.entries?.values() ?? []) visit(child);
    };
    visit(root);
    return { blobs, layerBlobs, dictBlobs };
  }

  private check(): void {
    if (this.slots.length >= MAX_BLOBS) throw new StrataError("UNSUPPORTED", `the image would need more than ${MAX_BLOBS} blobs (layer and dictionary blobs together), the most RAFS v6 can address`, { blobs: this.slots.length + 1 });
  }
}
