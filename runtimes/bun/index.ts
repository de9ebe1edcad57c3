// strata for Bun: the core's API with Bun's ports. Bun implements node:fs faithfully, so files and
// outputs use the Node adapter's ports; wasm and SHA-256 use Bun's own APIs.
import type { NativeSha256, Ports } from "../../src/ports.js";
import { nodeFilesPort } from "../node/files.js";
import { nodeOutput } from "../node/output.js";
import { nodeTreeRead } from "../node/tree-read.js";
import { bunWasmPort } from "./wasm.js";

export * from "../../src/index.js";

/** Bun.CryptoHasher: native streaming SHA-256. */
export const bunSha256: NativeSha256 = {
  create() {
    const h = new Bun.CryptoHasher("sha256");
    return {
      update: (data: Uint8Array) => void h.update(data),
      digest: () => new Uint8Array(h.digest()),
    };
  },
};

/** Ports backed by node:fs (as Bun implements it), Bun.CryptoHasher and the wasm/ directory of this package. */
export function bunPorts(): Ports {
  // Bun's fetch honours HTTP(S)_PROXY and NO_PROXY.
  return { wasm: bunWasmPort(), files: nodeFilesPort(), output: nodeOutput, sha256: bunSha256, tree: nodeTreeRead, fetch: (url, init) => fetch(url, init), env: (name) => process.env[name] };
}
