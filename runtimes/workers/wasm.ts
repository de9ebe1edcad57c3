import type { KernelName, KernelVariant, WasmPort } from "../../src/ports.js";

/**
 * The kernels as the Worker imported them: workerd refuses to compile wasm bytes, so each
 * wasm/<file> must be a CompiledWasm module of the bundle (`import blake3 from "./blake3.wasm"`),
 * handed in here keyed by file name ("blake3.wasm", "blake3.scalar.wasm", ...).
 */
export type WasmModules = Readonly<Record<string, WebAssembly.Module>>;

export function workersWasmPort(modules: WasmModules): WasmPort {
  return {
    async module(name: KernelName, variant: KernelVariant) {
      const file = variant === "scalar" ? `${name}.scalar.wasm` : `${name}.wasm`;
      const module = modules[file];
      if (!module) throw new Error(`${file} was not imported into the Worker as a CompiledWasm module`);
      return module;
    },
  };
}
