import { StrataError } from "../errors.js";
import type { NativeSha256, Ports } from "../ports.js";
import type { Hasher } from "./kernel.js";
import { instantiateKernel, type WasmInstance } from "./wasm.js";

interface Sha256Exports extends WebAssembly.Exports {
  inputPtr(): number;
  outputPtr(): number;
  sizesPtr(): number;
  windowSize(): number;
  maxBatch(): number;
  reset(): void;
  update(len: number): number;
  final(): void;
  hashMany(count: number): number;
  save(): void;
  restore(): void;
}

const DIGEST_SIZE = 32;

/** Creates a SHA-256 hasher backed by the wasm kernel (the portable one, correct everywhere). */
export async function createSha256(ports: Ports): Promise<Hasher> {
  return new Sha256(await instantiateKernel<Sha256Exports>(ports.wasm, "sha256"));
}

/** A streaming SHA-256 for large data (whole layers): feed it in pieces, then await the digest. */
export interface StreamingSha256 {
  update(data: Uint8Array): void;
  /** The digest of everything fed; the stream is finished afterwards. */
  digest(): Promise<Uint8Array>;
}

/**
 * A streaming SHA-256 that prefers the runtime's native one (`ports.sha256`: OpenSSL in Node,
 * SHA extensions on most CPUs) and falls back to the wasm kernel where there is none.
 */
export async function createStreamingSha256(ports: Ports): Promise<StreamingSha256> {
  let finished = false;
  const live = (method: string) => {
    if (finished) throw new StrataError("KERNEL_STATE", `sha256: ${method} after digest`);
  };
  if (ports.sha256) {
    const native = ports.sha256.create();
    return {
      update(data) {
        bytes(data, "update");
        live("update");
        native.update(data);
      },
      async digest() {
        live("digest");
        finished = true;
        return native.digest();
      },
    };
  }
  const hasher = (await createSha256(ports)).init();
  return {
    update(data) {
      bytes(data, "update");
      live("update");
      hasher.update(data);
    },
    async digest() {
      live("digest");
      finished = true;
      return hasher.final();
    },
  };
}

/**
 * The runtime's SHA-256 as a Hasher when it digests synchronously (node:crypto does;
 * crypto.DigestStream does not): several times the kernel's speed for whole layers.
 */
export function createNativeSha256(ports: Ports): Hasher | undefined {
  const native = ports.sha256;
  if (!native) return undefined;
  const probe = native.create().digest();
  if (!(probe instanceof Uint8Array)) {
    probe.catch(() => {});
    return undefined;
  }
  return new NativeSha256Hasher(native);
}

class NativeSha256Hasher implements Hasher {
  readonly algorithm = "sha256";
  readonly digestSize = DIGEST_SIZE;
  private stream: ReturnType<NativeSha256["create"]> | undefined;

  constructor(private readonly native: NativeSha256) {}

  init(): this {
    this.stream = this.native.create();
    return this;
  }

  update(input: Uint8Array): this {
    bytes(input, "update");
    if (!this.stream) throw new StrataError("KERNEL_STATE", "sha256: update after final (call init first)");
    this.stream.update(input);
    return this;
  }

  final(): Uint8Array {
    if (!this.stream) throw new StrataError("KERNEL_STATE", "sha256: final called twice (call init first)");
    const digest = this.stream.digest() as Uint8Array;
    this.stream = undefined;
    return digest;
  }

  digest(data: Uint8Array): Uint8Array {
    bytes(data, "digest");
    const stream = this.native.create();
    stream.update(data);
    return stream.digest() as Uint8Array;
  }

  digestMany(data: Uint8Array, sizes: ArrayLike<number>): Uint8Array {
    bytes(data, "digestMany");
    const out = new Uint8Array(sizes.length * DIGEST_SIZE);
    let offset = 0;
    for (let i = 0; i < sizes.length; i++) {
      const size = sizes[i]!;
      if (!Number.isInteger(size) || size < 0 || offset + size > data.length) {
        throw new StrataError("INVALID_ARGUMENT", `sha256: digestMany size ${i} is not a byte count within the data`, { index: i });
      }
      out.set(this.digest(data.subarray(offset, offset + size)), i * DIGEST_SIZE);
      offset += size;
    }
    return out;
  }
}

