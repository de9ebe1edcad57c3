// The RAFS reader tests run on strata's own kernels (BLAKE3, SHA-256, zstd, lz4_block), bundled
// the way the runtime adapters hand them to the reader. (Until they landed, stand-ins on hash-wasm
// and fzstd took their place here.)
import { rafsKernels as bundle } from "../../src/kernels/index.js";
import type { RafsKernels } from "../../src/rafs/read.js";
import { ports } from "./kernels.js";

export type TestKernels = RafsKernels;

export function rafsKernels(): Promise<TestKernels> {
  return bundle(ports);
}
