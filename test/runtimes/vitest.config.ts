// The runtime harnesses driven from Node (Node itself, workerd via miniflare, Chromium via
// playwright-core, and the cross-runtime comparison). Deno and Bun run their own test runners.
import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

export default defineConfig({
  root: fileURLToPath(new URL("../..", import.meta.url)),
  test: {
    include: ["test/runtimes/node/**/*.test.ts", "test/runtimes/workers/**/*.test.ts", "test/runtimes/browser/**/*.test.ts", "test/runtimes/compare.test.ts"],
    testTimeout: 180_000,
    hookTimeout: 180_000,
    pool: "forks",
  },
});
