import { StrataError } from "../errors.js";
import type { Ports } from "../ports.js";
import type { Hasher } from "./kernel.js";
import { instantiateKernel, type WasmInstance } from "./wasm.js";

interface Blake3Exports extends WebAssembly.Exports {
  inputPtr(): number;
  windowSize(): number;
  sizesPtr(): number;
  outputPtr(): number;
  maxBatch(): number;
  keyPtr(): number;
  configure(flags: number): number;
  reset(stream: number): void;
  update(stream: number, len: number): number;
  final(stream: number): number;
  hashMany(count: number): number;
}

export interface Blake3Options {
  /** 32-byte key: keyed_hash mode (a MAC). */
  key?: Uint8Array;
  /** Context string: derive_key mode, the input being the key material. Excludes `key`. */
  deriveKeyContext?: string;
}

const DIGEST_SIZE = 32;
const KEY_SIZE = 32;
// Mode flags of the kernel's configure().
const KEYED_HASH = 16;
const DERIVE_KEY_CONTEXT = 32;
const DERIVE_KEY_MATERIAL = 64;
// The kernel's two streams.
const STREAM = 0;
const ONE_SHOT = 1;

/**
 * Creates a BLAKE3 hasher (32-byte digests): plain, keyed (`key`) or derive_key
 * (`deriveKeyContext`). Its stream is open from the start; after final, init opens a new one.
 */
export async function createBlake3(ports: Ports, options: Blake3Options = {}): Promise<Hasher> {
  const { key, deriveKeyContext } = options;
  if (key !== undefined && !(key instanceof Uint8Array && key.length === KEY_SIZE)) {
    throw new StrataError("INVALID_ARGUMENT", `blake3: key must be a ${KEY_SIZE}-byte Uint8Array`, { option: "key" });
  }
  if (deriveKeyContext !== undefined && typeof deriveKeyContext !== "string") {
    throw new StrataError("INVALID_ARGUMENT", "blake3: deriveKeyContext must be a string", { option: "deriveKeyContext" });
  }
  if (key !== undefined && deriveKeyContext !== undefined) {
    throw new StrataError("INVALID_ARGUMENT", "blake3: key and deriveKeyContext are exclusive modes", {});
  }
  return new Blake3(await instantiateKernel<Blake3Exports>(ports.wasm, "blake3"), key, deriveKeyContext);
}

class Blake3 implements Hasher {
  readonly algorithm = "blake3";
  readonly digestSize = DIGEST_SIZE;
  private readonly k: Blake3Exports;
  private readonly inputPtr: number;
  private readonly outputPtr: number;
  private readonly sizesPtr: number;
  private readonly window: number;
  private readonly maxBatch: number;
  private finished = false;

  constructor(
    private readonly kernel: WasmInstance<Blake3Exports>,
    key: Uint8Array | undefined,
    deriveKeyContext: string | undefined,
  ) {
    const k = kernel.exports;
    this.k = k;
    this.inputPtr = k.inputPtr();
    this.outputPtr = k.outputPtr();
    this.sizesPtr = k.sizesPtr();
    this.window = k.windowSize();
    this.maxBatch = k.maxBatch();
    if (deriveKeyContext !== undefined) {
      // derive_key: the context string, hashed in its own mode, becomes the key.
      this.configure(DERIVE_KEY_CONTEXT);
      const contextKey = this.digest(new TextEncoder().encode(deriveKeyContext));
      this.configure(DERIVE_KEY_MATERIAL, contextKey);
    } else if (key !== undefined) {
      this.configure(KEYED_HASH, key);
    } else {
      this.configure(0);
    }
  }

  private configure(flags: number, key?: Uint8Array): void {
    if (key) this.kernel.u8.set(key, this.k.keyPtr());
    this.k.configure(flags);
  }

  init(): this {
    this.k.reset(STREAM);
    this.finished = false;
    return this;
  }

  update(input: Uint8Array): this {
    checkBytes(input, "update");
    if (this.finished) throw new StrataError("KERNEL_STATE", "blake3: update after final (call init first)", {});
    this.feed(STREAM, input);
    return this;
  }

