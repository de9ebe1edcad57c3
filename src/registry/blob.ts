/**
 * A registry blob as a BlobRange: reads are HTTP Range GETs, the full stream resumes with a Range
 * from where a dropped or truncated connection stopped, and (given a SHA-256) is checked against
 * the blob's digest before it closes.
 */
import { StrataError } from "../errors.js";
import type { BlobRange } from "../oci/blob.js";
import type { OciKernels } from "../oci/decompress.js";
import { verifying } from "../oci/verify.js";
import { unexpected, type RegistryClient } from "./client.js";

export interface RegistryBlobOptions {
  /** With it, stream() errors with DIGEST_MISMATCH instead of closing when the bytes are wrong. */
  kernels?: Pick<OciKernels, "sha256">;
}

/** What a body read delivered before it ended or failed. */
interface Received {
  length: number;
  error?: unknown;
}

/**
 * Blob `digest` (`size` bytes) of `repository`. read() verifies lengths only (the caller checks
 * chunk digests); stream() verifies the digest when `options.kernels` is given.
 */
export function registryBlob(client: RegistryClient, repository: string, digest: string, size: number, options: RegistryBlobOptions = {}): BlobRange {
  const what = `blob ${digest} in ${client.where(repository)}`;

  /** One GET from `start` (to `end` exclusive); its response checked and the body's offset returned. */
  const open = async (start: number, end: number): Promise<{ body: ReadableStream<Uint8Array>; skip: number }> => {
    const res = await client.send({
      method: "GET",
      repository,
      path: `blobs/${digest}`,
      headers: start > 0 || end < size ? { range: `bytes=${start}-${end - 1}` } : {},
      actions: "pull",
      mirrored: true,
    });
    if (res.status === 206) {
      const first = /^bytes (\d+)-/.exec(res.headers.get("content-range") ?? "");
      if (!first || Number(first[1]) !== start) {
        await res.body?.cancel();
        throw new StrataError("REGISTRY", `${what}: asked for bytes from ${start}, got ${res.headers.get("content-range") ?? "no Content-Range"}`, { digest, offset: start });
      }
    } else if (res.status !== 200) {
      throw await unexpected(res, what);
    }
    if (!res.body) throw new StrataError("REGISTRY", `${what}: response has no body`, { digest });
    // A server that ignores Range answers 200 with the whole blob: skip to `start`.
    return { body: res.body, skip: res.status === 200 ? start : 0 };
  };

  /**
   * Counts a dropped or short body at byte `at` and waits before reconnecting; throws once the
   * retry budget is spent without progress (progress starts the count again).
   */
  const retrier = () => {
    let failures = 0;
    let failedAt = -1;
    return async (at: number, cause?: unknown): Promise<void> => {
      failures = at > failedAt ? 1 : failures + 1;
      failedAt = at;
      if (failures >= client.retry.attempts) throw dropped(what, at, cause);
      await client.pause(failures);
    };
  };

  /** Bytes [start, end), resuming after dropped connections. */
  const fetchRange = async (start: number, end: number): Promise<Uint8Array> => {
    const out = new Uint8Array(end - start);
    const failed = retrier();
    for (let at = start; at < end; ) {
      const got = await receive(await open(at, end), end - at, out.subarray(at - start));
      at += got.length;
      if (at < end) await failed(at, got.error);
    }
    return out;
  };

  return {
    size,
    read(offset, length) {
      const start = Math.max(0, Math.min(offset, size));
      const end = Math.min(size, start + Math.max(0, length));
      if (end <= start) return Promise.resolve(new Uint8Array(0));
      return client.limiter.run(() => fetchRange(start, end));
    },
    stream() {
      let at = 0;
      const failed = retrier();
      let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
      let skip = 0;
      const raw = new ReadableStream<Uint8Array>(
        {
          async pull(controller) {
            for (;;) {
              if (at >= size) {
                await reader?.cancel().catch(() => {});
                controller.close();
                return;
              }
              if (!reader) {
                const opened = await open(at, size);
                reader = opened.body.getReader();
                skip = opened.skip;
              }
              let r: ReadableStreamReadResult<Uint8Array>;
              try {
                r = await reader.read();
              } catch (e) {
                reader = undefined;
                await failed(at, e);
                continue;
              }
              if (r.done) {
                // Ended early (a truncated body): ask for the rest.
                reader = undefined;
                await failed(at);
                continue;
              }
              let chunk = r.value;
              if (skip > 0) {
                const drop = Math.min(skip, chunk.length);
                skip -= drop;
                chunk = chunk.subarray(drop);
                if (chunk.length === 0) continue;
              }
              if (at + chunk.length > size) {
                await reader.cancel().catch(() => {});
                throw new StrataError("DIGEST_MISMATCH", `${what} is longer than its ${size} bytes`, { digest, size });
              }
              at += chunk.length;
              controller.enqueue(chunk);
              return;
            }
          },
          async cancel() {
            await reader?.cancel().catch(() => {});
          },
        },
        { highWaterMark: 0 },
      );
      return options.kernels ? raw.pipeThrough(verifying(options.kernels as OciKernels, { digest, size, what })) : raw;
    },
  };
}

/** Reads a body into `into` (from its `skip`th byte), stopping at a failure or `into`'s end. */
async function receive(opened: { body: ReadableStream<Uint8Array>; skip: number }, want: number, into: Uint8Array): Promise<Received> {
  const reader = opened.body.getReader();
  let skip = opened.skip;
  let length = 0;
  try {
    while (length < want) {
      const r = await reader.read();
      if (r.done) break;
      let chunk = r.value;
      if (skip > 0) {
        const drop = Math.min(skip, chunk.length);
        skip -= drop;
        chunk = chunk.subarray(drop);
      }
      const take = Math.min(chunk.length, want - length);
      into.set(chunk.subarray(0, take), length);
      length += take;
    }
  } catch (error) {
    return { length, error };
  } finally {
    reader.cancel().catch(() => {});
  }
  return { length };
}

function dropped(what: string, at: number, cause?: unknown): StrataError {
  const why = cause ? `: ${(cause as Error)?.message ?? String(cause)}` : " (the body ended early)";
  return new StrataError("NETWORK", `${what}: the connection kept failing at byte ${at}${why}`, { offset: at }, { cause });
}
