// strata for Cloudflare Workers (workerd): the core's API with the Worker's ports. There are no
// files: images are read and written through in-memory or caller-supplied ports.
import type { Ports } from "../../src/ports.js";
import { workersSha256 } from "./sha256.js";
import { type WasmModules, workersWasmPort } from "./wasm.js";

export * from "../../src/index.js";
export { memoryFiles, type MemoryFiles } from "../../src/ports-memory.js";
export { workersSha256 } from "./sha256.js";
export type { WasmModules } from "./wasm.js";

/** Ports over the kernels the Worker imported as CompiledWasm modules, plus crypto.DigestStream. */
export function workersPorts(modules: WasmModules): Ports {
  return { wasm: workersWasmPort(modules), sha256: workersSha256, fetch: (url, init) => fetch(url, init) };
}
