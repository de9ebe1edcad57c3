// Chunk compression on other cores for `strata convert` (the CodecPoolPort of src/ports.ts):
// worker_threads each running the wasm codec. Chunks are copied once, packed into a transfer
// buffer; the worker replaces each with its stored bytes in place and sends the buffer back, where
// it is reused, so a steady conversion allocates no buffers per chunk. Small chunks travel many to
// a message: one message per small file cost about what compressing it does.
import { availableParallelism } from "node:os";
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
import { StrataError, type ErrorCode } from "../../src/errors.js";
import type { ChunkCompressPool, CodecPoolPort, KernelName, PooledChunks, WasmPort } from "../../src/ports.js";
import { nodeWasmPort } from "./wasm.js";

/** @internal The messages between the pool and its workers. */
export interface CodecWorkerData {
  compressor: "zstd" | "lz4_block";
  level?: number;
  /** The codec's kernel, compiled once: a module sent to a worker shares its compiled code. */
  kernel: WebAssembly.Module;
  /** V8 flags the worker sets again as it starts (starting it reset the process's). */
  v8Flags?: readonly string[];
}
/** @internal */
export interface CodecJob {
  id: number;
  /** The chunks, back to back. */
  chunks: Uint8Array;
  sizes: number[];
}
/** @internal id -1 answers the start: ready, or why the codec could not be made. */
export interface CodecWorkerReply {
  id: number;
  /**
   * The job's buffer, now holding each chunk's stored bytes back to back from its start: the
   * compressed bytes where they are smaller (so they never overtake the chunks not yet read), else
   * the chunk moved down.
   */
  stored?: Uint8Array;
  /** Each chunk's stored size, negated where it is the raw chunk. */
  storedSizes?: number[];
  error?: { code?: ErrorCode; message: string; details?: Record<string, unknown> };
}

/** The worker's entry: from dist/ its JavaScript; from sources (tsx, vitest) its TypeScript, loaded through tsx's API (Node 20 workers take no --import loader). */
function workerEntry(): { entry: URL | string; eval: boolean } {
  if (!import.meta.url.endsWith(".ts")) return { entry: new URL("./codec-worker.js", import.meta.url), eval: false };
  const source = new URL("./codec-worker.ts", import.meta.url).href;
  const tsx = new URL("dist/esm/api/index.mjs", pathToFileURL(createRequire(import.meta.url).resolve("tsx/package.json"))).href;
  return { entry: `import(${JSON.stringify(tsx)}).then((tsx) => tsx.tsImport(${JSON.stringify(source)}, ${JSON.stringify(source)}))`, eval: true };
}

/**
 * Workers by default: one core is left to the main thread (inflating, hashing, tar, writing), so
 * none on one core. More than two buy nothing: with one, the main thread is already the busier
 * (base: 2.5 s busy to the worker's 1.8), and each costs ~15 MiB plus its queues (four workers:
 * 207 MiB peak RSS converting app-v1; two: 166).
 */
export function defaultCodecThreads(): number {
  return Math.max(0, Math.min(availableParallelism() - 1, 2));
}

interface Job {
  resolve(result: PooledChunks): void;
  reject(error: unknown): void;
}

/** Smallest transfer buffer; larger ones are powers of two, so chunk tails of one file size class share buffers. */
const MIN_BUFFER = 64 << 10;

/** Transfer buffers by size, kept for reuse once a chunk's bytes are written. */
class BufferShelf {
  private readonly free = new Map<number, ArrayBuffer[]>();

  constructor(private readonly keep: number) {}

  take(size: number): ArrayBuffer {
    const capacity = Math.max(MIN_BUFFER, 2 ** Math.ceil(Math.log2(Math.max(size, 1))));
    return this.free.get(capacity)?.pop() ?? new ArrayBuffer(capacity);
  }

  give(buffer: ArrayBuffer): void {
    let shelf = this.free.get(buffer.byteLength);
    if (!shelf) this.free.set(buffer.byteLength, (shelf = []));
    if (shelf.length < this.keep) shelf.push(buffer);
  }
}

class CodecThread {
  readonly jobs = new Map<number, Job>();
  readonly worker: Worker;
  readonly ready: Promise<void>;

