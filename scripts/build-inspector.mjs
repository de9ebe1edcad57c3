#!/usr/bin/env node
// Builds the inspector into one folder that can be served as is (or loaded into a devtools panel):
// index.html, inspector.js (the <strata-inspector> element), worker.js and the wasm/ kernels, plus
// manifest.json and devtools.html/js so the folder also loads as an extension with a devtools panel.
// Usage: node scripts/build-inspector.mjs [OUT_DIR]   (default dist/inspector)
import { copyFileSync, mkdirSync, readdirSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = fileURLToPath(new URL("..", import.meta.url));
const source = join(root, "runtimes/browser/inspector");
const out = resolve(process.argv[2] ?? join(root, "dist/inspector"));
// The kernels the inspector's code paths load (the components are another runtime's).
const KERNELS = /^(blake3|sha256|chunker|inflate|zstd|zstdenc|lz4)(\.scalar)?\.wasm$/;

rmSync(out, { recursive: true, force: true });
mkdirSync(join(out, "wasm"), { recursive: true });
await build({
  entryPoints: { inspector: join(source, "element.ts"), worker: join(source, "worker.ts") },
  outdir: out,
  bundle: true,
  format: "esm",
  platform: "browser",
  target: "es2022",
  minify: true,
  sourcemap: true,
  legalComments: "none",
  logLevel: "error",
});
copyFileSync(join(source, "index.html"), join(out, "index.html"));
// The same folder loads as an unpacked browser extension with a devtools panel.
for (const file of readdirSync(join(source, "extension"))) copyFileSync(join(source, "extension", file), join(out, file));
const kernels = readdirSync(join(root, "wasm")).filter((f) => KERNELS.test(f));
for (const file of kernels) copyFileSync(join(root, "wasm", file), join(out, "wasm", file));
console.log(`inspector built in ${out} (${kernels.length} kernels)`);
