// strata dedup: content dedup measured on hand-built images whose answers are known, checked
// against node:crypto over the same files, and storage bytes against the layouts on disk.
import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, describe, expect, test } from "vitest";
import { commands } from "../../src/cli/commands/index.js";
import { runCli } from "../../src/cli/main.js";
import { analyzeDedup, FIXED_SIZES, type DedupReport } from "../../src/dedup/analyze.js";
import { writeTar, type TarWriteEntry } from "../../src/tar/writer.js";
import { corpusImage, hasCorpus, ports } from "../helpers/convert-reuse.js";

const work = mkdtempSync(join(tmpdir(), "strata-dedup-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

/** An OCI layout of one image whose layers hold `layers` (files at the given paths). */
function layout(name: string, layers: Record<string, Uint8Array>[]): string {
  const dir = join(work, name);
  mkdirSync(join(dir, "blobs/sha256"), { recursive: true });
  const put = (bytes: Uint8Array) => {
    const digest = sha(bytes);
    writeFileSync(join(dir, "blobs/sha256", digest), bytes);
    return { digest: `sha256:${digest}`, size: bytes.length };
  };
  const diffIds: string[] = [];
  const layerDescs = layers.map((files) => {
    const entries: TarWriteEntry[] = Object.entries(files).map(([path, data]) => ({ path, type: "file", mode: 0o644, data }));
    const tar = writeTar(entries);
    diffIds.push(`sha256:${sha(tar)}`);
    return { mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", ...put(gzipSync(tar)) };
  });
  const config = put(new TextEncoder().encode(JSON.stringify({ architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: diffIds } })));
  const manifest = put(new TextEncoder().encode(JSON.stringify({ schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json", config: { mediaType: "application/vnd.oci.image.config.v1+json", ...config }, layers: layerDescs })));
  writeFileSync(join(dir, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
  writeFileSync(join(dir, "index.json"), JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: "application/vnd.oci.image.manifest.v1+json", ...manifest, annotations: { "org.opencontainers.image.ref.name": "latest" } }] }));
  return dir;
}

const row = (report: DedupReport, method: string, chunkSize?: number) => report.content.find((r) => r.method === method && r.chunkSize === chunkSize)!;
const concat = (...parts: Uint8Array[]) => new Uint8Array(Buffer.concat(parts));

describe("hand-built images", () => {
  // 4 KiB blocks: a and b share their first block; c is a copy of a; d repeats one block.
  const [r1, r2, r3, r4] = [0, 1, 2, 3].map(() => new Uint8Array(randomBytes(4096)));
  const first = { "a.bin": concat(r1!, r2!), "b.bin": concat(r1!, r3!), "small.txt": new TextEncoder().encode("hello") };
  const second = { "c.bin": concat(r1!, r2!), "d.bin": concat(r4!, r4!, r4!, r4!), "small.txt": new TextEncoder().encode("hello") };

  test("whole files, fixed chunks and FastCDC count what the files share", async () => {
    const one = layout("one", [first]);
    const two = layout("two", [first, second]);
    const report = await analyzeDedup(ports, [`oci:${one}`, `oci:${two}`], { strata: false });
    const fileBytes = 8192 * 2 + 5;
    expect(report.imageBytes).toEqual([fileBytes, fileBytes + 8192 + 16384 ]);
    const total = 2 * fileBytes + 8192 + 16384;
    for (const r of report.content) expect(r.totalBytes).toBe(total);

    // Whole files: a, b, small, d are distinct; c = a.
    expect(row(report, "file")).toMatchObject({ uniqueBytes: 8192 * 2 + 5 + 16384, uniquePieces: 4, newBytes: [fileBytes, 16384] });
    // 4 KiB chunks: r1, r2, r3, r4 and "hello".
    expect(row(report, "fixed", 4096)).toMatchObject({ uniqueBytes: 4 * 4096 + 5, uniquePieces: 5, newBytes: [3 * 4096 + 5, 4096] });
    // 8 KiB chunks: r1r2, r1r3, hello, r4r4.
    expect(row(report, "fixed", 8192)).toMatchObject({ uniqueBytes: 3 * 8192 + 5, uniquePieces: 4 });
    // From 16 KiB on, every file is one chunk: the same as whole files.
    for (const size of FIXED_SIZES.filter((s) => s >= 16384)) expect(row(report, "fixed", size).uniqueBytes).toBe(row(report, "file").uniqueBytes);
    const cdc = row(report, "fastcdc", 65536);
    expect(cdc.uniqueBytes).toBeLessThanOrEqual(row(report, "file").uniqueBytes);
    expect(cdc.uniqueBytes).toBeGreaterThanOrEqual(row(report, "fixed", 4096).uniqueBytes);
  });

  test("storage: OCI bytes are the layouts' distinct blobs; dictionaries never make strata store more", async () => {
    const one = layout("s-one", [first]);
    const two = layout("s-two", [second]);
    const report = await analyzeDedup(ports, [`oci:${one}`, `oci:${two}`], { convert: { chunkSize: 4096 } });
    const blobs = new Map<string, number>();
    const pulled: number[] = [];
    for (const dir of [one, two]) {
      const index = JSON.parse(readFileSync(join(dir, "index.json"), "utf8"));
      const m = index.manifests[0];
      const manifest = JSON.parse(readFileSync(join(dir, "blobs/sha256", m.digest.slice(7)), "utf8"));
      let fetched = 0;
      for (const d of [m, manifest.config, ...manifest.layers]) if (!blobs.has(d.digest)) (blobs.set(d.digest, d.size), (fetched += d.size));
      pulled.push(fetched);
    }
    const oci = report.storage.find((s) => s.format === "oci")!;
    expect(oci.registryBytes).toBe([...blobs.values()].reduce((a, b) => a + b, 0));
    expect(oci.transferBytes).toEqual(pulled);
    const plain = report.storage.find((s) => s.format === "strata")!;
    const dict = report.storage.find((s) => s.format === "strata+dict")!;
    expect(dict.transferBytes[0]).toBe(plain.transferBytes[0]);
    expect(dict.registryBytes).toBeLessThanOrEqual(plain.registryBytes);
    expect(dict.transferBytes[1]).toBeLessThan(plain.transferBytes[1]!);
  });

  test("the CLI prints a table, or JSON; bad input is a usage or read error", async () => {
    const one = layout("cli-one", [first]);
    const out: string[] = [];
    const ctx = { ports, stdout: (t: string) => out.push(t), stderr: (t: string) => out.push(t), isTTY: false };
    expect(await runCli(["dedup", `oci:${one}`, "--content-only"], commands, ctx)).toBe(0);
    expect(out.join("")).toMatch(/fixed 4 KiB/);
    out.length = 0;
    expect(await runCli(["dedup", `oci:${one}`, "--content-only", "--json"], commands, ctx)).toBe(0);
    expect((JSON.parse(out.join("")) as DedupReport).content).toHaveLength(FIXED_SIZES.length + 2);
    expect(await runCli(["dedup"], commands, ctx)).toBe(2);
    expect(await runCli(["dedup", `oci:${join(work, "missing")}`], commands, ctx)).toBe(3);
  });
});

describe.skipIf(!hasCorpus("app-v1", "app-v2"))("corpus images (../shared/corpus/build-corpus.sh)", () => {
  test("app-v1 then app-v2: whole files as the corpus script measured; dictionaries make app-v2 a small pull", async () => {
    const report = await analyzeDedup(ports, [`oci:${corpusImage("app-v1")}`, `oci:${corpusImage("app-v2")}`]);
    const file = row(report, "file");
    // The images differ in 16 files (0.55 MB): app-v2 adds little content.
    expect(file.newBytes[1]).toBeLessThan(1e6);
    expect(row(report, "fixed", 4096).uniqueBytes).toBeLessThanOrEqual(row(report, "fixed", 1 << 20).uniqueBytes);
    const dict = report.storage.find((s) => s.format === "strata+dict")!;
    const oci = report.storage.find((s) => s.format === "oci")!;
    expect(dict.transferBytes[1]).toBeLessThan(1.5e6);
    expect(oci.transferBytes[1]).toBeGreaterThan(15e6);
  }, 900_000);
});
