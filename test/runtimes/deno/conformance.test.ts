// The conformance suite on Deno: `npx deno test -A test/runtimes/deno/`.
import { denoPorts } from "../../../runtimes/deno/index.ts";
import { cases, conformanceLines, runSuite } from "../../conformance/suite.ts";

const ports = denoPorts();
for (const c of cases) {
  Deno.test(`conformance on Deno: ${c.name}`, async () => {
    const [outcome] = await runSuite(ports, [c.name]);
    for (const line of conformanceLines("deno", outcome!)) console.log(line);
    if (outcome!.status === "fail") throw new Error(outcome!.reason);
  });
}
