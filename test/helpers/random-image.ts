// Random OCI layouts (src/oci/random.ts) written to disk, for umoci and skopeo to read too.
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { RandomLayout } from "../../src/oci/random.js";

export function writeLayout(dir: string, layout: RandomLayout): void {
  for (const [path, bytes] of layout.files) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), bytes);
  }
}
