// FastCDC: strata's wasm kernel vs a speed-minded plain TypeScript FastCDC with the same cut
// rules, on the same 64 MiB of random data, at the default sizes (16/64/256 KiB) and small ones.
import { createFastCdc, FASTCDC_DEFAULTS } from "../src/kernels/chunker.js";
import { ports } from "../test/helpers/kernels.js";
import { plainFastCdc } from "./fastcdc-plain.js";
import { MiB, randomBuffer } from "./data.js";
import type { BenchCase } from "./harness.js";



export default async function chunkerBench(): Promise<BenchCase[]> {
  const data = randomBuffer(64 * MiB);
  const cases: BenchCase[] = [];
  for (const [label, params] of [
    ["16/64/256KiB", FASTCDC_DEFAULTS],
    ["2/8/32KiB", { minSize: 2048, avgSize: 8192, maxSize: 32768, level: 2 }],
  ] as const) {
    const bench = `fastcdc ${label} 64MiB`;
    const strata = await createFastCdc(ports, params);
    const plain = plainFastCdc(params);
    let chunks = 0;
    const count = () => void chunks++;
    cases.push(
      { bench, impl: "strata", bytes: data.length, run: () => ((chunks = 0), strata.init(count).update(data).final()), extra: () => ({ chunks }) },
      { bench, impl: "plain TypeScript", bytes: data.length, run: () => ((chunks = 0), plain(data, count)), extra: () => ({ chunks }) },
    );
  }
  return cases;
}
