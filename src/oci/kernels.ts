/** The OCI sources' kernels (SHA-256, gzip, zstd) bound to strata's wasm modules. */
import { createInflate } from "../kernels/inflate.js";
import { createNativeSha256, createSha256 } from "../kernels/sha256.js";
import { createZstdDecoder } from "../kernels/zstd.js";
import type { Ports } from "../ports.js";
import type { OciKernels } from "./decompress.js";

export function ociKernels(ports: Ports): OciKernels {
  return {
    // Layers are hashed twice (compressed and uncompressed): a native SHA-256 is several times
    // the kernel's speed where the runtime has a synchronous one.
    sha256: async () => createNativeSha256(ports) ?? createSha256(ports),
    inflate: (options) => createInflate(ports, options),
    zstd: (options) => createZstdDecoder(ports, options),
  };
}
