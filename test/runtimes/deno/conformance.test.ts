// The conformance suite on Deno: `npx deno test -A test/runtimes/deno/` (files written to a temp dir).
import { denoPorts } from "../../../runtimes/deno/index.ts";
import { cases, conformanceLines, runSuite } from "../../conformance/suite.ts";

const ports = denoPorts();
for (const c of cases) {
  Deno.test(`conformance on Deno: ${c.name}`, async () => {
    const scratch = await Deno.makeTempDir({ prefix: "strata-conformance-" });
    try {
      const [outcome] = await runSuite(ports, { only: [c.name], scratch });
      for (const line of conformanceLines("deno", outcome!)) console.log(line);
      if (outcome!.status === "fail") throw new Error(outcome!.reason);
    } finally {
      await Deno.remove(scratch, { recursive: true });
    }
  });
}
