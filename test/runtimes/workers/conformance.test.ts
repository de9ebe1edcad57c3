// The conformance suite inside workerd (miniflare), kernels imported as CompiledWasm modules.
import { describe, expect, test } from "vitest";
import { conformanceLines } from "../../conformance/suite.js";
import { runInWorkerd, workerdMissing } from "./run.js";

const missing = await workerdMissing();
if (missing) console.warn(`workerd conformance skipped: ${missing}`);

describe.skipIf(missing !== undefined)("conformance in workerd", () => {
  test("every case passes", async () => {
    const outcomes = await runInWorkerd();
    for (const o of outcomes) for (const line of conformanceLines("workers", o)) console.log(line);
    expect(outcomes.filter((o) => o.status === "fail").map((o) => `${o.name}: ${o.reason}`)).toEqual([]);
  });
});
