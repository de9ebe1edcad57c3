import { StrataError } from "../errors.js";
import type { Ports } from "../ports.js";
import type { ChunkCodec } from "./kernel.js";
import { instantiateKernel } from "./wasm.js";

interface Lz4Exports extends WebAssembly.Exports {
  inputPtr(): number;
  outputPtr(): number;
  maxInput(): number;
  maxCompressed(): number;
  compress(srcLen: number): number;
  decompress(srcLen: number, dstLen: number): number;
}

/**
 * The lz4_block chunk codec: one raw LZ4 block per chunk, exactly as Nydus stores them (no frame,
 * no size prefix; the uncompressed size comes from the chunk record). Chunks up to 16 MiB.
 */
export async function createLz4(ports: Ports): Promise<ChunkCodec> {
  const kernel = await instantiateKernel<Lz4Exports>(ports.wasm, "lz4");
  const k = kernel.exports;
  const inputPtr = k.inputPtr();
  const outputPtr = k.outputPtr();
  const maxInput = k.maxInput();
  const maxCompressed = k.maxCompressed();

  return {
    name: "lz4_block",

    compress(chunk: Uint8Array): Uint8Array | undefined {
      if (!(chunk instanceof Uint8Array)) throw new StrataError("INVALID_ARGUMENT", "lz4: a chunk must be a Uint8Array");
      if (chunk.length > maxInput) {
        throw new StrataError("INVALID_ARGUMENT", `lz4: chunk of ${chunk.length} bytes exceeds the ${maxInput}-byte maximum`, {
          size: chunk.length,
          max: maxInput,
        });
      }
      kernel.u8.set(chunk, inputPtr);
      const size = k.compress(chunk.length);
      return size < chunk.length ? kernel.view(outputPtr, size) : undefined;
    },

    decompress(data: Uint8Array, size: number): Uint8Array {
      if (!(data instanceof Uint8Array)) throw new StrataError("INVALID_ARGUMENT", "lz4: compressed data must be a Uint8Array");
      if (!Number.isInteger(size) || size < 0 || size > maxInput) {
        throw new StrataError("INVALID_ARGUMENT", `lz4: uncompressed size ${size} is not in 0..${maxInput}`, { size, max: maxInput });
      }
      if (data.length > maxCompressed) {
        throw new StrataError("CORRUPT_DATA", `lz4: block of ${data.length} bytes is larger than any ${size}-byte chunk compresses to`, {
          compressedSize: data.length,
          size,
        });
      }
      kernel.u8.set(data, inputPtr);
      const result = k.decompress(data.length, size);
      if (result !== size) {
        throw new StrataError("CORRUPT_DATA", `lz4: block of ${data.length} bytes does not decode to exactly ${size} bytes`, {
          compressedSize: data.length,
          size,
        });
      }
      return kernel.view(outputPtr, size);
    },
  };
}
