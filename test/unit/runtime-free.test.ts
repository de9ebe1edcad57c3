// src/ is the runtime-free core: no node: imports, no Deno/Bun globals, no require, and no
// compiling of wasm bytes (workerd forbids it; adapters hand in compiled modules).
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { expect, test } from "vitest";

const src = new URL("../../src", import.meta.url).pathname;
function files(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? files(p) : p.endsWith(".ts") ? [p] : [];
  });
}

const FORBIDDEN: [RegExp, string][] = [
  [/from\s+["'](node:|fs|path|crypto|os|child_process|stream|zlib|buffer)["'/]/, "imports a Node module"],
  [/\bimport\(\s*["']node:/, "imports a Node module dynamically"],
  [/\brequire\(/, "uses require"],
  [/\bDeno\./, "uses the Deno global"],
  [/\bBun\./, "uses the Bun global"],
  [/\bprocess\.(env|argv|exit|stdout|stderr|cwd)/, "uses Node's process"],
  [/\bBuffer\./, "uses Node's Buffer"],
  [/WebAssembly\.(compile|compileStreaming|instantiateStreaming)\(|new WebAssembly\.Module\(/, "compiles wasm bytes"],
];

test("nothing in src/ touches a runtime", () => {
  const problems: string[] = [];
  for (const f of files(src)) {
    const text = readFileSync(f, "utf8");
    for (const [re, why] of FORBIDDEN) if (re.test(text)) problems.push(`${f.slice(src.length + 1)} ${why}`);
  }
  expect(problems).toEqual([]);
});
