// wasm/ is committed; this proves it is exactly what a fresh build of assembly/ produces.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, test } from "vitest";

const root = new URL("../..", import.meta.url).pathname;
const out = mkdtempSync(join(tmpdir(), "strata-wasm-"));
afterAll(() => rmSync(out, { recursive: true, force: true }));

test("committed wasm/ equals a fresh reproducible build of assembly/", () => {
  execFileSync(process.execPath, [join(root, "scripts/build-wasm.mjs"), "--out", out], { stdio: "pipe" });
  const fresh = readdirSync(out).sort();
  const committed = readdirSync(join(root, "wasm")).sort();
  expect(committed).toEqual(fresh);
  for (const f of fresh) {
    expect(readFileSync(join(root, "wasm", f)).equals(readFileSync(join(out, f))), `wasm/${f} is stale: run npm run build:wasm`).toBe(true);
  }
}, 300_000);
