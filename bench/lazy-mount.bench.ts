// Container start-up over a slow link, the comparison Nydus is known for: corpus app-v1 in a local
// docker-registry behind a proxy throttled to 3 MB/s, and the time until `python3 /app/app.py`
// (run with chroot) prints its JSON.
//   strata: `strata mount --lazy docker://...` (a cold chunk cache every run), then chroot into
//           the mount: only the chunks the program reads cross the link.
//   skopeo+umoci: `skopeo copy` of the OCI image to a layout, `umoci unpack`, then chroot.
// Both cases count the OCI image's stored size as their bytes, so the MB/s ratio is the start-up
// time ratio; fetchedBytes is what crossed the proxy in the last run. Needs root, /dev/fuse,
// docker-registry, skopeo, umoci and the corpus; returns no cases otherwise. The setup (convert,
// push, building dist/ for bin/strata.js) runs on the first run, so other benches' filters do
// not pay for it.
import { execFile, spawn } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { startFaultProxy, type FaultProxy } from "../test/helpers/fault-proxy.js";
import { forceUnmount, fuseUnavailable, isMounted, REPO, strata } from "../test/helpers/fuse.js";
import { hasRegistry, startRegistry } from "../test/helpers/registry.js";
import type { BenchCase } from "./harness.js";

const CORPUS = process.env.STRATA_CORPUS ?? "/tmp/corpus";
const SOURCE = join(CORPUS, "images", "app-v1");
const BYTES_PER_SECOND = 3_000_000;
const run = promisify(execFile);

async function usable(): Promise<boolean> {
  if (fuseUnavailable || !hasRegistry() || !existsSync(SOURCE)) return false;
  const found = await Promise.all(["skopeo", "umoci", "chroot"].map((tool) => run("which", [tool]).then(() => true, () => false)));
  return found.every(Boolean);
}

/** The app's JSON, checked: a start-up that printed something else is not a start-up. */
async function startApp(root: string): Promise<void> {
  const { stdout } = await run("chroot", [root, "/usr/bin/python3", "/app/app.py"]);
  if (JSON.parse(stdout).version !== "1.0") throw new Error(`app-v1 printed ${stdout}`);
}

export default async function lazyMountBench(): Promise<BenchCase[]> {
  if (!(await usable())) return [];
  const imageBytes = readdirSync(join(SOURCE, "blobs", "sha256")).reduce((n, f) => n + statSync(join(SOURCE, "blobs", "sha256", f)).size, 0);
  // Created by the first run: loading this file for another bench's filter leaves nothing behind.
  const work = join(tmpdir(), `strata-bench-mount-${process.pid}`);
  const mnt = join(work, "mnt");

  let setup: Promise<FaultProxy> | undefined;
  const ready = () =>
    (setup ??= (async () => {
      // The server runs as users run it, from the compiled bin (tsx would add a second of start-up).
      await run("npx", ["tsc", "-p", "tsconfig.json"], { cwd: REPO });
      mkdirSync(mnt, { recursive: true });
      const registry = await startRegistry();
      await strata(["convert", `oci:${SOURCE}:latest`, `docker://${registry.host}/corpus/app:nydus`, "--insecure"]);
      await strata(["copy", `oci:${SOURCE}:latest`, `docker://${registry.host}/corpus/app:oci`, "--insecure"]);
      const proxy = await startFaultProxy({ target: registry.host, bytesPerSecond: BYTES_PER_SECOND });
      // The registry and proxy live as long as the bench process; stop() signals the registry at once.
      process.on("exit", () => {
        forceUnmount(mnt);
        void proxy.close();
        void registry.stop();
        rmSync(work, { recursive: true, force: true });
      });
      return proxy;
    })());
  let lazy = { ms: 0, mountMs: 0, fetchedBytes: 0, requests: 0 };
  let pull = { ms: 0, fetchedBytes: 0, requests: 0 };
  let runs = 0;

  const lazyRun = async () => {
    const proxy = await ready();
    const before = proxy.requests.length;
    const cache = join(work, `cache-${runs++}`);
    const start = performance.now();
    const server = spawn(process.execPath, ["bin/strata.js", "mount", "--lazy", `docker://${proxy.host}/corpus/app:nydus`, mnt, "--foreground", "--insecure", "--cache-dir", cache], {
      cwd: REPO,
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    server.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<void>((resolve) => server.on("exit", () => resolve()));
    while (!isMounted(mnt)) {
      if (server.exitCode !== null) throw new Error(`strata mount --lazy failed: ${stderr}`);
      await new Promise((r) => setTimeout(r, 10));
    }
    const mounted = performance.now() - start;
    await startApp(mnt);
    const ms = performance.now() - start;
    await strata(["umount", mnt]);
    await exited;
    rmSync(cache, { recursive: true, force: true });
    // Chunk bytes as the lazy reader counted them, plus the bootstrap layer read at open.
    const report = JSON.parse(/\{"stats":.*\}/.exec(stderr)![0]) as { stats: { bytesFetched: number }; bootstrapLayerBytes?: number };
    lazy = { ms, mountMs: mounted, fetchedBytes: report.stats.bytesFetched + (report.bootstrapLayerBytes ?? 0), requests: proxy.requests.length - before };
  };

  const pullRun = async () => {
    const proxy = await ready();
    const before = proxy.requests.length;
    const dir = join(work, "pulled");
    const start = performance.now();
    await run("skopeo", ["copy", "-q", "--src-tls-verify=false", `docker://${proxy.host}/corpus/app:oci`, `oci:${dir}:latest`]);
    await run("umoci", ["unpack", "--image", `${dir}:latest`, join(dir, "bundle")]);
    await startApp(join(dir, "bundle", "rootfs"));
    const ms = performance.now() - start;
    rmSync(dir, { recursive: true, force: true });
    pull = { ms, fetchedBytes: imageBytes, requests: proxy.requests.length - before };
  };

  const bench = "app-v1 start-up over a 3 MB/s registry link";
  return [
    { bench, impl: "strata", bytes: imageBytes, run: lazyRun, extra: () => ({ startMs: lazy.ms.toFixed(0), mountedMs: lazy.mountMs.toFixed(0), fetchedBytes: lazy.fetchedBytes, requests: lazy.requests, imageBytes }) },
    {
      bench,
      impl: "skopeo+umoci",
      bytes: imageBytes,
      run: pullRun,
      // Runs second: compares its last run with strata's.
      extra: () => ({ startMs: pull.ms.toFixed(0), requests: pull.requests, startX: (pull.ms / lazy.ms).toFixed(1), fetchedPercent: ((100 * lazy.fetchedBytes) / imageBytes).toFixed(1) }),
    },
  ];
}
