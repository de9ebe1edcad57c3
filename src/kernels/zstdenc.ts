import { StrataError } from "../errors.js";
import type { Ports } from "../ports.js";
import type { ChunkCodec } from "./kernel.js";
import { instantiateKernel } from "./wasm.js";

interface ZstdEncExports extends WebAssembly.Exports {
  inputPtr(): number;
  outputPtr(): number;
  maxInput(): number;
  maxLevel(): number;
  compress(length: number, level: number, checksum: number): number;
}

export interface ZstdEncoderOptions {
  /** 1 (fastest: greedy, one hash probe) to 9 (deepest lazy search); default 3. */
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

export async function createZstdEncoder(ports: Ports, options: ZstdEncoderOptions = {}): Promise<ZstdEncoder> {
  const level = options.level ?? DEFAULT_ZSTD_LEVEL;
  const checksum = options.checksum ?? false;
  const kernel = await instantiateKernel<ZstdEncExports>(ports.wasm, "zstdenc");
  const k = kernel.exports;
  const maxLevel = k.maxLevel();
  if (!Number.isInteger(level) || level < 1 || level > maxLevel) {
    throw new StrataError("INVALID_ARGUMENT", `zstd: compression level ${level} is not an integer in 1..${maxLevel}`, { level, max: maxLevel });
  }
  if (typeof checksum !== "boolean") throw new StrataError("INVALID_ARGUMENT", "zstd: checksum must be a boolean", { checksum });
  const inputPtr = k.inputPtr();
  const outputPtr = k.outputPtr();
  const maxInput = k.maxInput();

  return {
    name: "zstd",
    level,
    compress(chunk: Uint8Array): Uint8Array | undefined {
      if (!(chunk instanceof Uint8Array) || chunk.length > maxInput) {
        throw new StrataError("INVALID_ARGUMENT", `zstd: chunk of ${chunk?.length} bytes exceeds the ${maxInput}-byte maximum`, {
          size: chunk?.length,
          max: maxInput,
        });
      }
      kernel.u8.set(chunk, inputPtr);
      const size = k.compress(chunk.length, level, checksum ? 1 : 0);
      return size < chunk.length ? kernel.view(outputPtr, size) : undefined;
    },
  };
}
