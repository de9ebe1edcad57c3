// Bundles a harness entry (TypeScript importing the suite and an adapter) into one ES module for
// workerd and Chromium, with esbuild (present as a transitive dependency of vitest).
import { existsSync } from "node:fs";
import { dirname, resolve } from "node:path";

/** Whether esbuild can be loaded (the harnesses skip without it). */
export async function hasEsbuild(): Promise<boolean> {
  return import("esbuild").then(
    () => true,
    () => false,
  );
}

/**
 * Writes `outfile` from `contents` (resolved from `resolveDir`). Imports of *.wasm stay imports
 * (workerd binds them as CompiledWasm modules). A relative module that does not exist yet becomes
 * a module that throws when loaded, so the suite's guarded dynamic imports report a skip.
 */
export async function bundle(contents: string, resolveDir: string, outfile: string, platform: "neutral" | "browser"): Promise<void> {
  const { build } = await import("esbuild");
  await build({
    stdin: { contents, resolveDir, loader: "ts", sourcefile: "entry.ts" },
    bundle: true,
    format: "esm",
    platform,
    target: "es2022",
    outfile,
    external: ["*.wasm"],
    logLevel: "error",
    plugins: [
      {
        name: "missing-modules",
        setup(b) {
          b.onResolve({ filter: /^\.\.?\/.*\.js$/ }, (args) => {
            const path = resolve(args.resolveDir || dirname(args.importer), args.path);
            if (existsSync(path) || existsSync(path.replace(/\.js$/, ".ts"))) return undefined;
            return { path, namespace: "missing" };
          });
          b.onLoad({ filter: /.*/, namespace: "missing" }, (args) => ({
            contents: `throw new Error(${JSON.stringify(`${args.path} does not exist in this checkout`)});`,
            loader: "js",
          }));
        },
      },
    ],
  });
}
