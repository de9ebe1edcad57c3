import { readFile } from "node:fs/promises";
import type { KernelName, KernelVariant, WasmPort } from "../../src/ports.js";

// The package's wasm/ directory, from runtimes/node/ (sources run by tsx or vitest) or from
// dist/runtimes/node/ (the compiled CLI).
const wasmDir = new URL(import.meta.url.includes("/dist/runtimes/") ? "../../../wasm/" : "../../wasm/", import.meta.url);

/** Compiles the kernels shipped in wasm/ from disk, once per module. */
export function nodeWasmPort(dir: URL = wasmDir): WasmPort {
  const cache = new Map<string, Promise<WebAssembly.Module>>();
  return {
    module(name: KernelName, variant: KernelVariant) {
      const file = variant === "scalar" ? `${name}.scalar.wasm` : `${name}.wasm`;
      let m = cache.get(file);
      if (!m) {
        m = readFile(new URL(file, dir)).then((bytes) => WebAssembly.compile(bytes));
        cache.set(file, m);
      }
      return m;
    },
  };
}
