import { createHash } from "node:crypto";
import type { NativeSha256 } from "../../src/ports.js";

/** node:crypto's streaming SHA-256 (OpenSSL, with SHA extensions where the CPU has them). */
export const nodeSha256: NativeSha256 = {
  create() {
    const h = createHash("sha256");
    return {
      update: (data: Uint8Array) => void h.update(data),
      digest: () => new Uint8Array(h.digest()),
    };
  },
};
