// The `strata` command for Deno:
//   deno run --allow-read=. --allow-write=OUT runtimes/deno/cli.ts convert oci:IN oci:OUT
// (read access to the inputs and this package's wasm/, write access to the destination only).
import { commands } from "../../src/cli/commands/index.ts";
import { runCli } from "../../src/cli/main.ts";
import { denoPorts } from "./index.ts";

const encoder = new TextEncoder();
/** writeSync may write part of a buffer (pipes): loop until all of it is out. */
const writeSyncAll = (file: { writeSync(p: Uint8Array): number }, bytes: Uint8Array) => {
  for (let at = 0; at < bytes.length; ) at += file.writeSync(bytes.subarray(at));
};
const writeAll = async (stream: WritableStream<Uint8Array>, bytes: Uint8Array) => {
  const writer = stream.getWriter();
  try {
    await writer.write(bytes);
  } finally {
    writer.releaseLock();
  }
};

Deno.exitCode = await runCli(Deno.args, commands, {
  ports: denoPorts(),
  stdout: (text) => writeSyncAll(Deno.stdout, encoder.encode(text)),
  stdoutBytes: (bytes) => writeAll(Deno.stdout.writable, bytes),
  stderr: (text) => writeSyncAll(Deno.stderr, encoder.encode(text)),
  isTTY: Deno.stderr.isTerminal(),
});
