/** Streams an image's layers once, in order, through the tar reader into the overlay merge. */
import { isStrataError } from "../errors.js";
import type { Inode } from "../fs/inode.js";
import { Overlay } from "../fs/overlay.js";
import { readTar, type TarEntry, type TarHeader } from "../tar/reader.js";
import type { Image, Layer } from "./types.js";

export interface FlattenOptions {
  /** Sees each regular file's entry with its body unread (to hash or chunk it as it streams). */
  onFile?: (inode: Inode, entry: TarEntry, layer: number) => Promise<void> | void;
  /** Sees every tar entry of a layer, in order, before it is applied (to record the layer). */
  onEntry?: (entry: TarHeader, layer: number) => void;
  /**
   * Asked before each layer is read: true means the caller has applied the layer to `overlay`
   * itself (replayed from a record), and the layer is not read at all.
   */
  beforeLayer?: (index: number, layer: Layer, overlay: Overlay) => Promise<boolean> | boolean;
}

/**
 * The merged tree of `image`. Every layer is verified as it streams (digest, size, diff_id): a
 * mismatch rejects with DIGEST_MISMATCH naming the layer, even when the damage also made the
 * tar unreadable.
 */
export async function flatten(image: Image, options: FlattenOptions = {}): Promise<Inode> {
  const overlay = new Overlay();
  const layers = await image.layers();
  for (const [index, layer] of layers.entries()) {
    if (await options.beforeLayer?.(index, layer, overlay)) continue;
    const reader = layer.uncompressed().getReader();
    const { onFile, onEntry } = options;
    try {
      const entries = readTar(unclosable(reader));
      await overlay.applyLayer(index, onEntry ? tapped(entries, (entry) => onEntry(entry, index)) : entries, onFile && ((inode, entry) => onFile(inode, entry, index)));
    } catch (e) {
      // A tar that stops parsing may be a corrupted blob: the digest check at the end says which.
      if (isStrataError(e, "TAR_CORRUPT") || isStrataError(e, "TRUNCATED")) await drainForDigestError(reader);
      await reader.cancel().catch(() => {});
      throw e;
    } finally {
      reader.releaseLock();
    }
  }
  return overlay.root;
}

async function* tapped(entries: AsyncIterable<TarEntry>, see: (entry: TarEntry) => void): AsyncGenerator<TarEntry> {
  for await (const entry of entries) {
    see(entry);
    yield entry;
  }
}

/** Chunks of `reader`; the tar reader's early exit leaves the reader open for the caller. */
function unclosable(reader: ReadableStreamDefaultReader<Uint8Array>): AsyncIterable<Uint8Array> {
  return {
    [Symbol.asyncIterator]: () => ({
      async next() {
        const r = await reader.read();
        return r.done ? { done: true, value: undefined } : { done: false, value: r.value };
      },
      async return() {
        return { done: true, value: undefined };
      },
    }),
  };
}

/** Reads the rest of a layer: throws its DIGEST_MISMATCH if it has one, else returns quietly. */
async function drainForDigestError(reader: ReadableStreamDefaultReader<Uint8Array>): Promise<void> {
  try {
    while (!(await reader.read()).done);
  } catch (e) {
    if (isStrataError(e, "DIGEST_MISMATCH")) throw e;
  }
}
