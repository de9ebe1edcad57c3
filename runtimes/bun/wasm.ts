import type { KernelName, KernelVariant, WasmPort } from "../../src/ports.js";

const wasmDir = new URL("../../wasm/", import.meta.url);

/** Compiles the kernels shipped in wasm/ (read with Bun.file), once per module. */
export function bunWasmPort(dir: URL = wasmDir): WasmPort {
  const cache = new Map<string, Promise<WebAssembly.Module>>();
  return {
    module(name: KernelName, variant: KernelVariant) {
      const file = variant === "scalar" ? `${name}.scalar.wasm` : `${name}.wasm`;
      let m = cache.get(file);
      if (!m) {
        m = Bun.file(new URL(file, dir)).arrayBuffer().then((bytes) => WebAssembly.compile(bytes));
        cache.set(file, m);
      }
      return m;
    },
  };
}
