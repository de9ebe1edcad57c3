// Builds dist/ once before any test file runs: the CLI tests spawn bin/strata.js, which imports
// dist/. One build up front, instead of one per file, so no file runs the CLI while another
// rewrites dist/ under it. A type error fails the run here, with tsc's message.
import { execFileSync } from "node:child_process";
import { join } from "node:path";

export default function setup(): void {
  const root = new URL("..", import.meta.url).pathname;
  try {
    execFileSync(join(root, "node_modules/.bin/tsc"), ["-p", root], { stdio: "pipe" });
  } catch (e) {
    throw new Error(`tsc -p failed: dist/ cannot be built\n${String((e as { stdout?: Buffer }).stdout ?? e)}`);
  }
}