  constructor(data: CodecWorkerData, shelf: BufferShelf, onFailure: (error: StrataError) => void) {
    const { entry, eval: isCode } = workerEntry();
    this.worker = new Worker(entry, { workerData: data, eval: isCode });
    this.worker.unref();
    this.ready = new Promise((resolve, reject) => {
      this.worker.on("message", (reply: CodecWorkerReply) => {
        if (reply.id === -1) return reply.error ? reject(rebuild(reply.error, data.compressor)) : resolve();
        const job = this.jobs.get(reply.id);
        // A reply already on its way when the pool failed or closed: its job was rejected then.
        if (!job) return;
        this.jobs.delete(reply.id);
        // An idle pool does not keep the process alive.
        if (this.jobs.size === 0) this.worker.unref();
        if (reply.error) return job.reject(rebuild(reply.error, data.compressor));
        const { stored, storedSizes } = reply as Required<CodecWorkerReply>;
        const chunks: Uint8Array[] = [];
        const compressed: boolean[] = [];
        let at = 0;
        for (const signed of storedSizes) {
          const size = Math.abs(signed);
          chunks.push(stored.subarray(at, at + size));
          compressed.push(signed > 0);
          at += size;
        }
        job.resolve({ data: chunks, compressed, release: () => shelf.give(stored.buffer as ArrayBuffer) });
      });
      const failed = (message: string, cause?: unknown) => {
        const error = new StrataError("WORKER", `codec pool (${data.compressor}): ${message}`, { compressor: data.compressor }, { cause });
        reject(error);
        onFailure(error);
      };
      this.worker.on("error", (e) => failed(`a worker failed: ${e instanceof Error ? e.message : String(e)}`, e));
      this.worker.on("exit", (code) => failed(`a worker exited with code ${code}`));
    });
  }

  send(job: CodecJob, handlers: Job): void {
    this.jobs.set(job.id, handlers);
    this.worker.ref();
    this.worker.postMessage(job, [job.chunks.buffer as ArrayBuffer]);
  }

  failAll(error: StrataError): void {
    for (const job of this.jobs.values()) job.reject(error);
    this.jobs.clear();
  }
}

/** Starts `threads` workers for `compressor` and waits until each has its codec; `wasm` supplies the kernel (the main thread's port, so it is compiled once). */
export async function openNodeCodecPool(compressor: "zstd" | "lz4_block", options: { level?: number; threads?: number; wasm?: WasmPort; v8Flags?: readonly string[] } = {}): Promise<ChunkCompressPool> {
  const threads = options.threads ?? Math.max(1, defaultCodecThreads());
  if (!Number.isInteger(threads) || threads < 1) throw new StrataError("INVALID_ARGUMENT", `codec pool: ${threads} threads, expected a positive integer`, { threads });
  let failure: StrataError | undefined;
  let closed = false;
  const fail = (error: StrataError) => {
    if (closed) return;
    failure ??= error;
    for (const t of pool) t.failAll(failure);
  };
  const kernel = await (options.wasm ?? nodeWasmPort()).module(CODEC_KERNEL[compressor], "simd");
  const data: CodecWorkerData = { compressor, kernel, ...(options.level === undefined ? {} : { level: options.level }), ...(options.v8Flags ? { v8Flags: options.v8Flags } : {}) };
  // Enough for every message a ChunkStore keeps in flight.
  const shelf = new BufferShelf(32 * threads);
  const pool = Array.from({ length: threads }, () => new CodecThread(data, shelf, fail));
  const close = async () => {
    closed = true;
    for (const t of pool) t.failAll(new StrataError("WORKER", `codec pool (${compressor}): closed with chunks in flight`, { compressor }));
    await Promise.all(pool.map((t) => t.worker.terminate()));
  };
  try {
    await Promise.all(pool.map((t) => t.ready));
  } catch (e) {
    await close();
    throw e;
  }
  let nextId = 0;
  return {
    threads,
    compress(chunks) {
      if (failure) return Promise.reject(failure);
      if (closed) return Promise.reject(new StrataError("WORKER", `codec pool (${compressor}): used after close`, { compressor }));
      const sizes = chunks.map((c) => c.length);
      const total = sizes.reduce((n, size) => n + size, 0);
      const packed = new Uint8Array(shelf.take(total), 0, total);
      let at = 0;
      for (const chunk of chunks) {
        packed.set(chunk, at);
        at += chunk.length;
      }
      let least = pool[0]!;
      for (const t of pool) if (t.jobs.size < least.jobs.size) least = t;
      return new Promise((resolve, reject) => least.send({ id: nextId++, chunks: packed, sizes }, { resolve, reject }));
    },
    close,
  };
}

/** The codec pool port; `wasm` is the port the main thread's kernels come from, `v8Flags` what its workers set as they start. */
export function nodeCodecPool(wasm?: WasmPort, v8Flags?: readonly string[]): CodecPoolPort {
  return { defaultThreads: defaultCodecThreads, open: (compressor, options) => openNodeCodecPool(compressor, { ...options, wasm, v8Flags }) };
}

/** The kernel each compressor's codec instantiates. */
export const CODEC_KERNEL = { zstd: "zstdenc", lz4_block: "lz4" } as const satisfies Record<CodecWorkerData["compressor"], KernelName>;

function rebuild(error: NonNullable<CodecWorkerReply["error"]>, compressor: string): StrataError {
  return new StrataError(error.code ?? "WORKER", `codec pool (${compressor}): ${error.message}`, { compressor, ...error.details });
}
