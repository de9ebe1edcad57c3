// The `strata` command for Node.
import { commands } from "../../src/cli/commands/index.js";
import { runCli } from "../../src/cli/main.js";
import { nodePorts } from "./index.js";

// A closed pipe (`strata inspect ... | head`) ends output quietly, as Unix tools do.
process.stdout.on("error", (e: NodeJS.ErrnoException) => {
  if (e.code === "EPIPE") process.exit(process.exitCode ?? 0);
  throw e;
});

process.exitCode = await runCli(process.argv.slice(2), commands, {
  ports: nodePorts(),
  stdout: (text) => process.stdout.write(text),
  // Waits for the write to drain, so large outputs stream with bounded memory.
  stdoutBytes: (bytes) => new Promise((resolve, reject) => process.stdout.write(bytes, (e) => (e ? reject(e) : resolve()))),
  stderr: (text) => process.stderr.write(text),
  isTTY: process.stderr.isTTY === true,
});
