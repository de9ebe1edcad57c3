// BLAKE3: strata's wasm kernel vs hash-wasm (C compiled to wasm) and blake3-jit (JS + runtime
// wasm SIMD), on the same random buffers: one 64 MiB input, 64 × 1 MiB inputs, 4096 × 4 KiB.
import { createHasher as createJitHasher, hash as jitHash } from "blake3-jit";
import { createBLAKE3 } from "hash-wasm";
import { createBlake3 } from "../src/kernels/blake3.js";
import { ports } from "../test/helpers/kernels.js";
import { MiB, pieces, randomBuffer } from "./data.js";
import type { BenchCase } from "./harness.js";




export default async function blake3Bench(): Promise<BenchCase[]> {
  const big = randomBuffer(64 * MiB);
  const strata = await createBlake3(ports);
  const hashWasm = await createBLAKE3();
  const jit = createJitHasher();

  const cases: BenchCase[] = [];
  const whole = "blake3 64MiB whole";
  cases.push(
    { bench: whole, impl: "strata", bytes: big.length, run: () => strata.digest(big) },
    { bench: whole, impl: "strata stream 64KiB", bytes: big.length, run: () => {
      strata.init();
      for (const p of pieces(big, 64 * 1024)) strata.update(p);
      return strata.final();
    } },
    { bench: whole, impl: "hash-wasm", bytes: big.length, run: () => hashWasm.init().update(big).digest("binary") },
    { bench: whole, impl: "blake3-jit", bytes: big.length, run: () => jitHash(big) },
  );

  for (const [name, size] of [["1MiB", MiB], ["4KiB", 4096]] as const) {
    const bench = `blake3 ${name} pieces of 64MiB`;
    const list = pieces(big, size);
    const sizes = list.map((p) => p.length);
    cases.push(
      { bench, impl: "strata", bytes: big.length, run: () => strata.digestMany(big, sizes) },
      { bench, impl: "strata per-piece digest", bytes: big.length, run: () => list.map((p) => strata.digest(p)) },
      { bench, impl: "hash-wasm", bytes: big.length, run: () => list.map((p) => hashWasm.init().update(p).digest("binary")) },
      { bench, impl: "blake3-jit", bytes: big.length, run: () => list.map((p) => jit.reset().update(p).finalize()) },
    );
  }
  return cases;
}
