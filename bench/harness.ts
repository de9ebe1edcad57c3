// Shared types for bench/*.bench.ts. A bench file's default export returns cases; every case of
// one `bench` name measures the same bytes, so their MB/s can be printed as ratios.

export interface BenchCase {
  /** What is measured, e.g. "blake3 1MiB chunks". Cases with the same name are compared. */
  bench: string;
  /** Who does it: "strata", "hash-wasm", "node:crypto"... strata first. */
  impl: string;
  /** Input bytes processed by one call of `run`. */
  bytes: number;
  run(): unknown | Promise<unknown>;
  /** Extra figures to print (compressed size, ratio, peak memory...). */
  extra?: () => Record<string, number | string>;
}

export type BenchFile = () => Promise<BenchCase[]>;
