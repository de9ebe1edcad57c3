/**
 * Stored bytes as byte ranges of files: a layout's blob file, or a member of an archive. Every
 * stream opens its own handle and closes it when it ends or is cancelled.
 */
import { StrataError } from "../errors.js";
import { concat } from "../kernels/stream.js";
import type { FileHandle, FilesPort } from "../ports.js";

export interface BlobRange {
  readonly size: number;
  /** Bytes [offset, offset + length) of the blob, clamped to its end. */
  read(offset: number, length: number): Promise<Uint8Array>;
  stream(): ReadableStream<Uint8Array>;
}

/**
 * Bytes per read of a stream. Every piece is garbage once the next stage has it: 1 MiB pieces,
 * freed back and forth by the C allocator, kept ~20 MiB more resident converting corpus base;
 * 64 KiB pieces saved ~7 MiB more than these but cost ~5% of the conversion's speed.
 */
const STREAM_CHUNK = 256 << 10;

/** Bytes [start, start + size) of the file at `path`. */
export function fileRange(files: FilesPort, path: string, start: number, size: number): BlobRange {
  const readAt = async (fh: FileHandle, offset: number, length: number): Promise<Uint8Array> => {
    const want = Math.max(0, Math.min(length, size - offset));
    const bytes = await fh.read(start + offset, want);
    if (bytes.length < want) {
      throw new StrataError("TRUNCATED", `${path} ended at byte ${start + offset + bytes.length}, expected ${start + size}`, { path });
    }
    return bytes;
  };
  return {
    size,
    async read(offset, length) {
      const fh = await files.open(path);
      try {
        return await readAt(fh, offset, length);
      } finally {
        await fh.close();
      }
    },
    stream() {
      let fh: FileHandle | undefined;
      let at = 0;
      // The next piece is read while the consumer works on this one (reads start at the first pull).
      let ahead: Promise<Uint8Array> | undefined;
      const close = async () => {
        await ahead?.catch(() => {});
        ahead = undefined;
        const h = fh;
        fh = undefined;
        await h?.close();
      };
      return new ReadableStream<Uint8Array>(
        {
          async pull(controller) {
            try {
              fh ??= await files.open(path);
              if (at >= size) {
                await close();
                controller.close();
                return;
              }
              const bytes = await (ahead ?? readAt(fh, at, STREAM_CHUNK));
              at += bytes.length;
              ahead = at < size ? readAt(fh, at, STREAM_CHUNK) : undefined;
              ahead?.catch(() => {}); // surfaced by the next pull
              controller.enqueue(bytes);
            } catch (e) {
              await close().catch(() => {});
              throw e;
            }
          },
          cancel: close,
        },
        { highWaterMark: 0 },
      );
    },
  };
}

/** A blob held in memory (archive members already read, generated test images). */
export function memoryRange(bytes: Uint8Array): BlobRange {
  return {
    size: bytes.length,
    read: async (offset, length) => bytes.subarray(offset, Math.min(bytes.length, offset + length)),
    stream() {
      let at = 0;
      return new ReadableStream<Uint8Array>(
        {
          pull(controller) {
            if (at >= bytes.length) return controller.close();
            controller.enqueue(bytes.slice(at, at + STREAM_CHUNK));
            at += STREAM_CHUNK;
          },
        },
        { highWaterMark: 0 },
      );
    },
  };
}

/** Reads a whole stream (small blobs only: the caller bounds the size first). */
export async function readAll(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of chunks(stream)) {
    parts.push(chunk);
    total += chunk.length;
  }
  return concat(parts, total);
}

/** Async iteration over a Web stream (not every runtime makes ReadableStream iterable). */
export async function* chunks(stream: ReadableStream<Uint8Array>): AsyncGenerator<Uint8Array> {
  const reader = stream.getReader();
  let done = false;
  try {
    for (;;) {
      const r = await reader.read();
      if (r.done) break;
      yield r.value;
    }
    done = true;
  } finally {
    if (!done) await reader.cancel().catch(() => {});
    reader.releaseLock();
  }
}
