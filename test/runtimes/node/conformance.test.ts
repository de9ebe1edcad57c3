// The conformance suite on Node, with the ports of runtimes/node (files written to a temp dir).
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, test } from "vitest";
import { nodePorts } from "../../../runtimes/node/index.js";
import { cases, conformanceLines, runSuite } from "../../conformance/suite.js";

let scratch: string;
beforeAll(async () => void (scratch = await mkdtemp(join(tmpdir(), "strata-conformance-"))));
afterAll(() => rm(scratch, { recursive: true, force: true }));

test.each(cases.map((c) => [c.name]))("conformance on Node: %s", async (name) => {
  const [outcome] = await runSuite(nodePorts(), { only: [name], scratch: await mkdtemp(join(scratch, `${name}-`)) });
  for (const line of conformanceLines("node", outcome!)) console.log(line);
  if (outcome!.status === "fail") throw new Error(outcome!.reason);
}, 60_000);
