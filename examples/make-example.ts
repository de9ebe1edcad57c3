// Builds the small OCI image the README's first command converts: three layers with a
// deduplicated file, a whiteout, a hardlink and a symlink, written as an OCI layout.
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { createSha256 } from "../src/kernels/sha256.js";
import { randomLayout } from "../src/oci/random.js";
import { nodeWasmPort } from "../runtimes/node/wasm.js";

const dir = process.argv[2] ?? "example/oci";
const ports = { wasm: nodeWasmPort() };
const layout = await randomLayout({ sha256: () => createSha256(ports) }, { seed: 2026, layers: 3, entries: 40, tag: "latest" });
rmSync(dir, { recursive: true, force: true });
for (const [path, bytes] of layout.files) {
  mkdirSync(dirname(join(dir, path)), { recursive: true });
  writeFileSync(join(dir, path), bytes);
}
console.log(`wrote an OCI image (${layout.layers.length} layers) to ${dir}`);
