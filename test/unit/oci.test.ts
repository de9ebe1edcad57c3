// OCI sources on generated layouts: directory, memory, oci-archive and docker-archive (made by
// GNU tar and skopeo), digest verification, platform selection, transport names.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { nodeFilesPort } from "../../runtimes/node/files.js";
import { isStrataError } from "../../src/errors.js";
import { Overlay } from "../../src/fs/overlay.js";
import { walk } from "../../src/fs/inode.js";
import type { OciKernels } from "../../src/oci/decompress.js";
import { inspectImage, listTree } from "../../src/oci/inspect.js";
import { openImage } from "../../src/oci/open.js";
import { memoryFilesPort, randomLayout, type RandomLayout } from "../../src/oci/random.js";
import { parseReference } from "../../src/oci/reference.js";
import { MEDIA_TYPES, type Descriptor } from "../../src/oci/types.js";
import { readTar } from "../../src/tar/reader.js";
import { writeTar } from "../../src/tar/writer.js";
import { ports } from "../helpers/kernels.js";
import { writeLayout } from "../helpers/random-image.js";
import { readStream, sha256, testKernels, validate } from "../helpers/validate.js";

let kernels: OciKernels;
beforeAll(async () => {
  kernels = (await testKernels()).kernels;
});

const files = nodeFilesPort();
const tmp = mkdtempSync(join(tmpdir(), "strata-oci-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const enc = new TextEncoder();

function memPorts(layout: RandomLayout) {
  return { ...ports, files: memoryFilesPort("/mem", layout.files) };
}

/** Re-signs a layout after editing its config or manifest JSON. */
function resign(layout: RandomLayout, edit: { config?: (c: any) => void; manifest?: (m: any) => void; index?: (i: any) => void }): Map<string, Uint8Array> {
  const out = new Map(layout.files);
  const blob = (d: string) => JSON.parse(new TextDecoder().decode(out.get(`blobs/sha256/${d.slice(7)}`)));
  const put = (value: unknown) => {
    const bytes = enc.encode(JSON.stringify(value));
    const digest = sha256(bytes);
    out.set(`blobs/sha256/${digest.slice(7)}`, bytes);
    return { digest, size: bytes.length };
  };
  const manifest = blob(layout.manifest.digest);
  const config = blob(manifest.config.digest);
  edit.config?.(config);
  manifest.config = { ...manifest.config, ...put(config) };
  edit.manifest?.(manifest);
  const index = { schemaVersion: 2, manifests: [{ ...layout.manifest, ...put(manifest) }] };
  edit.index?.(index);
  out.set("index.json", enc.encode(JSON.stringify(index)));
  return out;
}

/** The tree the overlay builds straight from the generated layer entries (no OCI plumbing). */
async function directTree(layout: RandomLayout) {
  const overlay = new Overlay();
  for (const [i, entries] of layout.layers.entries()) await overlay.applyLayer(i, readTar(writeTar(entries)));
  return [...walk(overlay.root)].map(([p, inode]) => [p, inode.mode, inode.size, inode.target]);
}

describe("transport names", () => {
  test("parse", () => {
    expect(parseReference("oci:/a/b")).toEqual({ transport: "oci", path: "/a/b" });
    expect(parseReference("oci:dir:v1.2")).toEqual({ transport: "oci", path: "dir", tag: "v1.2" });
    const d = `sha256:${"ab".repeat(32)}`;
    expect(parseReference(`oci:dir@${d}`)).toEqual({ transport: "oci", path: "dir", digest: d });
    expect(parseReference("oci-archive:x.tar:latest")).toEqual({ transport: "oci-archive", path: "x.tar", tag: "latest" });
    expect(parseReference("docker-archive:x.tar:docker.io/corpus/app:latest")).toEqual({ transport: "docker-archive", path: "x.tar", tag: "docker.io/corpus/app:latest" });
    expect(parseReference("docker-archive:x.tar:@2")).toEqual({ transport: "docker-archive", path: "x.tar", index: 2 });
  });
  test("reject malformed names with BAD_REFERENCE", () => {
    for (const r of ["dir", "docker://x", "oci:", "oci:dir:", "oci:dir@sha256:abc", "docker-archive:x:@y", ":x"]) {
      expect(() => parseReference(r), r).toThrow(expect.objectContaining({ code: "BAD_REFERENCE" }));
    }
  });
});

describe("OCI layout sources", () => {
  for (const compression of ["none", "gzip"] as const) {
    test(`random layouts (${compression}) validate and flatten like their layers`, async () => {
      for (const seed of [1, 2, 3, 4]) {
        const layout = await randomLayout(kernels, { seed, compression, layers: 4 });
        const image = await openImage(memPorts(layout), "oci:/mem", { kernels });
        await validate(image);
        const listing = await inspectImage(image, kernels);
        expect(listing.map((r) => [r.path, r.mode, r.size, r.target])).toEqual(
          (await directTree(layout)).map(([p, mode, size, target]) => [p, (mode as number) & 0o7777, size, target]),
        );
      }
    });
  }

  test("a layout directory, an oci-archive made by GNU tar and a docker-archive made by skopeo agree", async () => {
    const layout = await randomLayout(kernels, { seed: 7, compression: "gzip", tag: "v1" });
    const dir = join(tmp, "layout7");
    writeLayout(dir, layout);
    const archive = join(tmp, "layout7.tar");
    execFileSync("tar", ["-cf", archive, "-C", dir, "."]);
    const docker = join(tmp, "docker7.tar");
    execFileSync("skopeo", ["copy", "-q", `oci:${dir}:v1`, `docker-archive:${docker}:example.com/seven:v1`], { stdio: "ignore" });
    const withFiles = { ...ports, files };
    const listings = [];
    for (const ref of [`oci:${dir}:v1`, `oci-archive:${archive}:v1`, `docker-archive:${docker}`, `docker-archive:${docker}:example.com/seven:v1`, `docker-archive:${docker}:@0`]) {
      const image = await openImage(withFiles, ref, { kernels });
      const { layers } = await validate(image);
      expect(layers).toBe(3);
      listings.push(await inspectImage(image, kernels));
    }
    for (const l of listings.slice(1)) expect(l).toEqual(listings[0]);
  });

  test("tags, digests and defaults select manifests; unknown ones are NOT_FOUND naming what exists", async () => {
    const layout = await randomLayout(kernels, { seed: 9, tag: "v9" });
    const p = memPorts(layout);
    const byTag = await openImage(p, "oci:/mem:v9", { kernels });
    const byDigest = await openImage(p, `oci:/mem@${layout.manifest.digest}`, { kernels });
    expect(await byTag.digest()).toBe(layout.manifest.digest);
    expect(await byDigest.digest()).toBe(layout.manifest.digest);
    await expect(openImage(p, "oci:/mem:nope", { kernels })).rejects.toMatchObject({ code: "NOT_FOUND", message: expect.stringContaining("v9") });
    await expect(openImage(p, `oci:/mem@sha256:${"0".repeat(64)}`, { kernels })).rejects.toMatchObject({ code: "NOT_FOUND" });
    await expect(openImage(p, "oci:/elsewhere", { kernels })).rejects.toMatchObject({ code: "NOT_FOUND" });
  });
});

describe("verification", () => {
  test("a corrupted layer blob fails its stream with DIGEST_MISMATCH naming the layer", async () => {
    const layout = await randomLayout(kernels, { seed: 11 });
    const image = await openImage(memPorts(layout), "oci:/mem", { kernels });
    const layer = (await image.layers())[1]!;
    const blob = layout.files.get(`blobs/sha256/${layer.digest.slice(7)}`)!;
    blob[blob.length - 1] ^= 1; // the end-of-archive padding: the tar still parses
    for (const stream of [() => layer.compressed(), () => layer.uncompressed()]) {
      await expect(readStream(stream())).rejects.toMatchObject({ code: "DIGEST_MISMATCH", message: expect.stringContaining(`layer 1 (${layer.digest})`) });
    }
    await expect(inspectImage(image, kernels)).rejects.toMatchObject({ code: "DIGEST_MISMATCH" });
  });

  test("a wrong diff_id fails the uncompressed stream; a wrong size fails on open", async () => {
    const layout = await randomLayout(kernels, { seed: 12 });
    const badDiff = resign(layout, { config: (c) => (c.rootfs.diff_ids[0] = `sha256:${"1".repeat(64)}`) });
    const image = await openImage({ ...ports, files: memoryFilesPort("/mem", badDiff) }, "oci:/mem", { kernels });
    const [layer] = await image.layers();
    await readStream(layer!.compressed()); // the stored bytes are fine
    await expect(readStream(layer!.uncompressed())).rejects.toMatchObject({ code: "DIGEST_MISMATCH", message: expect.stringContaining("diff_id") });

    const badSize = resign(layout, { manifest: (m) => (m.layers[0].size += 1) });
    const image2 = await openImage({ ...ports, files: memoryFilesPort("/mem", badSize) }, "oci:/mem", { kernels });
    await expect(image2.layers()).rejects.toMatchObject({ code: "DIGEST_MISMATCH" });
  });

  test("a tampered manifest or config is DIGEST_MISMATCH; malformed JSON is BAD_MANIFEST", async () => {
    const layout = await randomLayout(kernels, { seed: 13 });
    const files2 = new Map(layout.files);
    const key = `blobs/sha256/${layout.manifest.digest.slice(7)}`;
    const tampered = files2.get(key)!.slice();
    tampered[10] ^= 1;
    files2.set(key, tampered);
    const image = await openImage({ ...ports, files: memoryFilesPort("/mem", files2) }, "oci:/mem", { kernels });
    await expect(image.manifest()).rejects.toMatchObject({ code: "DIGEST_MISMATCH" });
    const notJson = new Map(layout.files);
    notJson.set("index.json", enc.encode("{nope"));
    await expect(openImage({ ...ports, files: memoryFilesPort("/mem", notJson) }, "oci:/mem", { kernels })).rejects.toMatchObject({ code: "BAD_MANIFEST" });
    const fewerIds = resign(layout, { config: (c) => c.rootfs.diff_ids.pop() });
    const image3 = await openImage({ ...ports, files: memoryFilesPort("/mem", fewerIds) }, "oci:/mem", { kernels });
    await expect(image3.config()).rejects.toMatchObject({ code: "BAD_MANIFEST" });
  });

  test("a media type that disagrees with the bytes: the bytes win, with a warning", async () => {
    const layout = await randomLayout(kernels, { seed: 14, compression: "gzip" });
    const lying = resign(layout, { manifest: (m) => (m.layers[0].mediaType = MEDIA_TYPES.ociLayerZstd) });
    const image = await openImage({ ...ports, files: memoryFilesPort("/mem", lying) }, "oci:/mem", { kernels });
    await validate(image);
    expect(image.warnings.join("\n")).toMatch(/layer 0 .* says zstd but the bytes are gzip/);
  });
});

describe("multi-platform indexes", () => {
  async function multi() {
    const amd = await randomLayout(kernels, { seed: 21 });
    const arm = await randomLayout(kernels, { seed: 22 });
    const files2 = new Map([...amd.files, ...arm.files]);
    const nested = enc.encode(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MEDIA_TYPES.ociIndex,
        manifests: [
          { ...arm.manifest, annotations: undefined, platform: { os: "linux", architecture: "arm64", variant: "v8" } },
          { ...amd.manifest, annotations: undefined, platform: { os: "linux", architecture: "amd64" } },
        ],
      }),
    );
    const digest = sha256(nested);
    files2.set(`blobs/sha256/${digest.slice(7)}`, nested);
    const top: Descriptor = { mediaType: MEDIA_TYPES.ociIndex, digest, size: nested.length, annotations: { "org.opencontainers.image.ref.name": "multi" } };
    files2.set("index.json", enc.encode(JSON.stringify({ schemaVersion: 2, manifests: [top] })));
    return { files: files2, amd, arm };
  }

  test("picks linux/amd64 by default and os/arch[/variant] on request", async () => {
    const { files: f, amd, arm } = await multi();
    const p = { ...ports, files: memoryFilesPort("/mem", f) };
    expect(await (await openImage(p, "oci:/mem:multi", { kernels })).digest()).toBe(amd.manifest.digest);
    expect(await (await openImage(p, "oci:/mem:multi", { kernels, platform: "linux/arm64" })).digest()).toBe(arm.manifest.digest);
    expect(await (await openImage(p, "oci:/mem:multi", { kernels, platform: "linux/arm64/v8" })).digest()).toBe(arm.manifest.digest);
  });

  test("a missing platform is NOT_FOUND listing what exists", async () => {
    const { files: f } = await multi();
    const p = { ...ports, files: memoryFilesPort("/mem", f) };
    await expect(openImage(p, "oci:/mem:multi", { kernels, platform: "linux/s390x" })).rejects.toMatchObject({
      code: "NOT_FOUND",
      message: expect.stringContaining("available: linux/arm64/v8, linux/amd64"),
    });
  });

  test("indexes nested too deep are BAD_MANIFEST", async () => {
    const layout = await randomLayout(kernels, { seed: 23 });
    const f = new Map(layout.files);
    let d: Descriptor = { ...layout.manifest, annotations: undefined };
    for (let i = 0; i < 10; i++) {
      const bytes = enc.encode(JSON.stringify({ schemaVersion: 2, mediaType: MEDIA_TYPES.ociIndex, manifests: [d] }));
      const digest = sha256(bytes);
      f.set(`blobs/sha256/${digest.slice(7)}`, bytes);
      d = { mediaType: MEDIA_TYPES.ociIndex, digest, size: bytes.length };
    }
    f.set("index.json", enc.encode(JSON.stringify({ schemaVersion: 2, manifests: [d] })));
    const err = await openImage({ ...ports, files: memoryFilesPort("/mem", f) }, "oci:/mem", { kernels }).catch((e) => e);
    expect(isStrataError(err, "BAD_MANIFEST")).toBe(true);
    expect(err.message).toMatch(/nested more than/);
  });
});

