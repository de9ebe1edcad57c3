// The conformance suite on Node, with the ports of runtimes/node.
import { expect, test } from "vitest";
import { nodePorts } from "../../../runtimes/node/index.js";
import { cases, conformanceLines, runSuite } from "../../conformance/suite.js";

test.each(cases.map((c) => [c.name]))("conformance on Node: %s", async (name) => {
  const [outcome] = await runSuite(nodePorts(), [name]);
  for (const line of conformanceLines("node", outcome!)) console.log(line);
  if (outcome!.status === "fail") throw new Error(outcome!.reason);
  expect(outcome!.status).not.toBe("fail");
}, 60_000);
