// The strata CLI as users run it (bin/strata.js over dist/, built by test/global-setup.ts), in a
// child process, asynchronously so servers in the test process (registries, proxies) keep serving.
import { spawn } from "node:child_process";
import { join } from "node:path";

const root = new URL("../..", import.meta.url).pathname;

export interface CliRun {
  code: number | null;
  stdout: Buffer;
  stderr: string;
}

export function runStrata(args: readonly string[], env?: NodeJS.ProcessEnv): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(root, "bin/strata.js"), ...args], { env: env ?? process.env });
    const out: Buffer[] = [];
    let err = "";
    child.stdout.on("data", (b: Buffer) => out.push(b));
    child.stderr.on("data", (b: Buffer) => (err += b.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout: Buffer.concat(out), stderr: err }));
  });
}
