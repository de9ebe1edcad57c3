/**
 * The kernels bundle: strata's wasm kernels behind the shapes the RAFS reader and the converter
 * ask for (src/oci/kernels.ts binds those of the OCI sources). Instances hold state and windows, so each user
 * gets its own; compiled modules are shared through the runtime's WasmPort.
 */
import { StrataError } from "../errors.js";
import type { Ports } from "../ports.js";
import type { CompressorName, DigesterName } from "../rafs/layout.js";
import type { RafsKernels } from "../rafs/read.js";
import { createBlake3 } from "./blake3.js";
import type { ChunkCodec, Hasher } from "./kernel.js";
import { createLz4 } from "./lz4.js";
import { createSha256 } from "./sha256.js";
import { createZstdChunkDecoder } from "./zstd.js";
import { createZstdEncoder } from "./zstdenc.js";

export function hasherFor(ports: Ports, digester: DigesterName): Promise<Hasher> {
  return digester === "blake3" ? createBlake3(ports) : createSha256(ports);
}

/** The chunk codec for a Nydus compressor; undefined for "none" (chunks stored raw). */
export async function chunkCodecFor(ports: Ports, compressor: CompressorName, level?: number): Promise<ChunkCodec | undefined> {
  switch (compressor) {
    case "none":
      return undefined;
    case "lz4_block":
      return createLz4(ports);
    case "zstd": {
      const [encoder, decoder] = await Promise.all([createZstdEncoder(ports, level === undefined ? {} : { level }), createZstdChunkDecoder(ports)]);
      return { name: "zstd", compress: (chunk) => encoder.compress(chunk), decompress: (data, size) => decoder.decompress(data, size) };
    }
    case "gzip":
      throw new StrataError("UNSUPPORTED", "gzip chunks (Nydus *-ref images) are not supported", { compressor });
  }
}

/** Hashers and decoders for reading RAFS images, created up front (the reader's interface is synchronous). */
export async function rafsKernels(ports: Ports): Promise<RafsKernels> {
  const [blake3, sha256, lz4, zstd] = await Promise.all([createBlake3(ports), createSha256(ports), createLz4(ports), createZstdChunkDecoder(ports)]);
  const none = {
    decompress(data: Uint8Array, size: number): Uint8Array {
      if (data.length !== size) throw new StrataError("CORRUPT_DATA", `uncompressed chunk has ${data.length} bytes, expected ${size}`, { size });
      return data;
    },
  };
  return {
    hasher: (digester) => (digester === "blake3" ? blake3 : sha256),
    codec: (compressor) => {
      switch (compressor) {
        case "none":
          return none;
        case "lz4_block":
          return lz4;
        case "zstd":
          return zstd;
        case "gzip":
          throw new StrataError("UNSUPPORTED", "gzip chunks (Nydus *-ref images) are not supported", { compressor });
      }
    },
  };
}
