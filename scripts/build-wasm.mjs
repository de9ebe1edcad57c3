// Compiles every kernel in assembly/ (one file per kernel; shared code lives in assembly/lib/)
// into wasm/<name>.wasm with v128 SIMD, plus wasm/<name>.scalar.wasm for kernels that need a
// fallback. Output is reproducible: same sources and compiler give the same bytes.
// Usage: node scripts/build-wasm.mjs [OUT_DIR]
import asc from "assemblyscript/asc";
import { createHash } from "node:crypto";
import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { basename, join, resolve } from "node:path";

const root = resolve(import.meta.dirname, "..");
const outDir = resolve(process.argv[2] ?? join(root, "wasm"));
/** Kernels that also ship a build without v128 (keep in sync with src/kernels/wasm.ts). */
const SCALAR = new Set(["blake3"]);

const common = ["-O3", "--runtime", "stub", "--noAssert", "--use", "abort="];

async function compile(entry, out, simd) {
  const args = [entry, ...common, "-o", out, ...(simd ? ["--enable", "simd"] : ["--disable", "simd"])];
  const stderr = asc.createMemoryStream();
  const { error } = await asc.main(args, { stdout: asc.createMemoryStream(), stderr });
  if (error) throw new Error(`asc ${entry} failed:\n${stderr.toString()}`);
}

await mkdir(outDir, { recursive: true });
const kernels = (await readdir(join(root, "assembly")))
  .filter((f) => f.endsWith(".ts") && !f.endsWith(".d.ts"))
  .map((f) => basename(f, ".ts"))
  .sort();
const manifest = {};
for (const name of kernels) {
  const entry = join(root, "assembly", `${name}.ts`);
  const outputs = [[`${name}.wasm`, true]];
  if (SCALAR.has(name)) outputs.push([`${name}.scalar.wasm`, false]);
  for (const [file, simd] of outputs) {
    await compile(entry, join(outDir, file), simd);
    manifest[file] = createHash("sha256").update(await readFile(join(outDir, file))).digest("hex");
  }
}
await writeFile(join(outDir, "MANIFEST.json"), JSON.stringify(manifest, null, 2) + "\n");
console.log(`built ${Object.keys(manifest).length} modules into ${outDir}`);
