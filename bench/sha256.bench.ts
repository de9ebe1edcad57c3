// SHA-256: strata's wasm kernel vs hash-wasm (C compiled to wasm) and node:crypto (OpenSSL, with
// SHA extensions where the CPU has them) on the same random buffers: one 64 MiB input, 64 × 1 MiB
// pieces and 4096 × 16 KiB pieces.
import { createHash, webcrypto } from "node:crypto";
import { createSHA256 } from "hash-wasm";
import { createSha256 } from "../src/kernels/sha256.js";
import { ports } from "../test/helpers/kernels.js";
import { MiB, pieces, randomBuffer } from "./data.js";
import type { BenchCase } from "./harness.js";




export default async function sha256Bench(): Promise<BenchCase[]> {
  const big = randomBuffer(64 * MiB);
  const strata = await createSha256(ports);
  const hashWasm = await createSHA256();

  const whole = "sha256 64MiB whole";
  const cases: BenchCase[] = [
    { bench: whole, impl: "strata", bytes: big.length, run: () => strata.digest(big) },
    { bench: whole, impl: "hash-wasm", bytes: big.length, run: () => hashWasm.init().update(big).digest("binary") },
    { bench: whole, impl: "node:crypto", bytes: big.length, run: () => createHash("sha256").update(big).digest() },
  ];
  for (const [name, size] of [["1MiB", MiB], ["16KiB", 16 << 10]] as const) {
    const bench = `sha256 ${name} pieces of 64MiB`;
    const list = pieces(big, size);
    const sizes = list.map((p) => p.length);
    cases.push(
      { bench, impl: "strata", bytes: big.length, run: () => strata.digestMany(big, sizes) },
      { bench, impl: "hash-wasm", bytes: big.length, run: () => list.map((p) => hashWasm.init().update(p).digest("binary")) },
      { bench, impl: "node:crypto", bytes: big.length, run: () => list.map((p) => createHash("sha256").update(p).digest()) },
    );
  }
  return cases;
}
