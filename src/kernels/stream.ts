import { StrataError } from "../errors.js";
import type { ByteTransform } from "./kernel.js";

/** Wraps a byte kernel as a Web TransformStream; output chunks are copies the reader owns. */
export function toTransformStream(kernel: ByteTransform): TransformStream<Uint8Array, Uint8Array> {
  let controller!: TransformStreamDefaultController<Uint8Array>;
  return new TransformStream<Uint8Array, Uint8Array>({
    start(c) {
      controller = c;
      kernel.init((bytes) => controller.enqueue(bytes.slice()));
    },
    transform(chunk) {
      if (!(chunk instanceof Uint8Array)) throw new StrataError("INVALID_ARGUMENT", "stream chunks must be Uint8Array");
      kernel.update(chunk);
    },
    flush() {
      kernel.final();
    },
  });
}

/** Runs a byte kernel over one whole input and returns the whole output. */
export function transformAll(kernel: ByteTransform, input: Uint8Array): Uint8Array {
  const parts: Uint8Array[] = [];
  let total = 0;
  kernel.init((bytes) => {
    parts.push(bytes.slice());
    total += bytes.length;
  });
  kernel.update(input).final();
  return concat(parts, total);
}

export function concat(parts: readonly Uint8Array[], total = parts.reduce((n, p) => n + p.length, 0)): Uint8Array {
  if (parts.length === 1) return parts[0]!;
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
