/**
 * The one shape every kernel has (after hash-wasm's init/update/digest): `init` starts a stream,
 * `update` feeds input, `final` ends it and returns the result. Kernels that produce bytes
 * (decompressors, compressors) hand them to the sink given to `init`, as views into wasm memory
 * valid only until the next call: copy what must outlive it.
 */
export interface Kernel<Result, InitArgs extends unknown[] = []> {
  init(...args: InitArgs): this;
  update(input: Uint8Array): this;
  final(): Result;
}

/** Receives output produced during update/final. The view is only valid during the call. */
export type Sink = (bytes: Uint8Array) => void;

/** A byte-to-byte kernel: decompressors and compressors. */
export type ByteTransform = Kernel<void, [sink: Sink]>;

/** A hash function: BLAKE3 or SHA-256. */
export interface Hasher extends Kernel<Uint8Array> {
  readonly algorithm: "blake3" | "sha256";
  readonly digestSize: number;
  /** One-shot digest of `data` (does not disturb a stream in progress). */
  digest(data: Uint8Array): Uint8Array;
  /**
   * Digests of consecutive pieces of `data` with the given sizes (which must sum to at most
   * data.length), in one wasm crossing per window: sizes.length × digestSize bytes.
   */
  digestMany(data: Uint8Array, sizes: ArrayLike<number>): Uint8Array;
}

/**
 * Splits a byte stream into chunks: `onChunk` receives the length of each completed chunk in
 * order; `final` reports the last, possibly short, one (nothing for an empty stream).
 */
export type Chunker = Kernel<void, [onChunk: (length: number) => void]>;

/** Compresses and decompresses single Nydus chunks: one compressed unit per chunk, no framing. */
export interface ChunkCodec {
  readonly name: "none" | "lz4_block" | "zstd";
  /**
   * The compressed form of `chunk`, or undefined when compression does not shrink it (Nydus then
   * stores the chunk raw and clears its COMPRESSED flag). A view valid until the next call.
   */
  compress(chunk: Uint8Array): Uint8Array | undefined;
  /** Exactly `size` bytes decompressed from `data`, or CORRUPT_DATA. A view valid until the next call. */
  decompress(data: Uint8Array, size: number): Uint8Array;
}
