import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    // compare.test.ts runs the conformance suite in all five runtimes (Node, Deno, Bun, workerd, Chromium).
    include: ["test/unit/**/*.test.ts", "test/integration/**/*.test.ts", "test/runtimes/compare.test.ts"],
    testTimeout: 120_000,
    hookTimeout: 300_000,
    pool: "forks",
    globalSetup: ["test/global-setup.ts"],
    // Memory tests call gc() so they measure live bytes, not garbage awaiting collection.
    execArgv: ["--expose-gc"],
  },
});
