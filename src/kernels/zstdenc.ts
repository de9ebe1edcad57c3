import { StrataError } from "../errors.js";
import type { Ports } from "../ports.js";
import type { ByteTransform, ChunkCodec, Sink } from "./kernel.js";
import { instantiateKernel } from "./wasm.js";

interface ZstdEncExports extends WebAssembly.Exports {
  inputPtr(): number;
  outputPtr(): number;
  maxInput(): number;
  maxLevel(): number;
  compress(length: number, level: number, checksum: number): number;
  streamBegin(level: number, checksum: number): number;
  streamChunk(): number;
  streamReserve(n: number): number;
  streamWrite(n: number): number;
  streamEnd(): number;
}

export interface ZstdEncoderOptions {
  /**
   * 1 (fastest: greedy, one hash table) to 9 (deepest lazy hash-chain search); default 3 (greedy
   * over a long and a short hash table).
   */
  level?: number;
  /** Append the XXH64 content checksum to each frame (off by default, as Nydus stores chunks). */
  checksum?: boolean;
}

/** Compresses Nydus zstd chunks: one single-segment zstd frame per chunk. */
export interface ZstdEncoder extends Pick<ChunkCodec, "compress"> {
  readonly name: "zstd";
  readonly level: number;
}

export const DEFAULT_ZSTD_LEVEL = 3;

/** Instantiates the kernel and checks the options against it. */
async function open(ports: Ports, options: ZstdEncoderOptions) {
  const level = options.level ?? DEFAULT_ZSTD_LEVEL;
  const checksum = options.checksum ?? false;
  const kernel = await instantiateKernel<ZstdEncExports>(ports.wasm, "zstdenc");
  const maxLevel = kernel.exports.maxLevel();
  if (!Number.isInteger(level) || level < 1 || level > maxLevel) {
    throw new StrataError("INVALID_ARGUMENT", `zstd: compression level ${level} is not an integer in 1..${maxLevel}`, { level, max: maxLevel });
  }
  if (typeof checksum !== "boolean") throw new StrataError("INVALID_ARGUMENT", "zstd: checksum must be a boolean", { checksum });
  return { kernel, level, checksum };
}

export async function createZstdEncoder(ports: Ports, options: ZstdEncoderOptions = {}): Promise<ZstdEncoder> {
  const { kernel, level, checksum } = await open(ports, options);
  const k = kernel.exports;
  const inputPtr = k.inputPtr();
  const outputPtr = k.outputPtr();
  const maxInput = k.maxInput();

  return {
    name: "zstd",
    level,
    compress(chunk: Uint8Array): Uint8Array | undefined {
      if (!(chunk instanceof Uint8Array)) throw new StrataError("INVALID_ARGUMENT", "zstd: a chunk must be a Uint8Array");
      if (chunk.length > maxInput) {
        throw new StrataError("INVALID_ARGUMENT", `zstd: chunk of ${chunk.length} bytes exceeds the ${maxInput}-byte maximum`, {
          size: chunk.length,
          max: maxInput,
        });
      }
      kernel.u8.set(chunk, inputPtr);
      const size = k.compress(chunk.length, level, checksum ? 1 : 0);
      return size < chunk.length ? kernel.view(outputPtr, size) : undefined;
    },
  };
}

/**
 * A streaming zstd compressor: one frame of any length (8 MiB window, no content size), emitted
 * block by block as input arrives. Use with toTransformStream or transformAll.
 */
export async function createZstdCompressor(ports: Ports, options: ZstdEncoderOptions = {}): Promise<ByteTransform> {
  const { kernel, level, checksum } = await open(ports, options);
  const k = kernel.exports;
  const outputPtr = k.outputPtr();
  const piece = k.streamChunk();
  let sink: Sink | undefined;

  const emit = (size: number) => {
    if (size < 0) throw new StrataError("KERNEL_STATE", "zstd: the stream compressor rejected its input", { result: size });
    if (size > 0) sink!(kernel.view(outputPtr, size));
  };
  const requireStarted = () => {
    if (!sink) throw new StrataError("KERNEL_STATE", "zstd: the stream compressor was used before init or after final");
  };

  const compressor: ByteTransform = {
    init(s: Sink) {
      sink = s;
      emit(k.streamBegin(level, checksum ? 1 : 0));
      return this;
    },
    update(input: Uint8Array) {
      requireStarted();
      if (!(input instanceof Uint8Array)) throw new StrataError("INVALID_ARGUMENT", "zstd: stream input must be a Uint8Array");
      for (let at = 0; at < input.length; at += piece) {
        const part = input.subarray(at, Math.min(at + piece, input.length));
        kernel.u8.set(part, k.streamReserve(part.length));
        emit(k.streamWrite(part.length));
      }
      return this;
    },
    final() {
      requireStarted();
      emit(k.streamEnd());
      sink = undefined;
    },
  };
  return compressor;
}
