/**
 * The one error type of strata. Every failure a caller can act on is a StrataError whose `code`
 * is a key of ERROR_CODES; messages name the file, layer, chunk and offset involved.
 */

/** code → what it means. Add a code here before throwing it anywhere. */
export const ERROR_CODES = {
  // usage and arguments
  INVALID_ARGUMENT: "an argument has the wrong type or is out of range",
  UNSUPPORTED: "the input uses a feature strata does not implement",
  // kernels
  WASM_MISSING: "a wasm kernel module was not supplied by the runtime adapter",
  KERNEL_STATE: "a kernel was used out of order (update after final, etc.)",
  OUTPUT_LIMIT: "decompressed output exceeded the caller's maximum size",
  // codecs: malformed or truncated compressed data
  CORRUPT_DATA: "compressed data is malformed",
  TRUNCATED: "input ended before the stream was complete",
  CHECKSUM_MISMATCH: "a stored checksum does not match the data",
  TRAILING_DATA: "unexpected bytes follow the end of the stream",
  // digests and verification
  DIGEST_MISMATCH: "content does not match its digest",
  // tar, paths and the overlay merge
  TAR_CORRUPT: "a tar header or record is malformed",
  UNSAFE_PATH: "a path is absolute, contains '..' or NUL, or escapes its root",
  // OCI sources and manifests
  BAD_REFERENCE: "an image reference or transport name cannot be parsed",
  NOT_FOUND: "a referenced manifest, blob, tag or path does not exist",
  BAD_MANIFEST: "an OCI manifest, index or config is malformed",
  // RAFS bootstraps and blobs
  BAD_BOOTSTRAP: "a RAFS bootstrap is malformed",
  BAD_BLOB: "a Nydus blob or one of its sections is malformed",
  // registries (docker://)
  REGISTRY: "a registry refused a request or answered with something unexpected",
  AUTH: "a registry asked for credentials that were missing or refused",
  NETWORK: "a registry could not be reached, or the connection failed, after retries",
  // I/O through ports
  IO: "the runtime failed to read or write",
  WORKER: "a worker thread of the runtime failed or exited",
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export class StrataError extends Error {
  readonly code: ErrorCode;
  /** Structured context for programs (path, layer, chunk index, offset...). */
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: ErrorCode, message: string, details: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "StrataError";
    this.code = code;
    this.details = details;
  }
}

export function isStrataError(e: unknown, code?: ErrorCode): e is StrataError {
  return e instanceof StrataError && (code === undefined || e.code === code);
}

/** Throw INVALID_ARGUMENT unless `ok`. */
export function check(ok: boolean, message: string, details?: Record<string, unknown>): asserts ok {
  if (!ok) throw new StrataError("INVALID_ARGUMENT", message, details);
}
