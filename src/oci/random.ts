/**
 * Small random OCI image layouts built in memory, for conformance tests in every runtime: several
 * layers exercising files, directories, symlinks, hardlinks (within and across layers),
 * whiteouts, opaque directories, type changes and implicit parents. Deterministic per seed.
 */
import { StrataError } from "../errors.js";
import type { FileHandle, FilesPort } from "../ports.js";
import { concat } from "../kernels/stream.js";
import { writeTar, type TarWriteEntry } from "../tar/writer.js";
import type { OciKernels } from "./decompress.js";
import { MEDIA_TYPES, type Descriptor } from "./types.js";
import { hex } from "./verify.js";

export interface RandomImageOptions {
  seed: number;
  /** Number of layers (default 3). */
  layers?: number;
  /** Entries per layer, roughly (default 24). */
  entries?: number;
  /** Layer compression: "gzip" uses CompressionStream (default "none"). */
  compression?: "none" | "gzip";
  /** Tag recorded in index.json (default "latest"). */
  tag?: string;
}

export interface RandomLayout {
  /** Layout files by path relative to the layout root: oci-layout, index.json, blobs/sha256/... */
  files: Map<string, Uint8Array>;
  /** The entries written to each layer's tar, in order. */
  layers: TarWriteEntry[][];
  manifest: Descriptor;
}

/** mulberry32: a tiny deterministic generator. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

const NAMES = ["a", "b", "c", "etc", "usr", "lib", "bin", "data", "x.txt", "y.conf", "long-" + "n".repeat(110)];
const utf8 = new TextEncoder();

/** The model of paths the generator believes exist, to aim whiteouts and links at real targets. */
type Kind = "file" | "dir" | "symlink";

export async function randomLayout(kernels: Pick<OciKernels, "sha256">, options: RandomImageOptions): Promise<RandomLayout> {
  const rand = prng(options.seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(rand() * items.length)]!;
  const model = new Map<string, Kind>([["", "dir"]]);
  const layers: TarWriteEntry[][] = [];
  const count = options.layers ?? 3;
  const perLayer = options.entries ?? 24;

  const pathsOf = (kind: Kind) => [...model].filter(([p, k]) => k === kind && p !== "").map(([p]) => p);
  const removeTree = (path: string) => {
    for (const p of [...model.keys()]) if (p === path || p.startsWith(`${path}/`)) model.delete(p);
  };
  const freshPath = (): string => {
    const dirs = [...model].filter(([, k]) => k === "dir").map(([p]) => p);
    const parent = pick(dirs);
    // Sometimes go one level deeper without writing the parent: it must be created implicitly.
    const base = parent && rand() < 0.2 ? `${parent}/${pick(NAMES)}` : parent;
    return base ? `${base}/${pick(NAMES)}` : pick(NAMES);
  };

  for (let layer = 0; layer < count; layer++) {
    const entries: TarWriteEntry[] = [];
    const madeHere = new Set<string>();
    if (rand() < 0.5) entries.push({ path: "./", type: "dir", mode: 0o755, mtime: 1_600_000_000 + layer });
    for (let i = 0; i < perLayer; i++) {
      const roll = rand();
      const common = { uid: rand() < 0.8 ? 0 : 1000 + Math.floor(rand() * 5), gid: rand() < 0.8 ? 0 : 100, mtime: 1_600_000_000 + Math.floor(rand() * 1e6) };
      if (roll < 0.12 && layer > 0) {
        // Whiteout something from a lower layer (or a path that does not exist).
        const victims = [...model.keys()].filter((p) => p !== "" && !touchedBelow(madeHere, p));
        const victim = victims.length && rand() < 0.9 ? pick(victims) : freshPath();
        const slash = victim.lastIndexOf("/");
        entries.push({ path: `${victim.slice(0, slash + 1)}.wh.${victim.slice(slash + 1)}`, type: "file", mode: 0o644 });
        if (model.get(victim.slice(0, slash)) === "dir" || slash < 0) removeTree(victim);
        continue;
      }
      if (roll < 0.17 && layer > 0) {
        const dirs = pathsOf("dir").filter((p) => !touchedBelow(madeHere, p));
        if (dirs.length) {
          const d = pick(dirs);
          entries.push({ path: `${d}/`, type: "dir", mode: 0o750, ...common }, { path: `${d}/.wh..wh..opq`, type: "file", mode: 0o644 });
          for (const p of [...model.keys()]) if (p.startsWith(`${d}/`)) model.delete(p);
          madeHere.add(d);
          continue;
        }
      }
      if (roll < 0.25) {
        const files = pathsOf("file");
        if (files.length) {
          const target = pick(files);
          const path = freshPath();
          // Extractors remove what is at `path` before linking: the target must not be inside it.
          if (path !== target && !target.startsWith(`${path}/`) && !blocked(model, path)) {
            entries.push({ path, type: "hardlink", linkname: target, mode: 0o644, ...common });
            settle(model, path, "file", removeTree);
            madeHere.add(path);
          }
          continue;
        }
      }
      const path = freshPath();
      if (blocked(model, path)) continue;
      if (roll < 0.45) {
        entries.push({ path: `${path}/`, type: "dir", mode: pick([0o755, 0o700, 0o1777, 0o2755]), ...common });
        settle(model, path, "dir", removeTree);
      } else if (roll < 0.55) {
        entries.push({ path, type: "symlink", linkname: pick(["../etc/passwd", "x.txt", "/usr/lib", "dangling"]), mode: 0o777, ...common });
        settle(model, path, "symlink", removeTree);
      } else {
        const size = rand() < 0.1 ? 0 : Math.floor(rand() ** 3 * 20000);
        const data = new Uint8Array(size);
        for (let j = 0; j < size; j++) data[j] = rand() < 0.7 ? 0x61 + (j % 26) : Math.floor(rand() * 256);
        entries.push({ path, type: "file", mode: pick([0o644, 0o755, 0o600, 0o4755]), data, ...common });
        settle(model, path, "file", removeTree);
      }
      madeHere.add(path);
    }
    layers.push(entries);
  }

  const files = new Map<string, Uint8Array>();
  const sha = await kernels.sha256();
  const put = (bytes: Uint8Array): string => {
    const digest = `sha256:${hex(sha.init().update(bytes).final())}`;
    files.set(`blobs/sha256/${digest.slice(7)}`, bytes);
    return digest;
  };
  const diffIds: string[] = [];
  const layerDescriptors: Descriptor[] = [];
  for (const entries of layers) {
    const tar = writeTar(entries);
    diffIds.push(put(tar));
    const stored = options.compression === "gzip" ? await gzip(tar) : tar;
    layerDescriptors.push({ mediaType: options.compression === "gzip" ? MEDIA_TYPES.ociLayerGzip : MEDIA_TYPES.ociLayer, digest: put(stored), size: stored.length });
  }
  const config = utf8.encode(JSON.stringify({ architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: diffIds }, config: {} }));
  const manifest = utf8.encode(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MEDIA_TYPES.ociManifest,
      config: { mediaType: MEDIA_TYPES.ociConfig, digest: put(config), size: config.length },
      layers: layerDescriptors,
    }),
  );
  const manifestDescriptor: Descriptor = {
    mediaType: MEDIA_TYPES.ociManifest,
    digest: put(manifest),
    size: manifest.length,
    annotations: { "org.opencontainers.image.ref.name": options.tag ?? "latest" },
  };
  files.set("oci-layout", utf8.encode(JSON.stringify({ imageLayoutVersion: "1.0.0" })));
  files.set("index.json", utf8.encode(JSON.stringify({ schemaVersion: 2, manifests: [manifestDescriptor] })));
  return { files, layers, manifest: manifestDescriptor };
}

