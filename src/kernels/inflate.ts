import { type ErrorCode, StrataError } from "../errors.js";
import type { Ports } from "../ports.js";
import type { ByteTransform, Sink } from "./kernel.js";
import { transformAll } from "./stream.js";
import { instantiateKernel } from "./wasm.js";

interface InflateExports extends WebAssembly.Exports {
  inputPtr(): number;
  inputCap(): number;
  chunkPtr(): number;
  chunkLen(): number;
  unconsumed(): number;
  reset(format: number): void;
  push(len: number): number;
  resume(): number;
  finish(): number;
}

export type InflateFormat = "gzip" | "zlib" | "raw";

export interface InflateOptions {
  format: InflateFormat;
  /** Most decompressed bytes accepted before OUTPUT_LIMIT (guards against decompression bombs). */
  maxOutput?: number;
}

const FORMAT_CODE: Record<InflateFormat, number> = { raw: 0, zlib: 1, gzip: 2 };

// Statuses of assembly/inflate.ts; negative results are failure reasons, indexed below.
const OUTPUT_FULL = 1;

const FAILURES: readonly (readonly [ErrorCode, string])[] = [
  ["CORRUPT_DATA", "unknown failure"],
  ["CORRUPT_DATA", "invalid deflate block type 3"],
  ["CORRUPT_DATA", "stored block length does not match its one's complement"],
  ["CORRUPT_DATA", "dynamic block declares too many length or distance codes"],
  ["CORRUPT_DATA", "invalid code-length code"],
  ["CORRUPT_DATA", "code-length repeat with no previous length"],
  ["CORRUPT_DATA", "code-length repeat runs past the last code"],
  ["CORRUPT_DATA", "dynamic block has no end-of-block code"],
  ["CORRUPT_DATA", "over-subscribed or incomplete literal/length code"],
  ["CORRUPT_DATA", "over-subscribed or incomplete distance code"],
  ["CORRUPT_DATA", "invalid literal/length code"],
  ["CORRUPT_DATA", "invalid distance code"],
  ["CORRUPT_DATA", "match distance reaches before the start of the output"],
  ["CORRUPT_DATA", "not a gzip stream (bad magic bytes)"],
  ["CORRUPT_DATA", "unknown compression method"],
  ["CORRUPT_DATA", "reserved gzip header flags are set"],
  ["CHECKSUM_MISMATCH", "gzip header CRC mismatch"],
  ["CORRUPT_DATA", "zlib header check bits are wrong"],
  ["CORRUPT_DATA", "invalid zlib window size"],
  ["UNSUPPORTED", "zlib stream needs a preset dictionary"],
  ["CHECKSUM_MISMATCH", "gzip CRC-32 of the data does not match"],
  ["CHECKSUM_MISMATCH", "gzip ISIZE does not match the data length"],
  ["CHECKSUM_MISMATCH", "zlib Adler-32 of the data does not match"],
  ["TRAILING_DATA", "unexpected bytes after the end of the stream"],
  ["TRUNCATED", "input ended before the end of the stream"],
];

/**
 * A streaming inflater for gzip (multi-member, as bgzip writes), zlib or raw deflate. Output is
 * handed to the sink as views of the kernel's output window, valid only during the sink call.
 *
 * After the last gzip member, zero bytes are accepted as padding (as node:zlib and GNU gzip do);
 * any other trailing byte is TRAILING_DATA, for all formats. Failures carry the compressed byte
 * `offset` at which decoding stopped in their details.
 */
export async function createInflate(ports: Ports, options: InflateOptions): Promise<ByteTransform> {
  const { format, maxOutput = Number.POSITIVE_INFINITY } = options;
  if (!(format in FORMAT_CODE)) throw new StrataError("INVALID_ARGUMENT", `inflate: unknown format ${String(format)}`, { format });
  if (!(maxOutput >= 0)) throw new StrataError("INVALID_ARGUMENT", `inflate: maxOutput ${maxOutput} is not a size`, { maxOutput });
  const kernel = await instantiateKernel<InflateExports>(ports.wasm, "inflate");
  const k = kernel.exports;
  const inputPtr = k.inputPtr();
  const inputCap = k.inputCap();

  let sink: Sink | undefined;
  let fed = 0; // compressed bytes pushed so far
  let produced = 0;

  const fail = (reason: number): never => {
    sink = undefined;
    const [code, what] = FAILURES[reason] ?? FAILURES[0]!;
    const offset = fed - k.unconsumed();
    throw new StrataError(code, `inflate (${format}): ${what} at compressed byte ${offset}`, { format, offset, outputOffset: produced });
  };

  /** Hands out what the last call produced and resumes while the output window was full. */
  const drain = (status: number): void => {
    for (;;) {
      const n = k.chunkLen();
      if (n > 0) {
        produced += n;
        if (produced > maxOutput) {
          sink = undefined;
          throw new StrataError("OUTPUT_LIMIT", `inflate (${format}): output exceeds the ${maxOutput}-byte limit`, {
            format,
            maxOutput,
            offset: fed - k.unconsumed(),
          });
        }
        sink!(kernel.view(k.chunkPtr(), n));
      }
      if (status < 0) fail(-status);
      if (status !== OUTPUT_FULL) return;
      status = k.resume();
    }
  };

  const open = (): Sink => {
    if (!sink) throw new StrataError("KERNEL_STATE", "inflate: update or final without init (or after final or a failure)");
    return sink;
  };

  const transform: ByteTransform = {
    init(s: Sink) {
      sink = s;
      fed = 0;
      produced = 0;
      k.reset(FORMAT_CODE[format]);
      return this;
    },
    update(input: Uint8Array) {
      open();
      for (let at = 0; at < input.length; at += inputCap) {
        const piece = input.subarray(at, at + inputCap);
        kernel.u8.set(piece, inputPtr);
        fed += piece.length;
        drain(k.push(piece.length));
      }
      return this;
    },
    final() {
      open();
      const status = k.finish();
      if (status < 0) fail(-status);
      sink = undefined;
    },
  };
  return transform;
}

/** Inflates one whole stream (a convenience over createInflate + transformAll). */
export async function inflateAll(ports: Ports, data: Uint8Array, options: InflateOptions): Promise<Uint8Array> {
  return transformAll(await createInflate(ports, options), data);
}
