// Runs the Deno and Bun harnesses with their own test runners and collects the CONFORMANCE lines.
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../..", import.meta.url));
const bin = (name: string) => fileURLToPath(new URL(`../../node_modules/.bin/${name}`, import.meta.url));

export type NativeRuntime = "deno" | "bun";

const COMMANDS: Record<NativeRuntime, string[]> = {
  deno: ["test", "-A", "test/runtimes/deno/"],
  bun: ["test", "test/runtimes/bun/"],
};

/** Why `runtime` cannot run here, or undefined when it can. */
export function nativeMissing(runtime: NativeRuntime): string | undefined {
  return existsSync(bin(runtime)) ? undefined : `${bin(runtime)} is missing (npm install)`;
}

/** Runs the runtime's harness; resolves with its output, rejects (with the output) when it fails. */
export function runNative(runtime: NativeRuntime): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(bin(runtime), COMMANDS[runtime], { cwd: root, env: { ...process.env, NO_COLOR: "1" }, maxBuffer: 64 << 20, timeout: 120_000 }, (error, stdout, stderr) => {
      const output = `${stdout}\n${stderr}`;
      if (error) reject(new Error(`${runtime} ${COMMANDS[runtime].join(" ")} failed: ${error.message}\n${output.slice(-4000)}`));
      else resolve(output);
    });
  });
}
