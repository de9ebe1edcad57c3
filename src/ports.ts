/**
 * What the runtime-free core asks of its host. Each runtimes/<name> adapter supplies these and
 * nothing else; src/ never imports a runtime module.
 */

/** Names of the wasm kernel modules built from assembly/ (wasm/<name>.wasm). */
export type KernelName = "blake3" | "sha256" | "chunker" | "inflate" | "zstd" | "lz4" | "zstdenc";

/** Build variant: "simd" uses v128; "scalar" exists only for kernels that need a fallback. */
export type KernelVariant = "simd" | "scalar";

/**
 * Supplies compiled modules. Workers can only import wasm as modules, so the core never compiles
 * bytes itself: the adapter compiles (Node, Deno, Bun, browser) or imports (workerd) them.
 */
export interface WasmPort {
  module(name: KernelName, variant: KernelVariant): Promise<WebAssembly.Module>;
}

/** A native streaming SHA-256 the runtime may offer (node:crypto, crypto.DigestStream). */
export interface NativeSha256 {
  create(): { update(data: Uint8Array): void; digest(): Uint8Array | Promise<Uint8Array> };
}

export interface Ports {
  wasm: WasmPort;
  sha256?: NativeSha256;
}
