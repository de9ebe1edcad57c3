// Pulling corpus app-v1 (docker:// → a fresh OCI layout) from a real registry (Debian's
// docker-registry on a loopback port, started here) with strata and with skopeo. Both download
// every blob and check its digest; skopeo's time includes starting its process (~tens of ms).
// Skipped when the corpus, docker-registry or skopeo is absent.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createStreamingSha256 } from "../src/kernels/sha256.js";
import { ociKernels } from "../src/oci/kernels.js";
import { LayoutWriter } from "../src/oci/layout-writer.js";
import { openImage } from "../src/oci/open.js";
import { copyImage } from "../src/registry/push.js";
import { nodePorts } from "../runtimes/node/index.js";
import { freePort } from "../test/helpers/registry.js";
import type { BenchCase } from "./harness.js";

const CORPUS = process.env.STRATA_CORPUS ?? "/tmp/corpus";
const ports = nodePorts();

export default async function registryBench(): Promise<BenchCase[]> {
  const source = join(CORPUS, "images", "app-v1");
  const have = (tool: string) => spawnSync(tool, ["--version"]).status === 0;
  if (!existsSync(source) || !have("docker-registry") || !have("skopeo")) return [];

  const work = mkdtempSync(join(tmpdir(), "strata-bench-registry-"));
  const host = `127.0.0.1:${await freePort()}`;
  const config = join(work, "config.yml");
  writeFileSync(config, `version: 0.1\nlog: {level: error, accesslog: {disabled: true}}\nstorage: {filesystem: {rootdirectory: ${join(work, "data")}}}\nhttp: {addr: ${host}}\n`);
  const registry = spawn("docker-registry", ["serve", config], { stdio: "ignore" });
  registry.unref();
  process.on("exit", () => {
    registry.kill();
    rmSync(work, { recursive: true, force: true });
  });
  for (let i = 0; (await fetch(`http://${host}/v2/`).then((r) => r.status, () => 0)) !== 200; i++) {
    if (i > 100) throw new Error("registry did not start");
    await new Promise((r) => setTimeout(r, 100));
  }
  const push = spawnSync("skopeo", ["copy", "-q", "--dest-tls-verify=false", `oci:${source}:latest`, `docker://${host}/corpus/app:v1`]);
  if (push.status !== 0) throw new Error(`skopeo push failed: ${push.stderr}`);

  const ref = `docker://${host}/corpus/app:v1`;
  const kernels = ociKernels(ports);
  const image = await openImage(ports, ref, { kernels, registry: { insecure: true } });
  const bytes = (await image.layers()).reduce((n, l) => n + l.size, 0) + (await image.rawConfig()).length;
  let run = 0;
  const fresh = () => join(work, `pull-${run++}`);
  const bench = `pull app-v1 (${(bytes / 1048576).toFixed(1)} MiB) from a loopback registry into an OCI layout`;
  return [
    {
      bench,
      impl: "strata",
      bytes,
      async run() {
        const dir = fresh();
        const source = await openImage(ports, ref, { kernels, registry: { insecure: true } });
        const dest = await LayoutWriter.open(dir, ports.output!, ports.files!, { sha256: () => createStreamingSha256(ports) });
        await copyImage(source, dest, "v1", { jobs: 4 });
        rmSync(dir, { recursive: true, force: true });
      },
    },
    {
      bench,
      impl: "skopeo",
      bytes,
      run() {
        const dir = fresh();
        const r = spawnSync("skopeo", ["copy", "-q", "--src-tls-verify=false", ref, `oci:${dir}:v1`]);
        if (r.status !== 0 || !statSync(join(dir, "index.json")).isFile()) throw new Error(`skopeo pull failed: ${r.stderr}`);
        rmSync(dir, { recursive: true, force: true });
      },
    },
  ];
}
