// Test access to the kernels as the Node adapter supplies them.
import { nodeWasmPort } from "../../runtimes/node/wasm.js";
import type { Ports } from "../../src/ports.js";

export const ports: Ports = { wasm: nodeWasmPort() };
