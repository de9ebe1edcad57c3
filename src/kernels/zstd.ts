import { type ErrorCode, StrataError } from "../errors.js";
import type { Ports } from "../ports.js";
import type { ByteTransform, Sink } from "./kernel.js";
import { instantiateKernel, type WasmInstance } from "./wasm.js";

interface ZstdExports extends WebAssembly.Exports {
  reset(maxWindow: number): void;
  inputPtr(): number;
  inputSpace(): number;
  pushed(n: number): void;
  run(): number;
  outputPtr(): number;
  outputLen(): number;
  errorOffset(): number;
  receivedBytes(): number;
  atFrameBoundary(): number;
  chunkInput(len: number, size: number): number;
  chunkDecode(len: number, size: number): number;
}

/** Largest history window accepted unless the caller lowers it. */
export const DEFAULT_MAX_WINDOW = 128 << 20;
/** Largest window a caller may allow (the wasm memory must hold it plus room for new blocks). */
const WINDOW_CEILING = 1 << 30;
/** Largest chunk the one-shot path decodes (RAFS chunks are at most 16 MiB). */
const MAX_CHUNK = 256 << 20;

const NEED_INPUT = 0;
const OUTPUT = 1;

/** Kernel error results → strata code and what failed. */
const FAILURES: Record<number, [ErrorCode, string]> = {
  [-1]: ["CORRUPT_DATA", "not a zstd frame (bad magic number)"],
  [-2]: ["CORRUPT_DATA", "a reserved field is set"],
  [-3]: ["UNSUPPORTED", "the frame needs a dictionary"],
  [-4]: ["UNSUPPORTED", "the frame's window is larger than allowed"],
  [-5]: ["CORRUPT_DATA", "a block is larger than the block size limit"],
  [-6]: ["CORRUPT_DATA", "the literals section is malformed"],
  [-7]: ["CORRUPT_DATA", "the Huffman literals are malformed"],
  [-8]: ["CORRUPT_DATA", "an FSE table description is malformed"],
  [-9]: ["CORRUPT_DATA", "the sequences section is malformed"],
  [-10]: ["CORRUPT_DATA", "a match offset reaches outside the window"],
  [-11]: ["CORRUPT_DATA", "the frame's content size does not match its blocks"],
  [-12]: ["CHECKSUM_MISMATCH", "the content checksum does not match"],
  [-13]: ["OUTPUT_LIMIT", "the decoder's memory cannot grow to the frame's window"],
  [-14]: ["CORRUPT_DATA", "the frames decode to more than the expected size"],
  [-15]: ["TRUNCATED", "the input ends inside a frame"],
};

function failure(result: number, k: ZstdExports, extra: Record<string, unknown> = {}): StrataError {
  const [code, what] = FAILURES[result] ?? ["CORRUPT_DATA", `unknown decoder result ${result}`];
  const offset = k.errorOffset();
  return new StrataError(code, `zstd: ${what} (frame or block at byte ${offset})`, { offset, ...extra });
}

function checkWindow(maxWindow: number): void {
  if (!Number.isInteger(maxWindow) || maxWindow < 1024 || maxWindow > WINDOW_CEILING) {
    throw new StrataError("INVALID_ARGUMENT", `zstd: maxWindow ${maxWindow} is not in 1024..${WINDOW_CEILING}`, { maxWindow });
  }
}

/**
 * A streaming zstd decompressor: any number of frames (skippable frames are skipped), pushed in
 * pieces of any size. Memory stays bounded by the frames' window (at most `maxWindow`, default
 * 128 MiB), not by the content size. Output goes to the sink as views valid during the call.
 */
