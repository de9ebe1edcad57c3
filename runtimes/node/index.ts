// strata for Node: the core's API with Node's ports.
import type { Ports } from "../../src/ports.js";
import { nodeFilesPort } from "./files.js";
import { nodeOutput } from "./output.js";
import { nodeSha256 } from "./sha256.js";
import { nodeWasmPort } from "./wasm.js";

export * from "../../src/index.js";

/** Ports backed by node:fs, node:crypto and the wasm/ directory of this package. */
export function nodePorts(): Ports {
  return { wasm: nodeWasmPort(), files: nodeFilesPort(), output: nodeOutput, sha256: nodeSha256 };
}
