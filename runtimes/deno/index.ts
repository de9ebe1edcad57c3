// strata for Deno: the core's API with Deno's ports. Run with --allow-read (wasm/ and inputs) and
// --allow-write (outputs); the repository's deno.json enables the sloppy-imports resolution the
// core's ".js" specifiers need.
import { createHash } from "node:crypto";
import type { NativeSha256, Ports } from "../../src/ports.ts";
import { denoFilesPort, denoOutput } from "./files.ts";
import { denoTreeRead } from "./tree-read.ts";
import { denoWasmPort } from "./wasm.ts";

export * from "../../src/index.ts";

/** Deno's node:crypto hash (native code), streaming. */
export const denoSha256: NativeSha256 = {
  create() {
    const h = createHash("sha256");
    return {
      update: (data: Uint8Array) => void h.update(data),
      digest: () => new Uint8Array(h.digest()),
    };
  },
};

/** Ports backed by Deno's file APIs, its native SHA-256 and the wasm/ directory of this package. */
export function denoPorts(): Ports {
  // Deno's fetch honours HTTP(S)_PROXY and NO_PROXY; env needs --allow-env (without it, none is read).
  return { wasm: denoWasmPort(), files: denoFilesPort(), output: denoOutput, sha256: denoSha256, tree: denoTreeRead, fetch: (url, init) => fetch(url, init), env: denoEnv };
}

function denoEnv(name: string): string | undefined {
  try {
    return Deno.env.get(name);
  } catch {
    return undefined;
  }
}
