// Chunk compression on other cores for `strata convert` (the CodecPoolPort of src/ports.ts):
// worker_threads each running the wasm codec; chunks are transferred, not copied, both ways.
import { availableParallelism } from "node:os";
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
import { StrataError, type ErrorCode } from "../../src/errors.js";
import type { ChunkCompressPool, CodecPoolPort, KernelName, WasmPort } from "../../src/ports.js";
import { nodeWasmPort } from "./wasm.js";

/** @internal The messages between the pool and its workers. */
export interface CodecWorkerData {
  compressor: "zstd" | "lz4_block";
  level?: number;
  /** The codec's kernel, compiled once: a module sent to a worker shares its compiled code. */
  kernel: WebAssembly.Module;
}
/** @internal */
export interface CodecJob {
  id: number;
  chunk: Uint8Array;
}
/** @internal id -1 answers the start: ready, or why the codec could not be made. */
export interface CodecWorkerReply {
  id: number;
  input?: Uint8Array;
  output?: Uint8Array;
  error?: { code?: ErrorCode; message: string; details?: Record<string, unknown> };
}

/** The worker's entry: from dist/ its JavaScript; from sources (tsx, vitest) its TypeScript, loaded through tsx's API (Node 20 workers take no --import loader). */
function workerEntry(): { entry: URL | string; eval: boolean } {
  if (!import.meta.url.endsWith(".ts")) return { entry: new URL("./codec-worker.js", import.meta.url), eval: false };
  const source = new URL("./codec-worker.ts", import.meta.url).href;
  const tsx = new URL("dist/esm/api/index.mjs", pathToFileURL(createRequire(import.meta.url).resolve("tsx/package.json"))).href;
  return { entry: `import(${JSON.stringify(tsx)}).then((tsx) => tsx.tsImport(${JSON.stringify(source)}, ${JSON.stringify(source)}))`, eval: true };
}

/** One core is left to the main thread (hashing, inflating, writing); more than 4 buys little. */
export function defaultCodecThreads(): number {
  return Math.max(1, Math.min(availableParallelism() - 1, 4));
}

interface Job {
  resolve(result: { input: Uint8Array; output: Uint8Array | undefined }): void;
  reject(error: unknown): void;
}

class CodecThread {
  readonly jobs = new Map<number, Job>();
  readonly worker: Worker;
  readonly ready: Promise<void>;

  constructor(data: CodecWorkerData, onFailure: (error: StrataError) => void) {
    const { entry, eval: isCode } = workerEntry();
    this.worker = new Worker(entry, { workerData: data, eval: isCode });
    this.worker.unref();
    this.ready = new Promise((resolve, reject) => {
      this.worker.on("message", (reply: CodecWorkerReply) => {
        if (reply.id === -1) return reply.error ? reject(rebuild(reply.error, data.compressor)) : resolve();
        const job = this.jobs.get(reply.id)!;
        this.jobs.delete(reply.id);
        // An idle pool does not keep the process alive.
        if (this.jobs.size === 0) this.worker.unref();
        if (reply.error) job.reject(rebuild(reply.error, data.compressor));
        else job.resolve({ input: reply.input!, output: reply.output });
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

  send(id: number, chunk: Uint8Array, job: Job): void {
    this.jobs.set(id, job);
    this.worker.ref();
    this.worker.postMessage({ id, chunk } satisfies CodecJob, [chunk.buffer as ArrayBuffer]);
  }

  failAll(error: StrataError): void {
    for (const job of this.jobs.values()) job.reject(error);
    this.jobs.clear();
  }
}

/** Starts `threads` workers for `compressor` and waits until each has its codec; `wasm` supplies the kernel (the main thread's port, so it is compiled once). */
export async function openNodeCodecPool(compressor: "zstd" | "lz4_block", options: { level?: number; threads?: number; wasm?: WasmPort } = {}): Promise<ChunkCompressPool> {
  const threads = options.threads ?? defaultCodecThreads();
  if (!Number.isInteger(threads) || threads < 1) throw new StrataError("INVALID_ARGUMENT", `codec pool: ${threads} threads, expected a positive integer`, { threads });
  let failure: StrataError | undefined;
  let closed = false;
  const fail = (error: StrataError) => {
    if (closed) return;
    failure ??= error;
    for (const t of pool) t.failAll(failure);
  };
  const kernel = await (options.wasm ?? nodeWasmPort()).module(CODEC_KERNEL[compressor], "simd");
  const data: CodecWorkerData = options.level === undefined ? { compressor, kernel } : { compressor, level: options.level, kernel };
  const pool = Array.from({ length: threads }, () => new CodecThread(data, fail));
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
    compress(chunk) {
      if (failure) return Promise.reject(failure);
      if (closed) return Promise.reject(new StrataError("WORKER", `codec pool (${compressor}): used after close`, { compressor }));
      // Only a buffer of its own can be transferred.
      const own = chunk.byteOffset === 0 && chunk.byteLength === chunk.buffer.byteLength ? chunk : chunk.slice();
      let least = pool[0]!;
      for (const t of pool) if (t.jobs.size < least.jobs.size) least = t;
      return new Promise((resolve, reject) => least.send(nextId++, own, { resolve, reject }));
    },
    close,
  };
}

/** The codec pool port; `wasm` is the port the main thread's kernels come from. */
export function nodeCodecPool(wasm?: WasmPort): CodecPoolPort {
  return { open: (compressor, options) => openNodeCodecPool(compressor, { ...options, wasm }) };
}

/** The kernel each compressor's codec instantiates. */
export const CODEC_KERNEL = { zstd: "zstdenc", lz4_block: "lz4" } as const satisfies Record<CodecWorkerData["compressor"], KernelName>;

function rebuild(error: NonNullable<CodecWorkerReply["error"]>, compressor: string): StrataError {
  return new StrataError(error.code ?? "WORKER", `codec pool (${compressor}): ${error.message}`, { compressor, ...error.details });
}