export async function createZstdDecoder(
  ports: Ports,
  options: { maxOutput?: number; maxWindow?: number } = {},
): Promise<ByteTransform> {
  const maxWindow = options.maxWindow ?? DEFAULT_MAX_WINDOW;
  const maxOutput = options.maxOutput ?? Number.POSITIVE_INFINITY;
  checkWindow(maxWindow);
  if (!(maxOutput >= 0)) {
    throw new StrataError("INVALID_ARGUMENT", `zstd: maxOutput ${maxOutput} is not a size`, { maxOutput });
  }
  const kernel: WasmInstance<ZstdExports> = await instantiateKernel<ZstdExports>(ports.wasm, "zstd");
  const k = kernel.exports;
  let sink: Sink | undefined;
  let produced = 0;

  /** Runs the kernel until it needs input, handing every output piece to the sink. */
  function drain(): void {
    for (;;) {
      const r = k.run();
      if (r === NEED_INPUT) return;
      if (r !== OUTPUT) throw failure(r, k);
      const len = k.outputLen();
      produced += len;
      if (produced > maxOutput) {
        throw new StrataError("OUTPUT_LIMIT", `zstd: output exceeds the ${maxOutput}-byte limit`, {
          limit: maxOutput,
          offset: k.receivedBytes(),
        });
      }
      sink!(kernel.view(k.outputPtr(), len));
    }
  }

  const transform: ByteTransform = {
    init(s: Sink) {
      sink = s;
      produced = 0;
      k.reset(maxWindow);
      return transform;
    },
    update(input: Uint8Array) {
      if (!sink) throw new StrataError("KERNEL_STATE", "zstd: update before init or after final");
      let at = 0;
      while (at < input.length) {
        const n = Math.min(k.inputSpace(), input.length - at);
        kernel.u8.set(input.subarray(at, at + n), k.inputPtr());
        k.pushed(n);
        at += n;
        drain();
      }
      return transform;
    },
    final() {
      if (!sink) throw new StrataError("KERNEL_STATE", "zstd: final before init or called twice");
      drain();
      sink = undefined;
      if (!k.atFrameBoundary()) {
        const offset = k.receivedBytes();
        throw new StrataError("TRUNCATED", `zstd: input ends inside a frame at byte ${offset}`, { offset });
      }
    },
  };
  return transform;
}

export interface ZstdChunkDecoder {
  /**
   * Decodes one or more whole frames that make exactly `size` bytes (a Nydus chunk), straight into
   * the output window. A view valid until the next call; a wrong size is CORRUPT_DATA.
   */
  decompress(data: Uint8Array, size: number): Uint8Array;
}

/** One-shot decoding of compressed chunks whose uncompressed size is known. */
export async function createZstdChunkDecoder(ports: Ports): Promise<ZstdChunkDecoder> {
  const kernel = await instantiateKernel<ZstdExports>(ports.wasm, "zstd");
  const k = kernel.exports;
  return {
    decompress(data: Uint8Array, size: number): Uint8Array {
      if (!Number.isInteger(size) || size < 0 || size > MAX_CHUNK) {
        throw new StrataError("INVALID_ARGUMENT", `zstd: chunk size ${size} is not in 0..${MAX_CHUNK}`, { size });
      }
      if (data.length > MAX_CHUNK) {
        throw new StrataError("CORRUPT_DATA", `zstd: ${data.length} compressed bytes for a ${size}-byte chunk`, {
          size,
          compressedSize: data.length,
        });
      }
      const input = k.chunkInput(data.length, size);
      if (input === 0) {
        throw new StrataError("OUTPUT_LIMIT", `zstd: no memory for a ${size}-byte chunk`, { size, compressedSize: data.length });
      }
      kernel.u8.set(data, input);
      const r = k.chunkDecode(data.length, size);
      const details = { size, compressedSize: data.length };
      if (r < 0) throw failure(r, k, details);
      if (r !== size) {
        throw new StrataError("CORRUPT_DATA", `zstd: chunk decodes to ${r} bytes, expected ${size}`, { ...details, decoded: r });
      }
      return kernel.view(k.outputPtr(), size);
    },
  };
}