class Sha256 implements Hasher {
  readonly algorithm = "sha256";
  readonly digestSize = DIGEST_SIZE;
  private readonly k: Sha256Exports;
  private readonly window: number;
  private finished = false;

  constructor(private readonly kernel: WasmInstance<Sha256Exports>) {
    this.k = kernel.exports;
    this.window = this.k.windowSize();
    this.k.reset();
  }

  init(): this {
    this.k.reset();
    this.finished = false;
    return this;
  }

  update(input: Uint8Array): this {
    bytes(input, "update");
    if (this.finished) throw new StrataError("KERNEL_STATE", "sha256: update after final (call init first)");
    this.feed(input);
    return this;
  }

  final(): Uint8Array {
    if (this.finished) throw new StrataError("KERNEL_STATE", "sha256: final called twice (call init first)");
    this.finished = true;
    this.k.final();
    return this.digestAt(0);
  }

  digest(data: Uint8Array): Uint8Array {
    bytes(data, "digest");
    if (data.length <= this.window) return this.digestMany(data, [data.length]);
    // Larger than the window: stream it, keeping any stream in progress aside.
    this.k.save();
    this.k.reset();
    this.feed(data);
    this.k.final();
    const out = this.digestAt(0);
    this.k.restore();
    return out;
  }

  digestMany(data: Uint8Array, sizes: ArrayLike<number>): Uint8Array {
    bytes(data, "digestMany");
    const count = sizes?.length;
    if (typeof count !== "number") throw new StrataError("INVALID_ARGUMENT", "sha256: digestMany sizes must be an array of byte counts");
    let total = 0;
    for (let i = 0; i < count; i++) {
      const size = sizes[i];
      if (typeof size !== "number" || !Number.isInteger(size) || size < 0) throw new StrataError("INVALID_ARGUMENT", `sha256: digestMany size ${i} is not a byte count`, { index: i });
      total += size;
    }
    if (total > data.length) throw new StrataError("INVALID_ARGUMENT", `sha256: digestMany sizes sum to ${total} bytes but data has ${data.length}`);
    const out = new Uint8Array(count * DIGEST_SIZE);
    const { k, window } = this;
    const maxBatch = k.maxBatch();
    let i = 0;
    let offset = 0;
    while (i < count) {
      if (sizes[i]! > window) {
        out.set(this.digest(data.subarray(offset, offset + sizes[i]!)), i * DIGEST_SIZE);
        offset += sizes[i++]!;
        continue;
      }
      let end = i;
      let length = 0;
      while (end < count && end - i < maxBatch && length + sizes[end]! <= window) length += sizes[end++]!;
      const u8 = this.kernel.u8;
      u8.set(data.subarray(offset, offset + length), k.inputPtr());
      const sizeView = new Uint32Array(u8.buffer, k.sizesPtr(), end - i);
      for (let j = i; j < end; j++) sizeView[j - i] = sizes[j]!;
      if (k.hashMany(end - i) !== 0) throw new StrataError("INVALID_ARGUMENT", `sha256: kernel rejected a batch of ${end - i} inputs`);
      const o = k.outputPtr();
      out.set(this.kernel.u8.subarray(o, o + (end - i) * DIGEST_SIZE), i * DIGEST_SIZE);
      offset += length;
      i = end;
    }
    return out;
  }

  private feed(data: Uint8Array): void {
    const input = this.k.inputPtr();
    for (let at = 0; at < data.length; at += this.window) {
      const piece = data.subarray(at, at + this.window);
      this.kernel.u8.set(piece, input);
      this.k.update(piece.length);
    }
  }

  private digestAt(index: number): Uint8Array {
    const o = this.k.outputPtr() + index * DIGEST_SIZE;
    return this.kernel.u8.slice(o, o + DIGEST_SIZE);
  }
}

function bytes(data: unknown, method: string): asserts data is Uint8Array {
  if (!(data instanceof Uint8Array)) throw new StrataError("INVALID_ARGUMENT", `sha256: ${method} expects a Uint8Array`, { method });
}
