/**
 * The one shape every kernel has (after hash-wasm's init/update/digest): `init` starts a stream,
 * `update` feeds input, `final` ends it and returns the result. Kernels that produce bytes
 * (decompressors, compressors, chunkers) hand them to the sink given at creation as views into
 * wasm memory, valid only until the next call; copy what must outlive it.
 */
export interface Kernel<Result> {
  init(): this;
  update(input: Uint8Array): this;
  final(): Result;
}

/** Receives output produced during update/final. */
export type Sink = (bytes: Uint8Array) => void;

/** A hash function: BLAKE3 or SHA-256. `digestMany` hashes many inputs in one wasm crossing. */
export interface Hasher extends Kernel<Uint8Array> {
  readonly algorithm: "blake3" | "sha256";
  readonly digestSize: number;
  /** One-shot digest of `data`. */
  digest(data: Uint8Array): Uint8Array;
  /**
   * Digests of consecutive pieces of `data` with the given sizes, written into one buffer of
   * sizes.length × digestSize bytes.
   */
  digestMany(data: Uint8Array, sizes: ArrayLike<number>): Uint8Array;
}
