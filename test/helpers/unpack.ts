// Helpers for the unpack and export tests: OCI layouts from hand-written layers, Nydus
// conversions on disk, and listings of unpacked trees (lstat, content hashes, xattrs via getfattr).
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { convert } from "../../src/convert/convert.js";
import { resolveOptions, type ConvertOptions } from "../../src/convert/options.js";
import { chunkCodecFor, hasherFor } from "../../src/kernels/index.js";
import { createSha256, createStreamingSha256 } from "../../src/kernels/sha256.js";
import type { InspectEntry } from "../../src/oci/inspect.js";
import { LayoutWriter } from "../../src/oci/layout-writer.js";
import { MEDIA_TYPES } from "../../src/oci/types.js";
import type { Image } from "../../src/oci/types.js";
import { writeTar, type TarWriteEntry } from "../../src/tar/writer.js";
import { nodeFilesPort } from "../../runtimes/node/files.js";
import { nodeOutput } from "../../runtimes/node/output.js";
import { ports } from "./kernels.js";

const sha256 = (bytes: Uint8Array) => `sha256:${createHash("sha256").update(bytes).digest("hex")}`;

/** Writes an OCI layout at `dir` (tag "latest") whose layers are the given uncompressed tars. */
export function writeLayersLayout(dir: string, layers: readonly TarWriteEntry[][]): void {
  const put = (bytes: Uint8Array): string => {
    const digest = sha256(bytes);
    mkdirSync(join(dir, "blobs/sha256"), { recursive: true });
    writeFileSync(join(dir, "blobs/sha256", digest.slice(7)), bytes);
    return digest;
  };
  const tars = layers.map((entries) => writeTar(entries));
  const json = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));
  const config = json({ architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: tars.map(sha256) }, config: {}, history: tars.map((_, i) => ({ created_by: `layer ${i}` })) });
  const manifest = json({
    schemaVersion: 2,
    mediaType: MEDIA_TYPES.ociManifest,
    config: { mediaType: MEDIA_TYPES.ociConfig, digest: put(config), size: config.length },
    layers: tars.map((t) => ({ mediaType: MEDIA_TYPES.ociLayer, digest: put(t), size: t.length })),
  });
  const digest = put(manifest);
  writeFileSync(join(dir, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
  writeFileSync(
    join(dir, "index.json"),
    JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: MEDIA_TYPES.ociManifest, digest, size: manifest.length, annotations: { "org.opencontainers.image.ref.name": "latest" } }] }),
  );
}

/** Converts `source` into a Nydus image in the layout `dir` under `tag` (64 KiB zstd chunks unless told). */
export async function convertInto(source: Image, dir: string, tag: string, options: ConvertOptions = {}): Promise<void> {
  const resolved = resolveOptions({ chunkSize: 0x10000, ...options }, ["none", "lz4_block", "zstd"], "zstd");
  const dest = await LayoutWriter.open(dir, nodeOutput, nodeFilesPort(), { sha256: () => createStreamingSha256(ports) });
  const [digester, sha, codec] = await Promise.all([hasherFor(ports, resolved.digester), createSha256(ports), chunkCodecFor(ports, resolved.compressor)]);
  await convert(source, dest, tag, { digester, sha256: sha, codec, streamingSha256: () => createStreamingSha256(ports) }, resolved);
}

/** One path of an unpacked tree, in the fields an image listing has. */
export interface UnpackedRow {
  path: string;
  type: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  sha256?: string;
  target?: string;
  major?: number;
  minor?: number;
  xattrs?: Record<string, string>;
  ino: number;
}

const TYPES: Record<number, string> = { 0o100000: "file", 0o040000: "dir", 0o120000: "symlink", 0o020000: "chardev", 0o060000: "blockdev", 0o010000: "fifo", 0o140000: "socket" };

