import type { KernelName, KernelVariant, WasmPort } from "../../src/ports.ts";

const wasmDir = new URL("../../wasm/", import.meta.url);

/** Compiles the kernels shipped in wasm/ (read with Deno.readFile: needs --allow-read), once per module. */
export function denoWasmPort(dir: URL = wasmDir): WasmPort {
  const cache = new Map<string, Promise<WebAssembly.Module>>();
  return {
    module(name: KernelName, variant: KernelVariant) {
      const file = variant === "scalar" ? `${name}.scalar.wasm` : `${name}.wasm`;
      let m = cache.get(file);
      if (!m) {
        m = Deno.readFile(new URL(file, dir)).then((bytes) => WebAssembly.compile(bytes));
        cache.set(file, m);
      }
      return m;
    },
  };
}
