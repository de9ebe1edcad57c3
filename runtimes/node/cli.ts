// The `strata` command for Node.
import { commands } from "../../src/cli/commands/index.js";
import { runCli } from "../../src/cli/main.js";
import { nodePorts } from "./index.js";
import { CLI_V8_FLAGS } from "./v8-flags.js";

// A closed pipe (`strata inspect ... | head`) ends output quietly, as Unix tools do.
process.stdout.on("error", (e: NodeJS.ErrnoException) => {
  if (e.code === "EPIPE") process.exit(process.exitCode ?? 0);
  throw e;
});

process.exitCode = await runCli(process.argv.slice(2), commands, {
  // Starting the codec pool's workers resets V8's flags: they set bin/strata.js's again.
  ports: nodePorts({ workerV8Flags: CLI_V8_FLAGS }),
  stdout: (text) => process.stdout.write(text),
  // Waits for the write to drain, so large outputs stream with bounded memory.
  stdoutBytes: (bytes) => new Promise((resolve, reject) => process.stdout.write(bytes, (e) => (e ? reject(e) : resolve()))),
  stderr: (text) => process.stderr.write(text),
  isTTY: process.stderr.isTTY === true,
});
