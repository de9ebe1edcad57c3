import { StrataError } from "../errors.js";
import { CHUNK_SIZE_DEFAULT, CHUNK_SIZE_MAX, CHUNK_SIZE_MIN, type DigesterName } from "../rafs/layout.js";

export type ChunkCompressor = "none" | "lz4_block" | "zstd";

export interface ConvertOptions {
  /** Power of two, 4 KiB..16 MiB. Default 1 MiB. */
  chunkSize?: number;
  compressor?: ChunkCompressor;
  digester?: DigesterName;
  /** Absolute paths whose files go into the prefetch table; a directory stands for everything below it. */
  prefetchPatterns?: string[];
  /** One blob for the whole image instead of one per layer. */
  singleBlob?: boolean;
  /** Write an index holding the original and the Nydus manifest. */
  mergePlatform?: boolean;
  /** Set the Nydus manifest's subject to the original manifest. */
  withReferrer?: boolean;
}

export interface ResolvedOptions {
  chunkSize: number;
  compressor: ChunkCompressor;
  digester: DigesterName;
  prefetchPatterns: string[];
  singleBlob: boolean;
  mergePlatform: boolean;
  withReferrer: boolean;
}

const COMPRESSORS: readonly ChunkCompressor[] = ["none", "lz4_block", "zstd"];
const DIGESTERS: readonly DigesterName[] = ["blake3", "sha256"];

/**
 * Checks options before any work is done. `available` lists the compressors whose kernels this
 * build has (zstd needs the encoder).
 */
export function resolveOptions(options: ConvertOptions, available: readonly ChunkCompressor[], defaultCompressor: ChunkCompressor): ResolvedOptions {
  const chunkSize = options.chunkSize ?? CHUNK_SIZE_DEFAULT;
  if (!Number.isInteger(chunkSize) || chunkSize < CHUNK_SIZE_MIN || chunkSize > CHUNK_SIZE_MAX || (chunkSize & (chunkSize - 1)) !== 0) {
    throw new StrataError("INVALID_ARGUMENT", `chunk size ${chunkSize} is not a power of two between 4 KiB and 16 MiB`, { chunkSize });
  }
  const compressor = options.compressor ?? defaultCompressor;
  if (!COMPRESSORS.includes(compressor)) {
    throw new StrataError("INVALID_ARGUMENT", `unknown compressor ${JSON.stringify(compressor)} (none, lz4_block, zstd)`, { compressor });
  }
  if (!available.includes(compressor)) {
    throw new StrataError("UNSUPPORTED", `compressor ${compressor} is not available in this build`, { compressor });
  }
  const digester = options.digester ?? "blake3";
  if (!DIGESTERS.includes(digester)) {
    throw new StrataError("INVALID_ARGUMENT", `unknown digester ${JSON.stringify(digester)} (blake3, sha256)`, { digester });
  }
  return {
    chunkSize,
    compressor,
    digester,
    prefetchPatterns: options.prefetchPatterns ?? [],
    singleBlob: options.singleBlob ?? false,
    mergePlatform: options.mergePlatform ?? false,
    withReferrer: options.withReferrer ?? false,
  };
}

/** Parses a human size: 1048576, 0x100000, 1M, 1MiB, 64K, 2G. */
export function parseSize(text: string): number {
  const m = /^(0x[0-9a-f]+|[0-9]+)\s*(k|kb|kib|m|mb|mib|g|gb|gib)?$/i.exec(text.trim());
  if (!m) throw new StrataError("INVALID_ARGUMENT", `cannot read size ${JSON.stringify(text)}`, { size: text });
  const unit = (m[2] ?? "").toLowerCase();
  const scale = unit === "" ? 1 : 1024 ** ("kmg".indexOf(unit[0]!) + 1);
  return Number(m[1]) * scale;
}