/** True when this layer wrote `path` or anything below it (its whiteouts would keep those). */
function touchedBelow(madeHere: ReadonlySet<string>, path: string): boolean {
  for (const p of madeHere) if (p === path || p.startsWith(`${path}/`)) return true;
  return false;
}

/** True when a path's parent is not a directory in the model (writing it would be invalid). */
function blocked(model: Map<string, Kind>, path: string): boolean {
  const parts = path.split("/");
  for (let i = 1; i < parts.length; i++) {
    const kind = model.get(parts.slice(0, i).join("/"));
    if (kind !== undefined && kind !== "dir") return true;
  }
  return false;
}

function settle(model: Map<string, Kind>, path: string, kind: Kind, removeTree: (p: string) => void): void {
  const parts = path.split("/");
  for (let i = 1; i < parts.length; i++) model.set(parts.slice(0, i).join("/"), "dir");
  if (model.get(path) !== kind || kind !== "dir") removeTree(path);
  model.set(path, kind);
}

async function gzip(bytes: Uint8Array): Promise<Uint8Array> {
  const out: Uint8Array[] = [];
  const input = new ReadableStream<BufferSource>({
    start(c) {
      c.enqueue(bytes as Uint8Array<ArrayBuffer>);
      c.close();
    },
  });
  const stream = input.pipeThrough(new CompressionStream("gzip"));
  const reader = stream.getReader();
  for (;;) {
    const r = await reader.read();
    if (r.done) break;
    out.push(r.value);
  }
  return concat(out);
}

/** A FilesPort over in-memory files: `root/relative` paths map to `files` entries. */
export function memoryFilesPort(root: string, files: ReadonlyMap<string, Uint8Array>): FilesPort {
  const get = (path: string): Uint8Array => {
    const bytes = path.startsWith(`${root}/`) ? files.get(path.slice(root.length + 1)) : undefined;
    if (!bytes) throw new StrataError("NOT_FOUND", `no such file: ${path}`, { path });
    return bytes;
  };
  return {
    async open(path): Promise<FileHandle> {
      const bytes = get(path);
      return { size: bytes.length, read: async (offset, length) => bytes.slice(offset, offset + length), close: async () => {} };
    },
    readFile: async (path) => get(path),
    async stat(path) {
      try {
        return { kind: "file", size: get(path).length };
      } catch {
        return undefined;
      }
    },
  };
}
