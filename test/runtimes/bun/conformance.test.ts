// The conformance suite on Bun: `npx bun test test/runtimes/bun/` (files written to a temp dir).
import { test } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bunPorts } from "../../../runtimes/bun/index.js";
import { cases, conformanceLines, runSuite } from "../../conformance/suite.js";

const ports = bunPorts();
for (const c of cases) {
  test(`conformance on Bun: ${c.name}`, async () => {
    const scratch = await mkdtemp(join(tmpdir(), "strata-conformance-"));
    try {
      const [outcome] = await runSuite(ports, { only: [c.name], scratch });
      for (const line of conformanceLines("bun", outcome!)) console.log(line);
      if (outcome!.status === "fail") throw new Error(outcome!.reason);
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
  }, 60_000);
}
