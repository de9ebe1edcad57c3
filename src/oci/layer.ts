/**
 * A layer backed by a stored byte range. Both streams verify what they deliver: compressed()
 * against the descriptor's digest and size, uncompressed() additionally against the diff_id.
 */
import { StrataError } from "../errors.js";
import type { BlobRange } from "./blob.js";
import { decompressor, mediaTypeCompression, sniffCompression, type OciKernels } from "./decompress.js";
import type { Compression, Descriptor, Layer } from "./types.js";
import { verifying } from "./verify.js";

export interface LayerSource {
  kernels: OciKernels;
  blob: BlobRange;
  descriptor: Descriptor;
  diffId: string;
  /** Position in the manifest, for messages. */
  index: number;
  /** Where oddities (media type vs bytes) are reported. */
  warnings: string[];
}

export function storedLayer(src: LayerSource): Layer {
  const { kernels, blob, descriptor, diffId } = src;
  const what = `layer ${src.index} (${descriptor.digest})`;
  let sniffed: Promise<Compression> | undefined;
  const compression = () =>
    (sniffed ??= blob.read(0, 4).then((head) => {
      const bytes = sniffCompression(head);
      const declared = mediaTypeCompression(descriptor.mediaType);
      if (declared !== undefined && declared !== bytes) {
        src.warnings.push(`${what}: media type ${descriptor.mediaType} says ${declared} but the bytes are ${bytes}; reading them as ${bytes}`);
      }
      return bytes;
    }));

  const compressed = () => blob.stream().pipeThrough(verifying(kernels, { digest: descriptor.digest, size: descriptor.size, what }));

  return {
    digest: descriptor.digest,
    diffId,
    mediaType: descriptor.mediaType,
    size: descriptor.size,
    compression,
    compressed,
    uncompressed() {
      const out = new TransformStream<Uint8Array, Uint8Array>();
      (async () => {
        const codec = await decompressor(kernels, await compression());
        return compressed()
          .pipeThrough(codec)
          .pipeThrough(verifying(kernels, { digest: diffId, what: `uncompressed ${what} (diff_id)` }))
          .pipeTo(out.writable);
      })().catch((e: unknown) => {
        // pipeTo has already errored `out` when the failure came from inside the pipe.
        out.writable.abort(wrap(e, what)).catch(() => {});
      });
      return out.readable;
    },
  };
}

function wrap(e: unknown, what: string): unknown {
  if (e instanceof StrataError) return e;
  return new StrataError("IO", `${what}: ${(e as Error)?.message ?? String(e)}`, {}, { cause: e });
}
