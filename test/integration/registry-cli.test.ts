// `strata convert docker://… docker://…` on the corpus image app-v1 (pushed with skopeo), as a
// user runs it: the second run pushes nothing, and `strata verify` and `inspect` read the result
// from the registry. A pass-through proxy counts what goes over the wire. `strata copy` pushes,
// mounts and pulls the same image.
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { startFaultProxy, type FaultProxy } from "../helpers/fault-proxy.js";
import { hasRegistry, skopeoCopy, startRegistry, type TestRegistry } from "../helpers/registry.js";
import { runStrata } from "../helpers/cli.js";

const CORPUS = process.env.STRATA_CORPUS ?? "/tmp/corpus";
const APP_V1 = join(CORPUS, "images/app-v1");
const skip = !hasRegistry() ? "docker-registry is not installed" : !existsSync(APP_V1) ? `no corpus at ${CORPUS}` : undefined;

/** Runs the CLI from source (tsx), asynchronously so the in-process proxy keeps serving. */
async function strata(...args: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  const r = await runStrata(args, { ...process.env, HOME: work });
  return { status: r.code ?? -1, stdout: r.stdout.toString(), stderr: r.stderr };
}

const work = mkdtempSync(join(tmpdir(), "strata-registry-cli-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe.skipIf(skip !== undefined)(`strata CLI with docker:// ${skip ? `(skipped: ${skip})` : ""}`, () => {
  let registry: TestRegistry;
  let proxy: FaultProxy;
  beforeAll(async () => {
    registry = await startRegistry();
    skopeoCopy(`oci:${APP_V1}:latest`, `docker://${registry.host}/corpus/app:v1`);
    proxy = await startFaultProxy({ target: registry.host });
  }, 120_000);
  afterAll(async () => {
    await proxy?.close();
    await registry?.stop();
  });

  test("convert docker:// → docker:// pushes once; again it pushes nothing; verify and inspect read it back", async () => {
    const src = `docker://${proxy.host}/corpus/app:v1`;
    const dst = `docker://${proxy.host}/corpus/app:v1-nydus`;
    const first = await strata("convert", src, dst, "--insecure", "--json");
    expect(first.status, first.stderr).toBe(0);
    const one = JSON.parse(first.stdout) as { manifest: { digest: string }; blobs: unknown[]; push: { uploaded: number; skipped: number; manifests: number } };
    expect(one.push.uploaded).toBe(one.blobs.length + 2); // blobs, bootstrap layer, config
    expect(one.push.manifests).toBe(2); // by digest, then the tag

    const seen = proxy.requests.length;
    const second = await strata("convert", src, dst, "--insecure", "--json");
    expect(second.status, second.stderr).toBe(0);
    const two = JSON.parse(second.stdout) as typeof one;
    expect(two.manifest.digest).toBe(one.manifest.digest);
    expect(two.push).toEqual({ uploaded: 0, skipped: one.push.uploaded, mounted: 0, manifests: 0 });
    const during = proxy.requests.slice(seen);
    expect(during.filter((r) => r.method === "POST" || r.method === "PATCH" || r.method === "PUT")).toEqual([]);

    const verify = await strata("verify", dst, "--insecure");
    expect(verify.status, verify.stdout + verify.stderr).toBe(0);
    expect(verify.stdout).toMatch(/^OK /);

    const inspect = await strata("inspect", dst, "/app/app.py", "--insecure", "--json", "--no-chunks");
    expect(inspect.status, inspect.stderr).toBe(0);
    expect(JSON.stringify(JSON.parse(inspect.stdout))).toContain("/app/app.py");

  }, 480_000);

  test("copy: a layout pushed by strata, mounted into another repository, pulled back into a layout byte for byte", async () => {
    const index = JSON.parse(readFileSync(join(APP_V1, "index.json"), "utf8")) as { manifests: { digest: string }[] };
    const digest = index.manifests[0]!.digest;
    const manifest = JSON.parse(readFileSync(join(APP_V1, "blobs/sha256", digest.slice(7)), "utf8")) as { layers: { digest: string }[]; config: { digest: string } };
    const push = await strata("copy", `oci:${APP_V1}:latest`, `docker://${registry.host}/strata/app:v1`, "--insecure", "--json");
    expect(push.status, push.stderr).toBe(0);
    const pushed = JSON.parse(push.stdout) as { manifest: { digest: string }; push: { uploaded: number; mounted: number } };
    expect(pushed.manifest.digest).toBe(digest);
    expect(pushed.push.uploaded).toBe(manifest.layers.length + 1);

    const mount = await strata("copy", `docker://${registry.host}/strata/app:v1`, `docker://${registry.host}/strata/mounted:v1`, "--insecure", "--json");
    expect(mount.status, mount.stderr).toBe(0);
    expect((JSON.parse(mount.stdout) as typeof pushed).push).toMatchObject({ mounted: manifest.layers.length, uploaded: 1 });

    const out = join(work, "pulled");
    const pull = await strata("copy", `docker://${registry.host}/strata/mounted:v1`, `oci:${out}:v1`, "--insecure", "--json");
    expect(pull.status, pull.stderr).toBe(0);
    for (const d of [digest, manifest.config.digest, ...manifest.layers.map((l) => l.digest)]) {
      expect(readFileSync(join(out, "blobs/sha256", d.slice(7))).equals(readFileSync(join(APP_V1, "blobs/sha256", d.slice(7))))).toBe(true);
    }
    expect(readFileSync(join(out, "index.json"), "utf8")).toContain(digest);
  }, 240_000);

  test("usage and access errors are typed: no --insecure, a digest destination, unknown repository", async () => {
    const noTls = await strata("inspect", `docker://${registry.host}/corpus/app:v1`, "--json");
    expect(noTls.status).toBe(3);
    expect(JSON.parse(noTls.stdout).error.code).toBe("NETWORK");
    const digestDest = await strata("convert", `docker://${registry.host}/corpus/app:v1`, `docker://${registry.host}/corpus/app@sha256:${"0".repeat(64)}`, "--insecure", "--json");
    expect(digestDest.status).toBe(2);
    const missing = await strata("verify", `docker://${registry.host}/corpus/nothing:v1`, "--insecure", "--json");
    expect(missing.status).toBe(3);
    expect(JSON.parse(missing.stdout).error.code).toBe("NOT_FOUND");
  }, 120_000);
});
