import { StrataError } from "../errors.js";
import type { Ports } from "../ports.js";
import type { Chunker } from "./kernel.js";
import { instantiateKernel, type WasmInstance } from "./wasm.js";

interface ChunkerExports extends WebAssembly.Exports {
  inputPtr(): number;
  cutsPtr(): number;
  windowSize(): number;
  configure(min: number, avg: number, max: number, level: number): number;
  reset(): void;
  pending(): number;
  push(len: number): number;
}

export interface FastCdcOptions {
  /** Smallest chunk except the last (default 16 KiB, at least 64). */
  minSize?: number;
  /** Target average, a power of two (default 64 KiB). */
  avgSize?: number;
  /** Largest chunk (default 256 KiB, at most 256 MiB). */
  maxSize?: number;
  /** Normalization level 1-3: mask bits are log2(avg) ± level before/after avg (default 2). */
  level?: number;
}

export const FASTCDC_DEFAULTS = { minSize: 16 << 10, avgSize: 64 << 10, maxSize: 256 << 10, level: 2 } as const;
const MIN_FLOOR = 64;
const MAX_CEILING = 1 << 28;

type OnChunk = (length: number) => void;

/** Content-defined chunking with FastCDC (gear hash, normalized chunking) in the wasm kernel. */
export async function createFastCdc(ports: Ports, options: FastCdcOptions = {}): Promise<Chunker> {
  const { minSize, avgSize, maxSize, level } = { ...FASTCDC_DEFAULTS, ...options };
  for (const [name, value] of Object.entries({ minSize, avgSize, maxSize, level })) {
    if (!Number.isInteger(value)) throw new StrataError("INVALID_ARGUMENT", `fastcdc: ${name} must be an integer`, { [name]: value });
  }
  if (!(level >= 1 && level <= 3)) throw new StrataError("INVALID_ARGUMENT", `fastcdc: level ${level} is not 1, 2 or 3`, { level });
  if (!isPowerOfTwo(avgSize)) throw new StrataError("INVALID_ARGUMENT", `fastcdc: avgSize ${avgSize} is not a power of two`, { avgSize });
  if (!(MIN_FLOOR <= minSize && minSize < avgSize && avgSize < maxSize && maxSize <= MAX_CEILING)) {
    throw new StrataError("INVALID_ARGUMENT", `fastcdc: sizes must satisfy ${MIN_FLOOR} <= minSize < avgSize < maxSize <= ${MAX_CEILING}`, { minSize, avgSize, maxSize });
  }
  const kernel = await instantiateKernel<ChunkerExports>(ports.wasm, "chunker");
  if (kernel.exports.configure(minSize, avgSize, maxSize, level) !== 0) {
    throw new StrataError("INVALID_ARGUMENT", "fastcdc: the kernel rejected the chunk sizes", { minSize, avgSize, maxSize, level });
  }
  return new FastCdc(kernel);
}

class FastCdc implements Chunker {
  private readonly k: ChunkerExports;
  private readonly window: number;
  private onChunk: OnChunk | undefined;

  constructor(private readonly kernel: WasmInstance<ChunkerExports>) {
    this.k = kernel.exports;
    this.window = this.k.windowSize();
  }

  init(onChunk: OnChunk): this {
    if (typeof onChunk !== "function") throw new StrataError("INVALID_ARGUMENT", "fastcdc: init expects an onChunk callback");
    this.k.reset();
    this.onChunk = onChunk;
    return this;
  }

  update(input: Uint8Array): this {
    const onChunk = this.started("update");
    if (!(input instanceof Uint8Array)) throw new StrataError("INVALID_ARGUMENT", "fastcdc: update expects a Uint8Array");
    const { k, window } = this;
    const inputPtr = k.inputPtr();
    for (let at = 0; at < input.length; at += window) {
      const piece = input.subarray(at, at + window);
      this.kernel.u8.set(piece, inputPtr);
      const count = k.push(piece.length);
      if (count < 0) throw new StrataError("KERNEL_STATE", "fastcdc: kernel rejected a push", { length: piece.length });
      const cuts = new Uint32Array(this.kernel.u8.buffer, k.cutsPtr(), count);
      for (let i = 0; i < count; i++) onChunk(cuts[i]!);
    }
    return this;
  }

  final(): void {
    const onChunk = this.started("final");
    this.onChunk = undefined;
    const last = this.k.pending();
    this.k.reset();
    if (last > 0) onChunk(last);
  }

  private started(method: string): OnChunk {
    if (this.onChunk === undefined) throw new StrataError("KERNEL_STATE", `fastcdc: ${method} before init (or after final)`);
    return this.onChunk;
  }
}

export const FIXED_CHUNK_MIN = 4 << 10;
export const FIXED_CHUNK_MAX = 16 << 20;

/** Fixed-size chunks (RAFS v6 chunk sizes: a power of two from 4 KiB to 16 MiB). */
export function createFixedChunker(chunkSize: number): Chunker {
  if (!Number.isInteger(chunkSize) || !isPowerOfTwo(chunkSize) || chunkSize < FIXED_CHUNK_MIN || chunkSize > FIXED_CHUNK_MAX) {
    throw new StrataError("INVALID_ARGUMENT", `fixed chunker: chunk size ${chunkSize} is not a power of two from 4 KiB to 16 MiB`, { chunkSize });
  }
  return new FixedChunker(chunkSize);
}

class FixedChunker implements Chunker {
  private onChunk: OnChunk | undefined;
  /** Bytes of the unfinished chunk. */
  private filled = 0;

  constructor(private readonly chunkSize: number) {}

  init(onChunk: OnChunk): this {
    if (typeof onChunk !== "function") throw new StrataError("INVALID_ARGUMENT", "fixed chunker: init expects an onChunk callback");
    this.onChunk = onChunk;
    this.filled = 0;
    return this;
  }

  update(input: Uint8Array): this {
    const onChunk = this.started("update");
    if (!(input instanceof Uint8Array)) throw new StrataError("INVALID_ARGUMENT", "fixed chunker: update expects a Uint8Array");
    let filled = this.filled + input.length;
    for (; filled >= this.chunkSize; filled -= this.chunkSize) onChunk(this.chunkSize);
    this.filled = filled;
    return this;
  }

  final(): void {
    const onChunk = this.started("final");
    this.onChunk = undefined;
    const last = this.filled;
    this.filled = 0;
    if (last > 0) onChunk(last);
  }

  private started(method: string): OnChunk {
    if (this.onChunk === undefined) throw new StrataError("KERNEL_STATE", `fixed chunker: ${method} before init (or after final)`);
    return this.onChunk;
  }
}

function isPowerOfTwo(n: number): boolean {
  return Number.isInteger(n) && n > 0 && (n & (n - 1)) === 0 && n <= 2 ** 30;
}
