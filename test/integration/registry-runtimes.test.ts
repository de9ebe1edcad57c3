// docker:// in Deno and Bun: their adapters' own fetch pulls an image strata pushed from Node;
// every layer arrives with the digest its manifest names.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { createStreamingSha256 } from "../../src/kernels/sha256.js";
import { ociKernels } from "../../src/oci/kernels.js";
import { openOciLayout } from "../../src/oci/layout.js";
import { randomLayout, type RandomLayout } from "../../src/oci/random.js";
import { RegistryClient } from "../../src/registry/client.js";
import { copyImage, RegistrySink } from "../../src/registry/push.js";
import { nodeFilesPort } from "../../runtimes/node/files.js";
import { ports } from "../helpers/kernels.js";
import { writeLayout } from "../helpers/random-image.js";
import { hasRegistry, startRegistry, type TestRegistry } from "../helpers/registry.js";

const root = new URL("../..", import.meta.url).pathname;
const work = mkdtempSync(join(tmpdir(), "strata-registry-runtimes-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const script = join(root, "test/runtimes/registry/pull.ts");

describe.skipIf(!hasRegistry())("docker:// pulls in other runtimes", () => {
  let registry: TestRegistry;
  let layout: RandomLayout;
  beforeAll(async () => {
    registry = await startRegistry();
    const kernels = ociKernels(ports);
    layout = await randomLayout(kernels, { seed: 51, layers: 2, compression: "gzip" });
    writeLayout(work, layout);
    const image = await openOciLayout(nodeFilesPort(), work, { kernels });
    const sink = new RegistrySink(new RegistryClient((u, i) => fetch(u, i), registry.host, { insecure: true }), "rt/app", { sha256: () => createStreamingSha256(ports) });
    await copyImage(image, sink, "v1");
  });
  afterAll(() => registry?.stop());

  const expected = () => {
    const manifest = JSON.parse(new TextDecoder().decode(layout.files.get(`blobs/sha256/${layout.manifest.digest.slice(7)}`)!)) as { layers: { digest: string }[] };
    return `PULLED ${layout.manifest.digest} ${manifest.layers.map((l) => l.digest).join(" ")}`;
  };

  test.each([
    ["deno", ["run", "-A", "--config", join(root, "deno.json"), script]],
    ["bun", [script]],
  ])("%s", (runtime, args) => {
    const r = spawnSync(join(root, "node_modules/.bin", runtime), [...args, `docker://${registry.host}/rt/app:v1`], { encoding: "utf8", cwd: root, timeout: 120_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim().split("\n").at(-1)).toBe(expected());
  }, 180_000);
});
