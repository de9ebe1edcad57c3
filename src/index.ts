// Public API of the runtime-free core. Runtime adapters re-export this with their ports bound.
export { ERROR_CODES, StrataError, isStrataError, type ErrorCode } from "./errors.js";
export type { KernelName, KernelVariant, NativeSha256, Ports, WasmPort } from "./ports.js";
export type { ByteTransform, Hasher, Kernel, Sink } from "./kernels/kernel.js";
export { toTransformStream, transformAll } from "./kernels/stream.js";
