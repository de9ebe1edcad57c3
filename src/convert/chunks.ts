/**
 * The chunk stage of conversion: file bodies are cut into fixed chunks, hashed, deduplicated
 * against every chunk stored so far in this image (across layers too), compressed, and handed to
 * the blob being written. One reusable chunk buffer: memory is chunk size (times the chunks in
 * flight when a pool compresses them on other threads), not file size.
 */
import type { ChunkCodec, Hasher } from "../kernels/kernel.js";
import type { ChunkCompressPool } from "../ports.js";
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

/**
 * A chunk the store knows: `info` is its record once written (undefined while its compression is
 * in flight); `blob` gives the slot of a blob that joins the image only once one of its chunks is used.
 */
interface Known {
  size: number;
  info?: ChunkInfo;
  blob?: () => number;
}

/** Receives a chunk's record, in the order the chunks were added. */
export type OnChunkStored = (info: ChunkInfo, deduped: boolean) => void;

export class ChunkStore {
  /** hex digest → the chunk as first stored. Chunk ids are digests of the uncompressed bytes. */
  private readonly known = new Map<string, Known>();
  readonly stats: ChunkStats = { chunks: 0, dedupedChunks: 0, dedupedBytes: 0, uncompressedBytes: 0, storedBytes: 0, reusedChunks: 0, reusedBytes: 0 };
  /** With a pool: the last step of the chain that writes chunks and hands out records in order. */
  private tail: Promise<void> = Promise.resolve();
  /** With a pool: the writes of chunks not yet written, oldest first. */
  private readonly pending: Promise<void>[] = [];
  /** Chunks in the pool now. */
  private inPool = 0;
  private readonly pool?: ChunkCompressPool;

  /**
   * Without `pool` each chunk is compressed by `codec` on this thread before `add` returns. With
   * it (and a codec of the same compressor, which gives the same bytes) up to POOL_DEPTH chunks
   * per pool thread are compressed there while hashing and dedup go on here; chunks too small to
   * be worth sending, or arriving while the pool is full, are compressed here.
   */
  constructor(
    private readonly hasher: Hasher,
    private readonly codec: ChunkCodec | undefined,
    pool?: ChunkCompressPool,
  ) {
    if (codec) this.pool = pool;
  }

  /**
   * Stores `chunk` in `target` unless an identical chunk is already in the image, and calls
   * `stored` with its record: at once without a pool, else once the chunk is written (blobs get
   * their chunks in the order they were added, whatever the scheduling). `chunk` may be reused
   * when this resolves; call drain() before finishing `target` or reading the records.
   */
  async add(chunk: Uint8Array, fileOffset: number, target: ChunkTarget, stored: OnChunkStored): Promise<void> {
    const digest = this.hasher.digest(chunk);
    const key = hexKey(digest);
    this.stats.chunks++;
    this.stats.uncompressedBytes += chunk.length;
    const existing = this.known.get(key);
    if (existing && existing.size === chunk.length) {
      this.stats.dedupedChunks++;
      this.stats.dedupedBytes += chunk.length;
      if (existing.blob) {
        this.stats.reusedChunks++;
        this.stats.reusedBytes += chunk.length;
      }
      // The blob slot is taken now, so slots are numbered in chunk order.
      const blobIndex = existing.blob?.();
      const record = (info: ChunkInfo) => stored({ ...info, blobIndex: blobIndex ?? info.blobIndex, fileOffset }, true);
      // A chunk still in flight has its record once the chain reaches this point.
      if (this.pool) this.chain(() => record(existing.info!));
      else record(existing.info!);
      return;
    }
    if (!this.pool) {
      const compressed = this.codec?.compress(chunk);
      const data = compressed ?? chunk;
      const info = await target.addChunk({ digest, uncompressedSize: chunk.length, data, compressed: compressed !== undefined });
      this.stats.storedBytes += data.length;
      this.known.set(key, { size: chunk.length, info });
      stored({ ...info, fileOffset }, false);
      return;
    }
    const entry: Known = { size: chunk.length };
    this.known.set(key, entry);
    const size = chunk.length;
    let compressing: Promise<{ input: Uint8Array; output: Uint8Array | undefined }>;
    // A full pool is not waited for: this thread compresses (a reader running on microtasks can
    // leave the pool's replies unseen for a while, so the pool keeps a deep queue).
    if (size >= POOL_MIN_CHUNK && this.inPool < POOL_DEPTH * this.pool.threads) {
      this.inPool++;
      compressing = this.pool.compress(chunk.slice()).finally(() => this.inPool--);
      compressing.catch(() => {}); // surfaced through the chain
    } else {
      // Copied: the codec's output and the chunk buffer are reused before the chain writes them.
      const output = this.codec!.compress(chunk)?.slice();
      compressing = Promise.resolve({ input: output ? chunk.subarray(0, 0) : chunk.slice(), output });
    }
    this.pending.push(
      this.chain(async () => {
        const { input, output } = await compressing;
        const data = output ?? input;
        entry.info = await target.addChunk({ digest, uncompressedSize: size, data, compressed: output !== undefined });
        this.stats.storedBytes += data.length;
        stored({ ...entry.info, fileOffset }, false);
      }),
    );
    // Backpressure: the reader waits while this many chunks wait to be written.
    while (this.pending.length >= 2 * POOL_DEPTH * this.pool.threads + 4) await this.pending.shift();
  }

  /** One chunk, stored and written before this resolves: add() then drain(). */
  async put(chunk: Uint8Array, fileOffset: number, target: ChunkTarget): Promise<{ info: ChunkInfo; deduped: boolean }> {
    let record: { info: ChunkInfo; deduped: boolean } | undefined;
    await this.add(chunk, fileOffset, target, (info, deduped) => (record = { info, deduped }));
    await this.drain();
    return record!;
  }

  /** Waits until every chunk added is written and its record handed out; rejects with the first failure. */
  async drain(): Promise<void> {
    this.pending.length = 0;
    await this.tail;
  }

  /**
   * Makes a chunk stored before this conversion known (a dictionary's, a cached layer's); the
   * first chunk of a digest wins. `blob` is asked for the slot of its blob on each use.
   */
  preload(info: ChunkInfo, blob: () => number): void {
    const key = hexKey(info.digest);
    if (!this.known.has(key)) this.known.set(key, { size: info.uncompressedSize, info, blob });
  }

  /** Runs `step` after every step before it; a failure skips the steps after it and is kept for drain(). */
  private chain(step: () => void | Promise<void>): Promise<void> {
    const next = this.tail.then(step);
    next.catch(() => {}); // observed by drain() or add()'s backpressure
    this.tail = next;
    return next;
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

/** Chunks queued per pool thread at most: enough to ride out a burst of large chunks. */
const POOL_DEPTH = 8;
/** Smaller chunks are compressed on this thread: sending them costs about as much as compressing them. */
const POOL_MIN_CHUNK = 16 << 10;

function hexKey(digest: Uint8Array): string {
  let s = "";
  for (let i = 0; i < digest.length; i++) s += (digest[i]! < 16 ? "0" : "") + digest[i]!.toString(16);
  return s;
}
