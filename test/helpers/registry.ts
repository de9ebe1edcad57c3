// A real registry for tests: Debian's docker-registry (distribution 2.8) on its own loopback
// port with its own storage directory, anonymous, htpasswd basic auth, or token auth.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const REGISTRY_USER = "strata";
export const REGISTRY_PASSWORD = "s3cret:pass";

export type RegistryAuth = { kind: "none" } | { kind: "basic" } | { kind: "token"; realm: string; service: string; issuer: string; certPath: string };

export interface TestRegistry {
  /** host:port */
  readonly host: string;
  readonly dir: string;
  /** The registry's log so far (for failure messages). */
  log(): string;
  stop(): Promise<void>;
}

export function hasRegistry(): boolean {
  return spawnSync("docker-registry", ["--version"]).status === 0;
}

/** A free loopback port (the kernel's choice, released just before the registry binds it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** `proxyOf` (a registry URL) makes this one a pull-through cache of it, as a mirror. */
export async function startRegistry(auth: RegistryAuth = { kind: "none" }, proxyOf?: string): Promise<TestRegistry> {
  const dir = mkdtempSync(join(tmpdir(), "strata-registry-"));
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  const lines = [
    "version: 0.1",
    "log: {level: warn, accesslog: {disabled: true}}",
    "storage:",
    `  filesystem: {rootdirectory: ${join(dir, "data")}}`,
    "  delete: {enabled: true}",
    "http:",
    `  addr: ${host}`,
    `  secret: strata-test-${port}`,
  ];
  if (proxyOf) lines.push("proxy:", `  remoteurl: ${proxyOf}`);
  if (auth.kind === "basic") {
    const htpasswd = spawnSync("htpasswd", ["-Bbn", REGISTRY_USER, REGISTRY_PASSWORD], { encoding: "utf8" });
    if (htpasswd.status !== 0) throw new Error(`htpasswd failed: ${htpasswd.stderr}`);
    writeFileSync(join(dir, "htpasswd"), htpasswd.stdout);
    lines.push("auth:", "  htpasswd:", "    realm: strata-test", `    path: ${join(dir, "htpasswd")}`);
  } else if (auth.kind === "token") {
    lines.push("auth:", "  token:", `    realm: ${auth.realm}`, `    service: ${auth.service}`, `    issuer: ${auth.issuer}`, `    rootcertbundle: ${auth.certPath}`);
  }
  writeFileSync(join(dir, "config.yml"), lines.join("\n") + "\n");
  const logPath = join(dir, "registry.log");
  const out = openSync(logPath, "a");
  const child: ChildProcess = spawn("docker-registry", ["serve", join(dir, "config.yml")], { stdio: ["ignore", out, out] });
  const log = () => readFileSync(logPath, "utf8");
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  for (let i = 0; ; i++) {
    const status = await fetch(`http://${host}/v2/`).then((r) => r.status, () => 0);
    if (status === 200 || status === 401) break;
    if (i >= 100 || child.exitCode !== null) {
      const text = log();
      await stop();
      throw new Error(`registry on ${host} did not start:\n${text}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { host, dir, log, stop };
}

/** skopeo copy, for pushing reference images the way other tools do. */
export function skopeoCopy(from: string, to: string, extra: string[] = []): void {
  const tls = [...(from.startsWith("docker://") ? ["--src-tls-verify=false"] : []), ...(to.startsWith("docker://") ? ["--dest-tls-verify=false"] : [])];
  const r = spawnSync("skopeo", ["copy", "-q", ...tls, ...extra, from, to], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`skopeo copy ${from} ${to} failed: ${r.stderr}`);
}
