import { StrataError } from "../errors.js";
import type { KernelName, KernelVariant, WasmPort } from "../ports.js";

/**
 * A live kernel instance with views over its memory. Views are re-taken whenever the memory has
 * grown (growth detaches the old ArrayBuffer).
 */
export class WasmInstance<E extends WebAssembly.Exports = WebAssembly.Exports> {
  readonly exports: E;
  private readonly memory: WebAssembly.Memory;
  private u8View: Uint8Array;

  constructor(instance: WebAssembly.Instance) {
    this.exports = instance.exports as E;
    const memory = instance.exports.memory;
    if (!(memory instanceof WebAssembly.Memory)) {
      throw new StrataError("WASM_MISSING", "kernel module does not export its memory");
    }
    this.memory = memory;
    this.u8View = new Uint8Array(memory.buffer);
  }

  /** A byte view of the whole memory, current after any growth. */
  get u8(): Uint8Array {
    if (this.u8View.buffer !== this.memory.buffer) this.u8View = new Uint8Array(this.memory.buffer);
    return this.u8View;
  }

  /** `length` bytes at `ptr`, as a view (no copy). */
  view(ptr: number, length: number): Uint8Array {
    return this.u8.subarray(ptr, ptr + length);
  }
}

// (module (func (result v128) v128.const i64x2 0 0)) — validating it tells whether v128 is supported.
const SIMD_PROBE = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 22, 1, 20, 0, 253, 12, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 11,
]);

let simdSupported: boolean | undefined;
/** Whether the host supports wasm v128 (validation only; nothing is compiled). */
export function hasSimd(): boolean {
  simdSupported ??= WebAssembly.validate(SIMD_PROBE);
  return simdSupported;
}

/** Kernels built in two variants; every other kernel has only the SIMD build. */
const HAS_SCALAR: ReadonlySet<KernelName> = new Set(["blake3"]);

/** Instantiates the best variant of `name` for this host from the port's compiled module. */
export async function instantiateKernel<E extends WebAssembly.Exports>(
  port: WasmPort,
  name: KernelName,
): Promise<WasmInstance<E>> {
  const variant: KernelVariant = HAS_SCALAR.has(name) && !hasSimd() ? "scalar" : "simd";
  let module: WebAssembly.Module;
  try {
    module = await port.module(name, variant);
  } catch (cause) {
    throw new StrataError("WASM_MISSING", `wasm kernel ${name} (${variant}) could not be loaded`, { name, variant }, { cause });
  }
  // instantiate(Module) is allowed everywhere, workerd included; it never compiles bytes.
  const instance = await WebAssembly.instantiate(module, {});
  return new WasmInstance<E>(instance);
}
