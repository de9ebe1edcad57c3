// The conformance suite on Bun: `npx bun test test/runtimes/bun/`.
import { test } from "bun:test";
import { bunPorts } from "../../../runtimes/bun/index.js";
import { cases, conformanceLines, runSuite } from "../../conformance/suite.js";

const ports = bunPorts();
for (const c of cases) {
  test(`conformance on Bun: ${c.name}`, async () => {
    const [outcome] = await runSuite(ports, [c.name]);
    for (const line of conformanceLines("bun", outcome!)) console.log(line);
    if (outcome!.status === "fail") throw new Error(outcome!.reason);
  }, 60_000);
}
