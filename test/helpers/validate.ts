// validate(image): the consistency every OCI source must show, checked with node:crypto as the
// independent oracle. testKernels(): the OCI kernels for tests (strata's own where they exist).
import { createHash } from "node:crypto";
import { closeSync, lstatSync, openSync, readdirSync, readFileSync, readlinkSync, readSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import { expect } from "vitest";
import type { OciKernels, StreamingSha256 } from "../../src/oci/decompress.js";
import type { Image } from "../../src/oci/types.js";
import type { ByteTransform, Sink } from "../../src/kernels/kernel.js";
import { ports } from "./kernels.js";

/** A SHA-256 with the kernel shape, from node:crypto (an oracle only, never the implementation). */
function nodeSha256(): StreamingSha256 {
  let h = createHash("sha256");
  const self: StreamingSha256 = {
    init() {
      h = createHash("sha256");
      return self as never;
    },
    update(bytes) {
      h.update(bytes);
      return self as never;
    },
    final: () => new Uint8Array(h.digest()),
  };
  return self;
}

/** Stand-in gunzip (whole input at final) for as long as the inflate kernel is missing. */
function nodeGunzip(maxOutput = Infinity): ByteTransform {
  let sink: Sink;
  let parts: Uint8Array[] = [];
  const self: ByteTransform = {
    init(s) {
      sink = s;
      parts = [];
      return self;
    },
    update(bytes) {
      parts.push(bytes.slice());
      return self;
    },
    final() {
      const out = gunzipSync(Buffer.concat(parts));
      if (out.length > maxOutput) throw new Error("maxOutput");
      sink(new Uint8Array(out.buffer, out.byteOffset, out.length));
    },
  };
  return self;
}

async function optional<T>(load: () => Promise<T>): Promise<T | undefined> {
  try {
    return await load();
  } catch {
    return undefined;
  }
}

export interface KernelsInUse {
  kernels: OciKernels;
  /** Which implementations are strata's own ("strata") or stand-ins ("node"). */
  using: { sha256: string; inflate: string; zstd: string };
}

export async function testKernels(): Promise<KernelsInUse> {
  const sha = await optional(() => import("../../src/kernels/sha256.js" as string));
  const inflate = await optional(() => import("../../src/kernels/inflate.js" as string));
  const zstd = await import("../../src/kernels/zstd.js");
  const kernels: OciKernels = {
    sha256: sha?.createSha256 ? () => sha.createSha256(ports) : async () => nodeSha256(),
    inflate: inflate?.createInflate ? (o) => inflate.createInflate(ports, o) : async (o) => nodeGunzip(o.maxOutput),
    zstd: (o) => zstd.createZstdDecoder(ports, o),
  };
  return { kernels, using: { sha256: sha?.createSha256 ? "strata" : "node", inflate: inflate?.createInflate ? "strata" : "node", zstd: "strata" } };
}

export async function readStream(stream: ReadableStream<Uint8Array>): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  const reader = stream.getReader();
  for (;;) {
    const r = await reader.read();
    if (r.done) break;
    parts.push(r.value);
  }
  return Buffer.concat(parts);
}

export function sha256(bytes: Uint8Array): string {
  return `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
}

/**
 * Checks that manifest, config and layers agree, that every stream carries the bytes its digest
 * names (recomputed here with node:crypto) and that streams can be read again with equal results.
 */
export async function validate(image: Image): Promise<{ layers: number; bytes: number }> {
  const manifest = await image.manifest();
  const config = await image.config();
  const raw = await image.rawConfig();
  expect(sha256(raw)).toBe(manifest.config.digest);
  expect(raw.length).toBe(manifest.config.size);
  const layers = await image.layers();
  expect(layers.length).toBe(manifest.layers.length);
  expect(config.rootfs.diff_ids.length).toBe(layers.length);
  let bytes = 0;
  for (const [i, layer] of layers.entries()) {
    expect(layer.digest).toBe(manifest.layers[i]!.digest);
    expect(layer.size).toBe(manifest.layers[i]!.size);
    expect(layer.mediaType).toBe(manifest.layers[i]!.mediaType);
    expect(layer.diffId).toBe(config.rootfs.diff_ids[i]);
    const stored = await readStream(layer.compressed());
    expect(sha256(stored)).toBe(layer.digest);
    expect(stored.length).toBe(layer.size);
    const tar = await readStream(layer.uncompressed());
    expect(sha256(tar)).toBe(layer.diffId);
    // Re-readable: a second pass gives the same bytes.
    expect(sha256(await readStream(layer.uncompressed()))).toBe(layer.diffId);
    bytes += tar.length;
  }
  expect(await image.digest()).toMatch(/^sha256:[0-9a-f]{64}$/);
  return { layers: layers.length, bytes };
}

/** One row of a flattened tree, in the fields umoci's unpacked rootfs can be compared on. */
export interface TreeRow {
  path: string;
  type: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  sha256?: string;
  target?: string;
}

/** The rows of an unpacked rootfs on disk (lstat, file contents hashed), sorted by path bytes. */
export function diskTree(root: string): TreeRow[] {
  const rows: TreeRow[] = [];
  const typeOf = (mode: number) =>
    ({ 0o100000: "file", 0o040000: "dir", 0o120000: "symlink", 0o020000: "chardev", 0o060000: "blockdev", 0o010000: "fifo", 0o140000: "socket" })[mode & 0o170000]!;
  const visit = (rel: string) => {
    const abs = rel === "/" ? root : root + rel;
    const st = lstatSync(abs);
    const type = typeOf(st.mode);
    const row: TreeRow = { path: rel, type, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, size: type === "file" || type === "symlink" ? st.size : 0 };
    if (type === "file") {
      const h = createHash("sha256");
      if (st.size < 8 << 20) h.update(readFileSync(abs));
      else {
        const fd = openSync(abs, "r");
        const buf = Buffer.alloc(1 << 20);
        for (let n; (n = readSync(fd, buf)) > 0; ) h.update(buf.subarray(0, n));
        closeSync(fd);
      }
      row.sha256 = h.digest("hex");
    }
    if (type === "symlink") row.target = readlinkSync(abs);
    rows.push(row);
    if (type === "dir") {
      const names = readdirSync(abs).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
      for (const n of names) visit(rel === "/" ? `/${n}` : `${rel}/${n}`);
    }
  };
  visit("/");
  return rows;
}