/** Rows of the tree at `root` in path order, xattrs (base64 values) read with getfattr. */
export function listUnpacked(root: string): UnpackedRow[] {
  const xattrs = readXattrs(root);
  const rows: UnpackedRow[] = [];
  const visit = (rel: string) => {
    const abs = rel === "/" ? root : root + rel;
    const st = lstatSync(abs, { bigint: true });
    const type = TYPES[Number(st.mode) & 0o170000]!;
    const row: UnpackedRow = { path: rel, type, mode: Number(st.mode) & 0o7777, uid: Number(st.uid), gid: Number(st.gid), size: type === "file" || type === "symlink" ? Number(st.size) : 0, mtime: Number(st.mtimeNs / 1_000_000_000n), ino: Number(st.ino) };
    if (type === "file") row.sha256 = createHash("sha256").update(readFileSync(abs)).digest("hex");
    if (type === "symlink") row.target = readlinkSync(abs);
    if (type === "chardev" || type === "blockdev") {
      const rdev = Number(st.rdev);
      row.major = (rdev >>> 8) & 0xfff;
      row.minor = (rdev & 0xff) | ((rdev >>> 12) & 0xfff00);
    }
    const x = xattrs.get(rel);
    if (x) row.xattrs = x;
    rows.push(row);
    if (type === "dir") for (const n of readdirSync(abs).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)))) visit(rel === "/" ? `/${n}` : `${rel}/${n}`);
  };
  visit("/");
  return rows;
}

/** getfattr -R -h -d -m - -e base64: path → name → base64 value (user, trusted and security namespaces). */
function readXattrs(root: string): Map<string, Record<string, string>> {
  const out = new Map<string, Record<string, string>>();
  const dump = execFileSync("getfattr", ["-R", "-h", "-d", "-m", "-", "-e", "base64", "."], { cwd: root, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).toString();
  let path = "";
  for (const line of dump.split("\n")) {
    if (line.startsWith("# file: ")) {
      const raw = unquote(line.slice(8));
      path = raw === "." ? "/" : `/${raw.replace(/^\.\//, "")}`;
      continue;
    }
    const eq = line.indexOf("=");
    if (eq < 0) continue;
    const name = unquote(line.slice(0, eq));
    const value = line.slice(eq + 1);
    const record = out.get(path) ?? {};
    record[name] = value.startsWith("0s") ? value.slice(2) : Buffer.from(value.replace(/^"|"$/g, "")).toString("base64");
    out.set(path, record);
  }
  return out;
}

function unquote(s: string): string {
  return Buffer.from(s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))), "latin1").toString("utf8");
}

/**
 * The listing an unpack must reproduce, from an image's rows: ino left out (compared through
 * linkTo), sizes 0 for non-files, sockets left out (unpack cannot create them).
 */
export function expectedRows(rows: readonly InspectEntry[]): Omit<UnpackedRow, "ino">[] {
  return rows
    .filter((r) => r.type !== "socket")
    .map((r) => ({
      path: r.path,
      type: r.type,
      // Linux gives every symlink mode 0777.
      mode: r.type === "symlink" ? 0o777 : r.mode,
      uid: r.uid,
      gid: r.gid,
      size: r.type === "file" || r.type === "symlink" ? r.size : 0,
      mtime: r.mtime,
      ...(r.sha256 !== undefined ? { sha256: r.sha256 } : {}),
      ...(r.target !== undefined ? { target: r.target } : {}),
      ...(r.major !== undefined ? { major: r.major, minor: r.minor } : {}),
      ...(r.xattrs ? { xattrs: r.xattrs } : {}),
    }));
}

/** Entries of `dir`'s parent that start with `.${basename}.`: temporary siblings left behind. */
export function leftovers(dir: string): string[] {
  const parent = dirname(dir);
  const base = dir.slice(parent.length + 1);
  return existsSync(parent) ? readdirSync(parent).filter((n) => n.startsWith(`.${base}.`)) : [];
}
