// Compiles every kernel in assembly/ (one file per kernel; shared code lives in assembly/lib/)
// into wasm/<name>.wasm with v128 SIMD, plus wasm/<name>.scalar.wasm for kernels that need a
// fallback. Output is reproducible: same sources and compiler give the same bytes.
// assembly/component.ts also becomes wasm/kernels.component.wasm: its core module with the WIT
// world of assembly/kernels.wit embedded and wrapped as a WebAssembly Component (jco's API).
// Usage: node scripts/build-wasm.mjs [--out DIR] [KERNEL...]   (default: all kernels into wasm/)
import { componentEmbed, componentNew } from "@bytecodealliance/jco";
import asc from "assemblyscript/asc";
import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { basename, join, resolve } from "node:path";

const root = resolve(import.meta.dirname, "..");
const argv = process.argv.slice(2);
const outAt = argv.indexOf("--out");
const outDir = resolve(outAt >= 0 ? argv.splice(outAt, 2)[1] : join(root, "wasm"));
const only = new Set(argv);
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
  .filter((name) => only.size === 0 || only.has(name))
  .sort();
let built = 0;
for (const name of kernels) {
  const entry = join(root, "assembly", `${name}.ts`);
  const outputs = [[`${name}.wasm`, true]];
  if (SCALAR.has(name)) outputs.push([`${name}.scalar.wasm`, false]);
  for (const [file, simd] of outputs) {
    await compile(entry, join(outDir, file), simd);
    built++;
  }
}
if (only.size === 0 || only.has("component")) {
  const binary = await readFile(join(outDir, "component.wasm"));
  const witSource = await readFile(join(root, "assembly", "kernels.wit"), "utf8");
  const embedded = await componentEmbed({ binary, witSource, world: "kernels" });
  await writeFile(join(outDir, "kernels.component.wasm"), await componentNew(embedded));
  built++;
}
console.log(`built ${built} modules into ${outDir}`);
