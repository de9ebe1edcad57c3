// strata for browsers: the core's API with the page's ports. The kernels are fetched from where
// wasm/ is served (as application/wasm) and compiled while they download.
import type { KernelName, KernelVariant, Ports, WasmPort } from "../../src/ports.js";

export * from "../../src/index.js";
export { memoryFiles, type MemoryFiles } from "../../src/ports-memory.js";

/** Compiles wasm/<name>.wasm from `base` (a URL ending in "/") with compileStreaming, once per module. */
export function browserWasmPort(base: string | URL): WasmPort {
  const cache = new Map<string, Promise<WebAssembly.Module>>();
  return {
    module(name: KernelName, variant: KernelVariant) {
      const file = variant === "scalar" ? `${name}.scalar.wasm` : `${name}.wasm`;
      let m = cache.get(file);
      if (!m) {
        const url = new URL(file, base);
        m = fetch(url).then((response) => {
          if (!response.ok) throw new Error(`GET ${url} answered ${response.status}`);
          return WebAssembly.compileStreaming(response);
        });
        cache.set(file, m);
      }
      return m;
    },
  };
}

/** Ports for a page: kernels fetched from `wasmBase`. Browsers offer no streaming SHA-256 (the wasm kernel serves). */
export function browserPorts(wasmBase: string | URL): Ports {
  // Registries must allow the page's origin (CORS) for docker:// to work here.
  return { wasm: browserWasmPort(wasmBase), fetch: (url, init) => fetch(url, init) };
}
