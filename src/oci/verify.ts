/**
 * Digest and size checks on streams: bytes pass through unchanged while they are hashed, and the
 * stream errors with DIGEST_MISMATCH instead of closing when they do not match. A blob longer
 * than promised fails as soon as it overruns, so hostile input is never read past its size.
 */
import { StrataError } from "../errors.js";
import type { OciKernels } from "./decompress.js";

export function hex(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += b.toString(16).padStart(2, "0");
  return s;
}

export interface Expected {
  digest: string;
  /** Required byte count, when known. */
  size?: number;
  /** Names the blob in errors: "layer 2 (sha256:...)". */
  what: string;
}

/** Passes bytes through, erroring at the end (or on overrun) unless they match `expected`. */
export function verifying(kernels: OciKernels, expected: Expected): TransformStream<Uint8Array, Uint8Array> {
  if (!expected.digest.startsWith("sha256:")) {
    throw new StrataError("UNSUPPORTED", `${expected.what}: only sha256 digests are supported, got ${expected.digest}`, { digest: expected.digest });
  }
  let hasher: Awaited<ReturnType<OciKernels["sha256"]>> | undefined;
  let seen = 0;
  return new TransformStream<Uint8Array, Uint8Array>({
    async start() {
      hasher = (await kernels.sha256()).init();
    },
    transform(chunk, controller) {
      seen += chunk.length;
      if (expected.size !== undefined && seen > expected.size) {
        throw new StrataError("DIGEST_MISMATCH", `${expected.what} is longer than its ${expected.size} bytes`, { digest: expected.digest, size: expected.size });
      }
      hasher!.update(chunk);
      controller.enqueue(chunk);
    },
    async flush() {
      if (expected.size !== undefined && seen !== expected.size) {
        throw new StrataError("DIGEST_MISMATCH", `${expected.what} has ${seen} bytes, expected ${expected.size}`, { digest: expected.digest, size: expected.size, actual: seen });
      }
      const actual = `sha256:${hex(hasher!.final())}`;
      if (actual !== expected.digest) {
        throw new StrataError("DIGEST_MISMATCH", `${expected.what} has digest ${actual}, expected ${expected.digest}`, { digest: expected.digest, actual });
      }
    },
  });
}

/** Checks a whole in-memory blob (manifests, configs). */
export async function verifyBytes(kernels: OciKernels, bytes: Uint8Array, expected: Expected): Promise<Uint8Array> {
  if (expected.size !== undefined && bytes.length !== expected.size) {
    throw new StrataError("DIGEST_MISMATCH", `${expected.what} has ${bytes.length} bytes, expected ${expected.size}`, { digest: expected.digest, size: expected.size, actual: bytes.length });
  }
  const actual = await sha256Digest(kernels, bytes);
  if (actual !== expected.digest) {
    throw new StrataError("DIGEST_MISMATCH", `${expected.what} has digest ${actual}, expected ${expected.digest}`, { digest: expected.digest, actual });
  }
  return bytes;
}

export async function sha256Digest(kernels: OciKernels, bytes: Uint8Array): Promise<string> {
  const h = await kernels.sha256();
  return `sha256:${hex(h.init().update(bytes).final())}`;
}