  final(): Uint8Array {
    if (this.finished) throw new StrataError("KERNEL_STATE", "blake3: final called twice (call init first)", {});
    this.finished = true;
    this.k.final(STREAM);
    return this.kernel.u8.slice(this.outputPtr, this.outputPtr + DIGEST_SIZE);
  }

  digest(data: Uint8Array): Uint8Array {
    checkBytes(data, "digest");
    this.k.reset(ONE_SHOT);
    this.feed(ONE_SHOT, data);
    this.k.final(ONE_SHOT);
    return this.kernel.u8.slice(this.outputPtr, this.outputPtr + DIGEST_SIZE);
  }

  digestMany(data: Uint8Array, sizes: ArrayLike<number>): Uint8Array {
    checkBytes(data, "digestMany");
    if (sizes === null || typeof sizes !== "object" || typeof sizes.length !== "number") {
      throw new StrataError("INVALID_ARGUMENT", "blake3: digestMany sizes must be an array of byte counts", {});
    }
    const count = sizes.length;
    let total = 0;
    for (let i = 0; i < count; i++) {
      const size = sizes[i];
      if (typeof size !== "number" || !Number.isInteger(size) || size < 0) {
        throw new StrataError("INVALID_ARGUMENT", `blake3: digestMany size ${i} is not a byte count: ${String(size)}`, { index: i });
      }
      total += size;
    }
    if (total > data.length) {
      throw new StrataError("INVALID_ARGUMENT", `blake3: digestMany sizes sum to ${total} bytes but data has ${data.length}`, {
        total,
        length: data.length,
      });
    }

    const out = new Uint8Array(count * DIGEST_SIZE);
    const { k, window, maxBatch, inputPtr, sizesPtr, outputPtr } = this;
    let i = 0;
    let offset = 0;
    while (i < count) {
      const first = sizes[i]!;
      if (first > window) {
        // Larger than the window: stream it through in window-sized pieces.
        out.set(this.digest(data.subarray(offset, offset + first)), i * DIGEST_SIZE);
        offset += first;
        i++;
        continue;
      }
      // As many consecutive inputs as fit the window, digested in one call.
      let end = i;
      let bytes = 0;
      while (end < count && end - i < maxBatch && bytes + sizes[end]! <= window) bytes += sizes[end++]!;
      const u8 = this.kernel.u8;
      u8.set(data.subarray(offset, offset + bytes), inputPtr);
      const sizesView = new Uint32Array(u8.buffer, sizesPtr, end - i);
      for (let j = i; j < end; j++) sizesView[j - i] = sizes[j]!;
      if (k.hashMany(end - i) !== 0) {
        throw new StrataError("INVALID_ARGUMENT", `blake3: kernel rejected a batch of ${end - i} inputs (${bytes} bytes)`, { count: end - i, bytes });
      }
      out.set(u8.subarray(outputPtr, outputPtr + (end - i) * DIGEST_SIZE), i * DIGEST_SIZE);
      offset += bytes;
      i = end;
    }
    return out;
  }

  /** Feeds `data` to a kernel stream, one window at a time. */
  private feed(stream: number, data: Uint8Array): void {
    const { k, window, inputPtr } = this;
    const u8 = this.kernel.u8;
    if (data.length <= window) {
      u8.set(data, inputPtr);
      k.update(stream, data.length);
      return;
    }
    for (let at = 0; at < data.length; at += window) {
      const piece = data.subarray(at, at + window);
      u8.set(piece, inputPtr);
      k.update(stream, piece.length);
    }
  }
}

function checkBytes(data: unknown, method: string): asserts data is Uint8Array {
  if (!(data instanceof Uint8Array)) {
    throw new StrataError("INVALID_ARGUMENT", `blake3: ${method} expects a Uint8Array, got ${describe(data)}`, { method });
  }
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (typeof value === "object") return (value as object).constructor?.name ?? "object";
  return typeof value;
}
