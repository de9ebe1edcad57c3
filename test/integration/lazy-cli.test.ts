// `strata cat` as users run it (bin/strata.js over dist/): file bytes on stdout, --offset/--length,
// --stats, a --cache-dir that survives the process and is shared by concurrent processes, and
// typed failures that write nothing.
import { execFileSync, spawnSync } from "node:child_process";
import { readdirSync, readFileSync, rmSync, writeFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, test } from "vitest";
import { lookup } from "../../src/rafs/read.js";
import { convertLazyFixture, type LazyFixture } from "../helpers/lazy-image.js";
import { runStrata } from "../helpers/cli.js";

const root = new URL("../..", import.meta.url).pathname;
let fixture: LazyFixture;
let src: string;
const dirs: string[] = [];

function strata(...args: string[]) {
  const r = spawnSync(process.execPath, [join(root, "bin/strata.js"), ...args]);
  return { code: r.status, stdout: new Uint8Array(r.stdout), stderr: r.stderr.toString() };
}

const strataAsync = (...args: string[]) => runStrata(args);

const statsOf = (stderr: string) => JSON.parse(stderr.trim().split("\n").pop()!).stats;

beforeAll(async () => {
  fixture = await convertLazyFixture();
  dirs.push(fixture.dir);
  src = `oci:${fixture.dir}:latest`;
}, 120_000);
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

test("cat writes the file's bytes, a byte range of it, and follows symlinks", () => {
  for (const [path, bytes] of fixture.files) {
    const r = strata("cat", src, path);
    expect(r.code, r.stderr).toBe(0);
    expect(Buffer.from(r.stdout).equals(Buffer.from(bytes)), path).toBe(true);
  }
  const big = fixture.files.get("/data/big.bin")!;
  const range = strata("cat", src, "/data/big.bin", "--offset", "5000", "--length", "9000");
  expect(Buffer.from(range.stdout).equals(Buffer.from(big.subarray(5000, 14000)))).toBe(true);
  expect(strata("cat", src, "/data/big.bin", "--offset", "41000").stdout).toEqual(new Uint8Array(big.subarray(41000)));
  expect(strata("cat", src, "/data/big.bin", "--offset", "99999").stdout).toHaveLength(0);
  expect(Buffer.from(strata("cat", src, "/app/abs").stdout).equals(Buffer.from(fixture.files.get("/data/other.bin")!))).toBe(true);
});

test("--stats: one small file is one request for its one chunk", () => {
  const r = strata("cat", src, "/app/app.py", "--stats", "--json");
  expect(r.code, r.stderr).toBe(0);
  expect(statsOf(r.stderr)).toMatchObject({ requests: 1, chunksFetched: 1, diskHits: 0 });
  const human = strata("cat", src, "/data/big.bin", "--stats");
  expect(human.stderr).toMatch(/^1 chunk requests, \d+ bytes fetched \(11 chunks\)/);
});

test("--cache-dir survives the process and is shared by concurrent processes", async () => {
  const cache = mkdtempSync(join(tmpdir(), "strata-cat-cache-"));
  dirs.push(cache);
  const big = Buffer.from(fixture.files.get("/data/big.bin")!);
  const runs = await Promise.all([1, 2, 3, 4].map(() => strataAsync("cat", src, "/data/big.bin", "--cache-dir", cache, "--stats", "--json")));
  for (const r of runs) {
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.equals(big)).toBe(true);
  }
  const files = readdirSync(cache, { recursive: true, withFileTypes: true }).filter((d) => d.isFile());
  expect(files).toHaveLength(11);
  expect(files.filter((d) => d.name.includes(".tmp-"))).toEqual([]);

  const again = strata("cat", src, "/data/big.bin", "--cache-dir", cache, "--stats", "--json");
  expect(Buffer.from(again.stdout).equals(big)).toBe(true);
  expect(statsOf(again.stderr)).toMatchObject({ requests: 0, bytesFetched: 0, diskHits: 11 });
});

test("a corrupted chunk fails with DIGEST_MISMATCH (exit 3) and writes nothing; bad arguments are usage errors", async () => {
  const copy = mkdtempSync(join(tmpdir(), "strata-cat-bad-"));
  dirs.push(copy);
  execFileSync("cp", ["-r", `${fixture.dir}/.`, copy]);
  const rafs = (await fixture.open()).rafs!;
  const chunk = lookup(rafs, "/app/app.py").chunks![0]!;
  const blobPath = join(copy, "blobs/sha256", rafs.blobs[chunk.blobIndex]!.blobId);
  const bytes = readFileSync(blobPath);
  bytes[chunk.compressedOffset + 20]! ^= 0x01;
  writeFileSync(blobPath, bytes);

  const r = strata("cat", `oci:${copy}:latest`, "/app/app.py");
  expect(r.code).toBe(3);
  expect(r.stdout).toHaveLength(0);
  expect(r.stderr).toMatch(/\/app\/app\.py: chunk 0 of blob [0-9a-f]{64} at offset \d+ .*DIGEST_MISMATCH/);
  // Other files still read.
  expect(strata("cat", `oci:${copy}:latest`, "/etc/config.json").code).toBe(0);

  expect(strata("cat", src, "/nope").code).toBe(3);
  expect(strata("cat", src, "/app").code).toBe(2);
  expect(strata("cat", src, "/app/app.py", "--offset", "-1").code).toBe(2);
  expect(strata("cat", src).code).toBe(2);
});
