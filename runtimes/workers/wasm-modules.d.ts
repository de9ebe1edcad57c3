// Wrangler (and esbuild with the same rule) turns `import x from "./k.wasm"` into a CompiledWasm module.
declare module "*.wasm" {
  const module: WebAssembly.Module;
  export default module;
}
