// strata for Node: the core's API with Node's ports.
import type { Ports } from "../../src/ports.js";
import { nodeCacheDir } from "./cache-dir.js";
import { nodeChunkCache } from "./chunk-cache.js";
import { nodeCodecPool } from "./codec-pool.js";
import { nodeFilesPort } from "./files.js";
import { nodeKernelMount } from "./kernel-mount.js";
import { nodeFusePort } from "./fuse/index.js";
import { nodeOutput } from "./output.js";
import { nodeSha256 } from "./sha256.js";
import { nodeTreeOutput } from "./tree-output.js";
import { nodeTreeRead } from "./tree-read.js";
import { nodeWasmPort } from "./wasm.js";

export * from "../../src/index.js";

/** Ports backed by node:fs, node:crypto and the wasm/ directory of this package. */
export function nodePorts(options: { workerV8Flags?: readonly string[] } = {}): Ports {
  // Node 20's fetch ignores HTTP(S)_PROXY and NO_PROXY: registries are reached directly.
  const wasm = nodeWasmPort();
  return { wasm, codecPool: nodeCodecPool(wasm, options.workerV8Flags), files: nodeFilesPort(), output: nodeOutput, treeOutput: nodeTreeOutput, sha256: nodeSha256, tree: nodeTreeRead, chunkCache: nodeChunkCache, cacheDir: nodeCacheDir, fetch: (url, init) => fetch(url, init), env: (name) => process.env[name], mount: nodeKernelMount(), fuse: nodeFusePort };
}
