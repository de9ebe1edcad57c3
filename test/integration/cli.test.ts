// The `strata` command as users run it: bin/strata.js over the compiled dist/ (npm's prepare step).
// (test/global-setup.ts builds dist/ before the run.)
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, test } from "vitest";

const root = new URL("../..", import.meta.url).pathname;
const work = mkdtempSync(join(tmpdir(), "strata-cli-"));
const src = join(work, "oci");

function strata(...args: string[]) {
  const r = spawnSync(process.execPath, [join(root, "bin/strata.js"), ...args], { encoding: "utf8" });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

beforeAll(() => {
  execFileSync(join(root, "node_modules/.bin/tsx"), [join(root, "examples/make-example.ts"), src], { stdio: "pipe" });
}, 120_000);
afterAll(() => rmSync(work, { recursive: true, force: true }));

test("convert writes a Nydus image and prints a summary; --json is machine-readable", () => {
  const human = strata("convert", `oci:${src}:latest`, `oci:${work}/nydus:v1`);
  expect(human.code, human.stderr).toBe(0);
  expect(human.stdout).toMatch(/chunks\s+\d+ \(\d+ deduplicated/);
  const json = strata("convert", `oci:${src}:latest`, `oci:${work}/nydus:v2`, "--json", "--compressor", "lz4_block", "--chunk-size", "64K");
  expect(json.code, json.stderr).toBe(0);
  const summary = JSON.parse(json.stdout);
  expect(summary.manifest.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
  expect(summary.stats.files).toBeGreaterThan(0);
  expect(existsSync(join(work, "nydus/blobs/sha256", summary.bootstrap.digest.slice(7)))).toBe(true);
});

test("bad options are usage errors (exit 2) refused before any output is written", () => {
  for (const args of [
    ["--chunk-size", "3000"],
    ["--chunk-size", "32M"],
    ["--compressor", "brotli"],
    ["--digester", "md5"],
    ["--no-such-option"],
  ]) {
    const r = strata("convert", `oci:${src}:latest`, `oci:${work}/refused`, ...args);
    expect(r.code, args.join(" ")).toBe(2);
    expect(r.stderr).toMatch(/INVALID_ARGUMENT/);
  }
  expect(existsSync(join(work, "refused"))).toBe(false);
  expect(strata("convert", "only-one-argument").code).toBe(2);
  expect(strata("frobnicate").code).toBe(2);
});

test("unreadable input exits 3 with a typed error, and leaves no partial image", () => {
  const r = strata("convert", `oci:${work}/missing:latest`, `oci:${work}/out-missing`, "--json");
  expect(r.code).toBe(3);
  expect(JSON.parse(r.stdout).error.code).toBe("NOT_FOUND");
  const out = join(work, "out-missing");
  expect(existsSync(join(out, "index.json"))).toBe(false);
  if (existsSync(join(out, "blobs/sha256"))) expect(readdirSync(join(out, "blobs/sha256")).filter((f) => f.startsWith(".strata-tmp"))).toEqual([]);
});

test("inspect lists the flattened tree", () => {
  const r = strata("inspect", `oci:${src}:latest`, "--json");
  expect(r.code, r.stderr).toBe(0);
  const { entries } = JSON.parse(r.stdout);
  expect(entries[0]).toMatchObject({ path: "/", type: "dir" });
  expect(entries.some((e: { type: string }) => e.type === "file")).toBe(true);
});

test("verify passes a converted image (exit 0) and names a flipped blob byte (exit 1)", () => {
  const out = `${work}/verify`;
  expect(strata("convert", `oci:${src}:latest`, `oci:${out}:v1`).code).toBe(0);
  const ok = strata("verify", `oci:${out}:v1`, "--json");
  expect(ok.code, ok.stdout + ok.stderr).toBe(0);
  expect(JSON.parse(ok.stdout).ok).toBe(true);
  const manifest = JSON.parse(execFileSync(process.execPath, ["-e", `
    const fs = require("fs"); const idx = JSON.parse(fs.readFileSync("${out}/index.json"));
    const m = idx.manifests.find((d) => d.annotations["org.opencontainers.image.ref.name"] === "v1");
    process.stdout.write(fs.readFileSync("${out}/blobs/sha256/" + m.digest.slice(7)));`]).toString());
  const blob = join(out, "blobs/sha256", manifest.layers[0].digest.slice(7));
  const bytes = readFileSync(blob);
  bytes[10] ^= 0x40;
  writeFileSync(blob, bytes);
  const bad = strata("verify", `oci:${out}:v1`, "--json");
  expect(bad.code).toBe(1);
  const report = JSON.parse(bad.stdout);
  expect(report.ok).toBe(false);
  expect(report.failures.some((f: { blobId?: string }) => f.blobId === manifest.layers[0].digest.slice(7))).toBe(true);
});

test("verify reads Nydus's own fixtures (bootstrap + blobs directory)", () => {
  const fixtures = join(root, "../shared/fixtures/nydus/tests/texture/repeatable");
  const r = strata("verify", join(fixtures, "sha256-nocompress-repeatable"), "--blobs-dir", join(fixtures, "blobs"));
  expect(r.code, r.stdout + r.stderr).toBe(0);
  expect(r.stdout).toMatch(/^OK .* 29\/29 chunks verified/);
});

test("the same CLI runs under Bun (bin/strata.js) and Deno (runtimes/deno/cli.ts, least permissions): identical images, verified by Node", () => {
  const convertJson = (cmd: string, args: string[]) => {
    const r = spawnSync(cmd, args, { encoding: "utf8" });
    expect(r.status, `${cmd}: ${r.stderr}`).toBe(0);
    return JSON.parse(r.stdout) as { manifest: { digest: string }; bootstrap: { digest: string }; blobs: { digest: string }[] };
  };
  const node = convertJson(process.execPath, [join(root, "bin/strata.js"), "convert", `oci:${src}:latest`, `oci:${work}/by-node:latest`, "--json"]);
  const bun = convertJson(join(root, "node_modules/.bin/bun"), [join(root, "bin/strata.js"), "convert", `oci:${src}:latest`, `oci:${work}/by-bun:latest`, "--json"]);
  const deno = convertJson(join(root, "node_modules/.bin/deno"), [
    "run",
    `--allow-read=${root},${src},${work}/by-deno`,
    `--allow-write=${work}/by-deno`,
    join(root, "runtimes/deno/cli.ts"),
    "convert",
    `oci:${src}:latest`,
    `oci:${work}/by-deno:latest`,
    "--json",
  ]);
  const digests = (r: typeof node) => [r.manifest.digest, r.bootstrap.digest, ...r.blobs.map((b) => b.digest)];
  expect(digests(bun)).toEqual(digests(node));
  expect(digests(deno)).toEqual(digests(node));
  for (const dir of ["by-bun", "by-deno"]) {
    const r = strata("verify", `oci:${work}/${dir}:latest`);
    expect(r.code, r.stdout + r.stderr).toBe(0);
  }
  // Without write permission for the destination, Deno refuses and nothing is written.
  const denied = spawnSync(join(root, "node_modules/.bin/deno"), ["run", `--allow-read=${root},${src}`, join(root, "runtimes/deno/cli.ts"), "convert", `oci:${src}:latest`, `oci:${work}/denied:latest`], { encoding: "utf8" });
  expect(denied.status).not.toBe(0);
  expect(existsSync(join(work, "denied"))).toBe(false);
}, 180_000);

test("the package's exports map hands each runtime its adapter: Node the compiled one, Bun its TypeScript", () => {
  const probe = "const m = await import('strata'); console.log(JSON.stringify(Object.keys(m).filter((k) => /Ports$/.test(k)).concat(typeof m.convertImage)));";
  const node = spawnSync(process.execPath, ["--input-type=module", "-e", probe], { cwd: root, encoding: "utf8" });
  expect(node.status, node.stderr).toBe(0);
  expect(JSON.parse(node.stdout)).toEqual(["nodePorts", "function"]);
  const bun = spawnSync(join(root, "node_modules/.bin/bun"), ["-e", probe], { cwd: root, encoding: "utf8" });
  expect(bun.status, bun.stderr).toBe(0);
  expect(JSON.parse(bun.stdout)).toEqual(["bunPorts", "function"]);
});
