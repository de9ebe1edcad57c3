// dm-verity hash trees over 64 MiB of random data (16384 data blocks, three levels): strata's
// VerityBuilder with the runtime's SHA-256 (node:crypto) and with the wasm kernel, against
// `veritysetup format` (cryptsetup, C + OpenSSL) writing the same tree from a tmpfs file.
import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { nodeSha256 } from "../runtimes/node/sha256.js";
import { createNativeSha256, createSha256 } from "../src/kernels/sha256.js";
import { VerityBuilder } from "../src/verity.js";
import { ports } from "../test/helpers/kernels.js";
import { MiB, randomBuffer } from "./data.js";
import type { BenchCase } from "./harness.js";

export default async function verityBench(): Promise<BenchCase[]> {
  const data = randomBuffer(64 * MiB);
  const salt = new Uint8Array(32).fill(7);
  const native = createNativeSha256({ ...ports, sha256: nodeSha256 })!;
  const wasm = await createSha256(ports);
  const tree = (sha: typeof wasm) => {
    const builder = new VerityBuilder(sha, salt);
    builder.update(data);
    return builder.finish().rootHash;
  };
  const bench = "verity tree 64MiB";
  const cases: BenchCase[] = [
    { bench, impl: "strata", bytes: data.length, run: () => tree(native) },
    { bench, impl: "strata (wasm sha256)", bytes: data.length, run: () => tree(wasm) },
  ];
  try {
    execFileSync("veritysetup", ["--version"], { stdio: "pipe" });
    const dir = mkdtempSync(join("/dev/shm", "strata-verity-bench-"));
    writeFileSync(join(dir, "data"), data);
    const args = ["format", "--data-block-size=4096", "--hash-block-size=4096", `--salt=${"07".repeat(32)}`, join(dir, "data"), join(dir, "hash")];
    cases.push({ bench, impl: "veritysetup", bytes: data.length, run: () => execFileSync("veritysetup", args, { stdio: "pipe" }) });
  } catch {
    // no veritysetup: strata's figures alone
  }
  return cases;
}
