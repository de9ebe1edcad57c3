// The example subscriber of docs/EVENTS.md (examples/security-scanner.ts), in-process on a
// conversion and as a separate process reading the NDJSON stream: it must flag exactly the
// setuid and setgid files and the file whose second chunk is on the deny list.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createBLAKE3 } from "hash-wasm";
import { afterAll, beforeAll, expect, it } from "vitest";
import { securityScanner } from "../../examples/security-scanner.js";
import { EventBus, ndjsonSubscriber } from "../../src/events.js";
import { MEDIA_TYPES } from "../../src/oci/types.js";
import { writeTar, type TarWriteEntry } from "../../src/tar/writer.js";
import { convertLayoutFiles } from "../helpers/convert-random.js";

const root = fileURLToPath(new URL("../..", import.meta.url));
const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
const json = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));

/** A one-layer OCI layout (uncompressed tar) in memory. */
function layoutOf(entries: TarWriteEntry[]): Map<string, Uint8Array> {
  const files = new Map<string, Uint8Array>();
  const put = (bytes: Uint8Array) => {
    files.set(`blobs/sha256/${sha256(bytes)}`, bytes);
    return { digest: `sha256:${sha256(bytes)}`, size: bytes.length };
  };
  const tar = writeTar(entries);
  const layer = { mediaType: MEDIA_TYPES.ociLayer, ...put(tar) };
  const config = { mediaType: MEDIA_TYPES.ociConfig, ...put(json({ architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: [layer.digest] } })) };
  const manifest = put(json({ schemaVersion: 2, mediaType: MEDIA_TYPES.ociManifest, config, layers: [layer] }));
  files.set("oci-layout", json({ imageLayoutVersion: "1.0.0" }));
  files.set("index.json", json({ schemaVersion: 2, manifests: [{ mediaType: MEDIA_TYPES.ociManifest, ...manifest, annotations: { "org.opencontainers.image.ref.name": "latest" } }] }));
  return files;
}

let work: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "strata-scanner-"));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

it("flags setuid and setgid files and deny-listed chunks, in-process and from the NDJSON stream", async () => {
  const evil = new TextEncoder().encode("a payload the deny list knows about\n".repeat(50));
  const innocent = new Uint8Array(4096).fill(7);
  const blake3 = await createBLAKE3();
  const deniedDigest = blake3.init().update(evil).digest("hex");
  const files = layoutOf([
    { path: "usr/", type: "dir", mode: 0o755 },
    { path: "usr/bin/", type: "dir", mode: 0o755 },
    { path: "usr/bin/su", type: "file", mode: 0o4755, data: new Uint8Array([1, 2, 3]) },
    { path: "usr/bin/wall", type: "file", mode: 0o2755, data: new Uint8Array([4, 5]) },
    { path: "usr/bin/ls", type: "file", mode: 0o755, data: new Uint8Array([6]) },
    { path: "var/", type: "dir", mode: 0o755 },
    { path: "var/mail/", type: "dir", mode: 0o2775 },
    // The denied bytes as the second 4 KiB chunk of a file, and as a whole file of their own.
    { path: "opt/", type: "dir", mode: 0o755 },
    { path: "opt/bundle", type: "file", mode: 0o644, data: new Uint8Array([...innocent, ...evil]) },
    { path: "opt/evil.bin", type: "file", mode: 0o644, data: evil },
    { path: "opt/link-to-su", type: "hardlink", linkname: "usr/bin/su", mode: 0o4755 },
  ]);
  const bus = new EventBus();
  const scanner = securityScanner([deniedDigest, "00".repeat(32)]);
  bus.subscribe(scanner.subscriber, { policy: "block" });
  let ndjson = "";
  bus.subscribe(ndjsonSubscriber((lines) => void (ndjson += lines)));
  await convertLayoutFiles(join(work, "nydus"), files, { chunkSize: 4096, events: bus });
  await bus.close();

  const expected = [
    { path: "/opt/bundle", reason: "denied-chunk", chunk: 1, digest: deniedDigest },
    { path: "/opt/evil.bin", reason: "denied-chunk", chunk: 0, digest: deniedDigest },
    { path: "/opt/link-to-su", reason: "setuid" },
    { path: "/usr/bin/su", reason: "setuid" },
    { path: "/usr/bin/wall", reason: "setgid" },
  ];
  expect(scanner.findings).toEqual(expected);

  // The same findings from a separate process reading the stream, exit 1.
  const deny = join(work, "deny.txt");
  writeFileSync(deny, `${deniedDigest}\n`);
  const run = spawnSync(join(root, "node_modules/.bin/tsx"), [join(root, "examples/security-scanner.ts"), deny], { input: ndjson, encoding: "utf8" });
  expect(run.stderr).toBe("");
  expect(run.status).toBe(1);
  expect(run.stdout.trimEnd().split("\n")).toEqual(expected.map((f) => `${f.reason} ${f.path}${f.digest ? ` chunk ${f.chunk} ${f.digest}` : ""}`));
});
