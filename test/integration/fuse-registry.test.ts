// `strata mount --lazy docker://...`: a converted image pushed to a local docker-registry, read
// through the fault proxy. While the registry is unreachable (every connection reset) a read of
// an uncached file fails with EIO once the client's retries run out, instead of hanging; when the
// registry is back, the same read returns the right bytes.
import { execFile, execFileSync } from "node:child_process";
import { promisify } from "node:util";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { ociKernels } from "../../src/oci/kernels.js";
import { randomLayout } from "../../src/oci/random.js";
import { nodePorts } from "../../runtimes/node/index.js";
import { startFaultProxy, type FaultProxy } from "../helpers/fault-proxy.js";
import { forceUnmount, fuseUnavailable, isMounted, serveLazy, strata } from "../helpers/fuse.js";
import { writeLayout } from "../helpers/random-image.js";
import { hasRegistry, startRegistry, type TestRegistry } from "../helpers/registry.js";
import { diskTree } from "../helpers/validate.js";

const umoci = (() => {
  try {
    return execFileSync("which", ["umoci"], { encoding: "utf8" }).trim();
  } catch {
    return undefined;
  }
})();
const skip = fuseUnavailable ?? (!hasRegistry() ? "needs docker-registry" : !umoci ? "needs umoci" : undefined);

const work = mkdtempSync(join(tmpdir(), "strata-fuse-registry-"));
const mnt = join(work, "mnt");
let registry: TestRegistry | undefined;
let proxy: FaultProxy | undefined;
let down = false;
let rootfs = "";

/**
 * A file of the mount read by `cat` in another process: the proxy runs in this one, so a
 * synchronous read here would stop it from answering the very requests the read waits for.
 */
async function catFile(path: string): Promise<Buffer> {
  const { stdout } = await promisify(execFile)("cat", [path], { encoding: "buffer", maxBuffer: 256 << 20 });
  return stdout;
}

afterAll(async () => {
  forceUnmount(mnt);
  await proxy?.close();
  await registry?.stop();
  rmSync(work, { recursive: true, force: true });
});

describe.skipIf(skip !== undefined)(`lazy mount from a registry${skip ? ` (skipped: ${skip})` : ""}`, () => {
  beforeAll(async () => {
    const kernels = ociKernels(nodePorts());
    for (let seed = 900; ; seed++) {
      const layout = await randomLayout(kernels, { seed, layers: 3, entries: 40, compression: "gzip" });
      const source = join(work, `gen-${seed}`);
      writeLayout(source, layout);
      try {
        execFileSync(umoci!, ["unpack", "--image", `${source}:latest`, join(work, "umoci")], { stdio: "pipe" });
        rootfs = join(work, "umoci", "rootfs");
        await strata(["convert", `oci:${source}:latest`, `oci:${join(work, "nydus")}:latest`, "--chunk-size", "64K"]);
        break;
      } catch (e) {
        rmSync(join(work, "umoci"), { recursive: true, force: true });
        if (seed > 920) throw e;
      }
    }
    registry = await startRegistry();
    await strata(["copy", `oci:${join(work, "nydus")}:latest`, `docker://${registry.host}/lazy/gen:latest`, "--insecure"]);
    // A reset connection for every request while `down`: the registry is unreachable.
    proxy = await startFaultProxy({ target: registry.host, plan: () => (down ? { kind: "reset", after: 0 } : undefined) });
    mkdirSync(mnt);
  }, 300_000);

  test("reads fetch from the registry; while it is unreachable an uncached file is EIO, not a hang; once it is back the read succeeds", async () => {
    const served = await serveLazy(`docker://${proxy!.host}/lazy/gen:latest`, mnt, ["--insecure", "--cache-dir", join(work, "cache")]);
    try {
      const files = diskTree(rootfs).filter((r) => r.type === "file" && r.size > 0);
      expect(files.length).toBeGreaterThan(2);
      const [first, ...rest] = files;
      const before = proxy!.count("GET", /\/blobs\//);
      expect(await catFile(join(mnt, first!.path))).toEqual(readFileSync(join(rootfs, first!.path)));
      expect(proxy!.count("GET", /\/blobs\//)).toBeGreaterThan(before);

      down = true;
      const victim = rest.find((r) => r.size > 0)!;
      const failed = await catFile(join(mnt, victim.path)).then(
        () => "read",
        (e: { stderr: Buffer }) => e.stderr.toString(),
      );
      expect(failed, `reading ${victim.path} while the registry is down`).toMatch(/Input\/output error/);
      expect(served.stderr()).toMatch(/connection kept failing|fetch failed|NETWORK/);

      down = false;
      expect(await catFile(join(mnt, victim.path))).toEqual(readFileSync(join(rootfs, victim.path)));
      for (const row of rest) expect(await catFile(join(mnt, row.path)), row.path).toEqual(readFileSync(join(rootfs, row.path)));
    } finally {
      down = false;
      await strata(["umount", mnt]);
    }
    expect(await served.exited).toBe(0);
    expect(isMounted(mnt)).toBe(false);
    // The server reports what the mount fetched when it ends.
    const stats = JSON.parse(served.stderr().match(/\{"stats":.*\}/)![0]).stats;
    expect(stats.bytesFetched).toBeGreaterThan(0);
  }, 300_000);
});
