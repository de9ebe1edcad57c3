/**
 * The chunk stage of conversion: file bodies are cut into fixed chunks, hashed, deduplicated
 * against every chunk stored so far in this image (across layers too), compressed, and handed to
 * the blob being written. One reusable chunk buffer: memory is chunk size (times the chunks in
 * flight when a pool compresses them on other threads, a few MiB per thread), not file size.
 */
import type { ChunkCodec, Hasher } from "../kernels/kernel.js";
import type { ChunkCompressPool, PooledChunks } from "../ports.js";
import type { ChunkInfo } from "../rafs/types.js";

/** Where new chunks go: the blob writer of the layer being converted. */
export interface ChunkTarget {
  /** Appends one chunk; `data` is compressed when `compressed`, else the raw chunk, and may be reused once this settles. */
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
  /** With a pool: the writes of chunks not yet written, oldest first, and their bytes. */
  private pending: { bytes: number; written: Promise<void> }[] = [];
  private pendingBytes = 0;
  /** Bytes of the chunks in the pool now. */
  private inPoolBytes = 0;
  /** Small chunks gathered for the pool, as views of batchBuffer, and the promise they get. */
  private batch: Uint8Array[] = [];
  private batchBytes = 0;
  private batchBuffer = new Uint8Array(0);
  private batchSent = deferred<PooledChunks>();
  private readonly pool?: ChunkCompressPool;

  /**
   * Without `pool` each chunk is compressed by `codec` on this thread before `add` returns. With
   * it (and a codec of the same compressor, which gives the same bytes) chunks are compressed
   * there while hashing and dedup go on here; see compressing() for which and when.
   */
  constructor(
    private readonly hasher: Hasher,
    private readonly codec: ChunkCodec | undefined,
    pool?: ChunkCompressPool,
  ) {
    if (codec && pool) {
      this.pool = pool;
      this.batchBuffer = new Uint8Array(2 * BATCH_BYTES);
    }
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
    const compressed = this.compressing(chunk);
    compressed.catch(() => {}); // surfaced through the chain (which skips this step after an earlier failure)
    this.pendingBytes += size;
    this.pending.push({
      bytes: size,
      written: this.chain(async () => {
        const { chunks, index } = await compressed;
        const data = chunks.data[index]!;
        entry.info = await target.addChunk({ digest, uncompressedSize: size, data, compressed: chunks.compressed[index]! });
        // The target is done with `data` (ChunkTarget's contract): its buffers may carry later chunks.
        chunks.release();
        this.stats.storedBytes += data.length;
        stored({ ...entry.info, fileOffset }, false);
      }),
    });
    // Backpressure: the reader waits while this many bytes wait to be written (a gathered batch
    // goes out first: the oldest chunk may be in it).
    const limit = PENDING_BYTES * this.pool.threads;
    if (this.pendingBytes >= limit) this.sendBatch();
    while (this.pendingBytes >= limit) {
      const oldest = this.pending.shift()!;
      this.pendingBytes -= oldest.bytes;
      await oldest.written;
    }
  }

  /**
   * Where `chunk` gets compressed: large chunks go to the pool alone, small ones in batches of
   * BATCH_BYTES; while the pool holds POOL_BYTES per thread and no batch is open, this thread
   * compresses instead of waiting (a reader running on microtasks can leave the pool's replies
   * unseen for a while, so the pool keeps a deep queue).
   */
  private compressing(chunk: Uint8Array): Promise<{ chunks: PooledChunks; index: number }> {
    const pool = this.pool!;
    if (this.batch.length === 0 && this.inPoolBytes >= POOL_BYTES * pool.threads) {
      // Copied: the codec's output and the chunk buffer are reused before the chain writes them.
      const output = this.codec!.compress(chunk);
      return Promise.resolve({ chunks: { data: [(output ?? chunk).slice()], compressed: [output !== undefined], release() {} }, index: 0 });
    }
    if (chunk.length >= BATCH_BYTES) {
      this.sendBatch();
      return this.send([chunk], 1).then((chunks) => ({ chunks, index: 0 }));
    }
    const at = this.batchBytes;
    this.batchBuffer.set(chunk, at);
    this.batch.push(this.batchBuffer.subarray(at, at + chunk.length));
    this.batchBytes += chunk.length;
    const index = this.batch.length - 1;
    const sent = this.batchSent;
    if (this.batchBytes >= BATCH_BYTES) this.sendBatch();
    return sent.promise.then((chunks) => ({ chunks, index }));
  }

  /** Sends the gathered batch, if any: the pool copies it, so its buffer takes the next one. */
  private sendBatch(): void {
    if (this.batch.length === 0) return;
    const { resolve, reject } = this.batchSent;
    this.send(this.batch, this.batch.length).then(resolve, reject);
    this.batch = [];
    this.batchBytes = 0;
    this.batchSent = deferred();
  }

  /** Sends chunks to the pool; their buffers go back once `users` chunks of them are written. */
  private send(chunks: readonly Uint8Array[], users: number): Promise<PooledChunks> {
    const bytes = chunks.reduce((n, c) => n + c.length, 0);
    this.inPoolBytes += bytes;
    const settled = () => (this.inPoolBytes -= bytes);
    return this.pool!.compress(chunks).then(
      (result) => {
        settled();
        let left = users;
        // Each chunk's chain step releases once written (ChunkTarget's contract): the last one frees the buffers.
        return { ...result, release: () => void (--left === 0 && result.release()) };
      },
      (error: unknown) => {
        settled();
        throw error;
      },
    );
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
    this.sendBatch();
    this.pending = [];
    this.pendingBytes = 0;
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

/**
 * Chunk bytes queued per pool thread at most (at least one chunk): four 1 MiB chunks ride out a
 * burst of large files; 16 MiB chunks go one at a time.
 */
const POOL_BYTES = 4 << 20;
/** Chunk bytes waiting to be written, per pool thread, before the reader waits. */
const PENDING_BYTES = 3 * POOL_BYTES;
/** Chunks smaller than this travel to the pool together, this many bytes to a message: one message per small file costs about what compressing it does. */
const BATCH_BYTES = 256 << 10;

function deferred<T>(): { promise: Promise<T>; resolve(value: T): void; reject(error: unknown): void } {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)));
  promise.catch(() => {}); // surfaced through the chain
  return { promise, resolve, reject };
}

function hexKey(digest: Uint8Array): string {
  let s = "";
  for (let i = 0; i < digest.length; i++) s += (digest[i]! < 16 ? "0" : "") + digest[i]!.toString(16);
  return s;
}
