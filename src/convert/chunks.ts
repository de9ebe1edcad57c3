/**
 * The chunk stage of conversion: file bodies are cut into fixed chunks, hashed, deduplicated
 * against every chunk stored so far in this image (across layers too), compressed, and handed to
 * the blob being written. One reusable chunk buffer: memory is chunk size, not file size.
 */
import type { ChunkCodec, Hasher } from "../kernels/kernel.js";
import type { ChunkInfo } from "../rafs/types.js";

/** Where new chunks go: the blob writer of the layer being converted. */
export interface ChunkTarget {
  /** Appends one chunk; `data` is compressed when `compressed`, else the raw chunk. */
  addChunk(chunk: { digest: Uint8Array; uncompressedSize: number; data: Uint8Array; compressed: boolean }): Promise<ChunkInfo>;
}

export interface ChunkStats {
  chunks: number;
  dedupedChunks: number;
  dedupedBytes: number;
  uncompressedBytes: number;
  storedBytes: number;
  /** Deduplicated against chunks stored before this conversion (dictionaries, cached layers). */
  reusedChunks: number;
  reusedBytes: number;
}

/** A chunk the store knows: `blob` gives the slot of a blob that joins the image only once one of its chunks is used. */
interface Known {
  info: ChunkInfo;
  blob?: () => number;
}

export class ChunkStore {
  /** hex digest → the chunk as first stored. Chunk ids are digests of the uncompressed bytes. */
  private readonly known = new Map<string, Known>();
  readonly stats: ChunkStats = { chunks: 0, dedupedChunks: 0, dedupedBytes: 0, uncompressedBytes: 0, storedBytes: 0, reusedChunks: 0, reusedBytes: 0 };

  constructor(
    private readonly hasher: Hasher,
    private readonly codec: ChunkCodec | undefined,
  ) {}

  /** Stores `chunk` in `target` unless an identical chunk is already in the image; returns its record. */
  async put(chunk: Uint8Array, fileOffset: number, target: ChunkTarget): Promise<{ info: ChunkInfo; deduped: boolean }> {
    const digest = this.hasher.digest(chunk);
    const key = hexKey(digest);
    this.stats.chunks++;
    this.stats.uncompressedBytes += chunk.length;
    const existing = this.known.get(key);
    if (existing && existing.info.uncompressedSize === chunk.length) {
      this.stats.dedupedChunks++;
      this.stats.dedupedBytes += chunk.length;
      if (existing.blob) {
        this.stats.reusedChunks++;
        this.stats.reusedBytes += chunk.length;
      }
      return { info: { ...existing.info, blobIndex: existing.blob?.() ?? existing.info.blobIndex, fileOffset }, deduped: true };
    }
    const compressed = this.codec?.compress(chunk);
    const data = compressed ?? chunk;
    const info = await target.addChunk({ digest, uncompressedSize: chunk.length, data, compressed: compressed !== undefined });
    this.stats.storedBytes += data.length;
    this.known.set(key, { info });
    return { info: { ...info, fileOffset }, deduped: false };
  }

  /**
   * Makes a chunk stored before this conversion known (a dictionary's, a cached layer's); the
   * first chunk of a digest wins. `blob` is asked for the slot of its blob on each use.
   */
  preload(info: ChunkInfo, blob: () => number): void {
    const key = hexKey(info.digest);
    if (!this.known.has(key)) this.known.set(key, { info, blob });
  }
}

/** Cuts a stream of body pieces into `chunkSize` chunks, calling `onChunk` with a reused buffer. */
export class FixedChunker {
  private readonly buffer: Uint8Array;
  private filled = 0;
  private offset = 0;

  constructor(readonly chunkSize: number) {
    this.buffer = new Uint8Array(chunkSize);
  }

  async file(pieces: AsyncIterable<Uint8Array>, onChunk: (chunk: Uint8Array, fileOffset: number) => Promise<void>): Promise<void> {
    this.filled = 0;
    this.offset = 0;
    for await (let piece of pieces) {
      while (piece.length > 0) {
        const take = Math.min(piece.length, this.chunkSize - this.filled);
        // A whole chunk available in the input needs no copy.
        if (this.filled === 0 && take === this.chunkSize) {
          await this.emit(piece.subarray(0, take), onChunk);
        } else {
          this.buffer.set(piece.subarray(0, take), this.filled);
          this.filled += take;
          if (this.filled === this.chunkSize) await this.emit(this.buffer, onChunk);
        }
        piece = piece.subarray(take);
      }
    }
    if (this.filled > 0) await this.emit(this.buffer.subarray(0, this.filled), onChunk);
  }

  private async emit(chunk: Uint8Array, onChunk: (chunk: Uint8Array, fileOffset: number) => Promise<void>): Promise<void> {
    await onChunk(chunk, this.offset);
    this.offset += chunk.length;
    this.filled = 0;
  }
}

function hexKey(digest: Uint8Array): string {
  let s = "";
  for (let i = 0; i < digest.length; i++) s += (digest[i]! < 16 ? "0" : "") + digest[i]!.toString(16);
  return s;
}