describe("archives", () => {
  test("docker-archive legacy layer.tar symlinks resolve to the layer members", async () => {
    const layout = await randomLayout(kernels, { seed: 31 });
    const dir = join(tmp, "layout31");
    writeLayout(dir, layout);
    const docker = join(tmp, "docker31.tar");
    execFileSync("skopeo", ["copy", "-q", `oci:${dir}:latest`, `docker-archive:${docker}`], { stdio: "ignore" });
    // Rewrite manifest.json to name the legacy <id>/layer.tar symlinks instead of the blobs.
    const x = join(tmp, "x31");
    execFileSync("mkdir", ["-p", x]);
    execFileSync("tar", ["-xf", docker, "-C", x]);
    const m = JSON.parse(readFileSync(join(x, "manifest.json"), "utf8"));
    const links = execFileSync("find", [x, "-name", "layer.tar"], { encoding: "utf8" }).trim().split("\n");
    const byTarget = new Map(links.map((l) => [execFileSync("readlink", [l], { encoding: "utf8" }).trim().replace("../", ""), l.slice(x.length + 1)]));
    m[0].Layers = m[0].Layers.map((l: string) => byTarget.get(l));
    writeFileSync(join(x, "manifest.json"), JSON.stringify(m));
    const legacy = join(tmp, "legacy31.tar");
    execFileSync("tar", ["-cf", legacy, "-C", x, "."]);
    const image = await openImage({ ...ports, files }, `docker-archive:${legacy}`, { kernels });
    await validate(image);
    expect(await inspectImage(image, kernels)).toEqual(await inspectImage(await openImage({ ...ports, files }, `oci:${dir}`, { kernels }), kernels));
  });

  test("an archive without manifest.json or oci-layout is a typed error", async () => {
    const bogus = join(tmp, "bogus.tar");
    writeFileSync(bogus, writeTar([{ path: "hello", type: "file", data: enc.encode("hi") }]));
    await expect(openImage({ ...ports, files }, `docker-archive:${bogus}`, { kernels })).rejects.toMatchObject({ code: "UNSUPPORTED" });
    await expect(openImage({ ...ports, files }, `oci-archive:${bogus}`, { kernels })).rejects.toMatchObject({ code: "NOT_FOUND" });
  });
});

test("listTree reports hardlinks, devices and xattrs", () => {
  const overlay = new Overlay();
  overlay.beginLayer(0);
  const base = { mode: 0o644, uid: 0, gid: 0, uname: "", gname: "", size: 0, mtime: 0, mtimeNsec: 0, linkname: "", devmajor: 0, devminor: 0, xattrs: new Map(), headerOffset: 0, offset: 0 };
  const f = overlay.apply({ ...base, path: "f", type: "file", size: 3, xattrs: new Map([["user.x", enc.encode("v")]]) })!;
  overlay.apply({ ...base, path: "g", type: "hardlink", linkname: "f" });
  overlay.apply({ ...base, path: "null", type: "chardev", devmajor: 1, devminor: 3 });
  const rows = listTree(overlay.root, new Map([[f, "ab"]]));
  expect(rows.find((r) => r.path === "/g")).toMatchObject({ linkTo: "/f", sha256: "ab" });
  expect(rows.find((r) => r.path === "/f")).toMatchObject({ xattrs: { "user.x": "dg==" } });
  expect(rows.find((r) => r.path === "/null")).toMatchObject({ type: "chardev", major: 1, minor: 3 });
});
