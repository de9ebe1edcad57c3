// Hashers and chunk decoders for the RAFS reader tests: strata's own kernels when their source and
// wasm exist, else stand-ins on hash-wasm (BLAKE3, SHA-256) and fzstd. `used` says which.
import { existsSync } from "node:fs";
import { createBLAKE3, createSHA256, type IHasher } from "hash-wasm";
import { decompress as zstdDecompress } from "fzstd";
import { StrataError } from "../../src/errors.js";
import type { Hasher } from "../../src/kernels/kernel.js";
import type { CompressorName, DigesterName } from "../../src/rafs/layout.js";
import type { ChunkDecoder, RafsKernels } from "../../src/rafs/read.js";
import { createBlake3 } from "../../src/kernels/blake3.js";
import { createLz4 } from "../../src/kernels/lz4.js";
import { createZstdChunkDecoder } from "../../src/kernels/zstd.js";
import { ports } from "./kernels.js";

const root = new URL("../../", import.meta.url);
const has = (kernel: string, wasm = kernel) => existsSync(new URL(`src/kernels/${kernel}.ts`, root)) && existsSync(new URL(`wasm/${wasm}.wasm`, root));

function standInHasher(algorithm: "blake3" | "sha256", h: IHasher): Hasher {
  const one = (data: Uint8Array) => {
    h.init();
    h.update(data);
    return h.digest("binary");
  };
  let state: Uint8Array[] = [];
  return {
    algorithm,
    digestSize: 32,
    init() {
      state = [];
      return this;
    },
    update(input: Uint8Array) {
      state.push(input.slice());
      return this;
    },
    final() {
      h.init();
      for (const s of state) h.update(s);
      state = [];
      return h.digest("binary");
    },
    digest: one,
    digestMany(data: Uint8Array, sizes: ArrayLike<number>) {
      const out = new Uint8Array(sizes.length * 32);
      let at = 0;
      for (let i = 0; i < sizes.length; i++) {
        out.set(one(data.subarray(at, at + sizes[i]!)), i * 32);
        at += sizes[i]!;
      }
      return out;
    },
  };
}

function checkedSize(name: string, out: Uint8Array, size: number): Uint8Array {
  if (out.length !== size) throw new StrataError("CORRUPT_DATA", `${name}: chunk decompressed to ${out.length} bytes, expected ${size}`);
  return out;
}

const none: ChunkDecoder = { decompress: (data, size) => checkedSize("none", data, size) };

export interface TestKernels extends RafsKernels {
  /** For each algorithm: "strata" or the stand-in package used. */
  used: Record<string, string>;
}

export async function rafsKernels(): Promise<TestKernels> {
  const used: Record<string, string> = {};
  const hashers = {} as Record<DigesterName, Hasher>;
  const codecs: Partial<Record<CompressorName, ChunkDecoder>> = { none };

  if (has("blake3")) {
    hashers.blake3 = await createBlake3(ports);
    used.blake3 = "strata";
  } else {
    hashers.blake3 = standInHasher("blake3", await createBLAKE3());
    used.blake3 = "hash-wasm";
  }
  if (has("sha256")) {
    const { createSha256 } = await import("../../src/kernels/sha256.js" as string);
    hashers.sha256 = await createSha256(ports);
    used.sha256 = "strata";
  } else {
    hashers.sha256 = standInHasher("sha256", await createSHA256());
    used.sha256 = "hash-wasm";
  }
  if (has("zstd")) {
    codecs.zstd = await createZstdChunkDecoder(ports);
    used.zstd = "strata";
  } else {
    codecs.zstd = { decompress: (data, size) => checkedSize("zstd", zstdDecompress(data), size) };
    used.zstd = "fzstd";
  }
  if (has("lz4")) {
    codecs.lz4_block = await createLz4(ports);
    used.lz4_block = "strata";
  }

  return {
    used,
    hasher: (d) => hashers[d],
    codec(c) {
      const codec = codecs[c];
      if (!codec) throw new StrataError("UNSUPPORTED", `no ${c} codec in the test kernels`);
      return codec;
    },
  };
}
