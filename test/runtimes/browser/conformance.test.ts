// The conformance suite in Chromium (playwright-core), kernels compiled with compileStreaming.
import { describe, expect, test } from "vitest";
import { conformanceLines } from "../../conformance/suite.js";
import { chromiumMissing, runInChromium } from "./run.js";

const missing = await chromiumMissing();
if (missing) console.warn(`Chromium conformance skipped: ${missing}`);

describe.skipIf(missing !== undefined)("conformance in Chromium", () => {
  test("every case passes", async () => {
    const outcomes = await runInChromium();
    for (const o of outcomes) for (const line of conformanceLines("browser", o)) console.log(line);
    expect(outcomes.filter((o) => o.status === "fail").map((o) => `${o.name}: ${o.reason}`)).toEqual([]);
  });
});
