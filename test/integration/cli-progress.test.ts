// The convert progress line on a terminal: drawn on stderr while layers stream, cleared at the
// end, never on stdout; absent without a TTY or with --json.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, test } from "vitest";
import { nodePorts } from "../../runtimes/node/index.js";
import { commands } from "../../src/cli/commands/index.js";
import { runCli } from "../../src/cli/main.js";
import { randomLayout } from "../../src/oci/random.js";
import { writeLayout } from "../helpers/random-image.js";
import { testKernels } from "../helpers/validate.js";

const work = mkdtempSync(join(tmpdir(), "strata-progress-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

async function run(args: string[], isTTY: boolean) {
  let stdout = "";
  let stderr = "";
  const code = await runCli(args, commands, { ports: nodePorts(), stdout: (t) => void (stdout += t), stderr: (t) => void (stderr += t), isTTY });
  return { code, stdout, stderr };
}

test("convert draws layer progress on a terminal's stderr and clears it; nothing without a TTY or with --json", async () => {
  const layout = await randomLayout((await testKernels()).kernels, { seed: 7, layers: 3, entries: 20 });
  writeLayout(join(work, "oci"), layout);
  const tty = await run(["convert", `oci:${join(work, "oci")}:latest`, `oci:${join(work, "a")}:latest`], true);
  expect(tty.code, tty.stderr).toBe(0);
  for (let i = 1; i <= 3; i++) expect(tty.stderr).toContain(`converting: layer ${i}/3`);
  expect(tty.stderr).toContain("converting: writing the bootstrap");
  expect(tty.stderr.endsWith("\r\x1b[K")).toBe(true);
  expect(tty.stdout).not.toContain("converting:");
  expect(tty.stdout).toMatch(/^converted /);

  const pipe = await run(["convert", `oci:${join(work, "oci")}:latest`, `oci:${join(work, "b")}:latest`], false);
  const json = await run(["convert", `oci:${join(work, "oci")}:latest`, `oci:${join(work, "c")}:latest`, "--json"], true);
  expect(pipe.stderr + json.stderr).toBe("");
  // The progress subscriber never changes the output.
  expect(JSON.parse(json.stdout).manifest.digest).toBe(/manifest (sha256:[0-9a-f]{64})/.exec(tty.stdout)![1]);
});
