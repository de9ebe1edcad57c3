// The inspector's dedicated worker: opens, flattens, inspects, verifies and reads images off the
// page's main thread. It keeps the open image and answers the element's requests (protocol.ts).
import { isStrataError, StrataError } from "../../../src/errors.js";
import { walk, type Inode } from "../../../src/fs/inode.js";
import { rafsKernels } from "../../../src/kernels/index.js";
import { concat } from "../../../src/kernels/stream.js";
import { openLazy, type LazyImage } from "../../../src/lazy/image.js";
import { openNydus, openNydusBootstrap, openNydusImage, type NydusImage } from "../../../src/nydus/image.js";
import { inspectNydusImage, type NydusInspection, type NydusTreeEntry } from "../../../src/nydus/inspect.js";
import { verifyNydusImage } from "../../../src/nydus/verify.js";
import { flatten } from "../../../src/oci/flatten.js";
import { listTree } from "../../../src/oci/inspect.js";
import { ociKernels } from "../../../src/oci/kernels.js";
import { openImage } from "../../../src/oci/open.js";
import type { Image } from "../../../src/oci/types.js";
import type { FileHandle, FilesPort, Ports } from "../../../src/ports.js";
import { Annotation } from "../../../src/rafs/layout.js";
import type { RafsKernels } from "../../../src/rafs/read.js";
import { browserWasmPort } from "../index.js";
import { LayerHistory } from "./history.js";
import { PREVIEW_BYTES, type FailureRow, type ImageSummary, type Reply, type Request, type TreeRow } from "./protocol.js";

const scope = self as unknown as { postMessage(reply: Reply): void; onmessage: ((event: MessageEvent<Request>) => void) | null };
const wasm = browserWasmPort(new URL("./wasm/", import.meta.url));
/** Heads of OCI files kept for previews, in total at most this many bytes. */
const HEAD_BUDGET = 64 << 20;

type Opened =
  | { kind: "oci"; image: Image; heads: Map<Inode, Uint8Array>; inodes: Map<string, Inode> }
  | { kind: "nydus"; image: NydusImage; inspection: NydusInspection; entries: Map<string, NydusTreeEntry>; lazy?: LazyImage };

let ports: Ports = { wasm, fetch: (url, init) => fetch(url, init) };
let rafs: Promise<RafsKernels> | undefined;
let opened: Opened | undefined;

const kernels = () => (rafs ??= rafsKernels(ports));

/** Picked files as a FilesPort: "/in/NAME", read by slices so large archives stay on disk. */
function pickedFiles(files: readonly File[]): FilesPort {
  const byPath = new Map(files.map((f) => [`/in/${f.name}`, f]));
  const get = (path: string): File => {
    const file = byPath.get(path);
    if (!file) throw new StrataError("NOT_FOUND", `no picked file ${path.slice(4)}`, { path });
    return file;
  };
  const bytes = async (blob: Blob) => new Uint8Array(await blob.arrayBuffer());
  return {
    async open(path): Promise<FileHandle> {
      const file = get(path);
      return { size: file.size, read: (offset, length) => bytes(file.slice(offset, offset + length)), close: async () => {} };
    },
    readFile: async (path) => bytes(get(path)),
    stat: async (path) => (byPath.has(path) ? { kind: "file", size: byPath.get(path)!.size } : path === "/in" ? { kind: "dir", size: 0 } : undefined),
  };
}

const isNydusManifest = (layers: { annotations?: Record<string, string> }[]) => layers.at(-1)?.annotations?.[Annotation.NYDUS_BOOTSTRAP] === "true";
const BLOB_ID = /^[0-9a-f]{64}$/;
const decoder = new TextDecoder();
const json = (bytes: Uint8Array): unknown => JSON.parse(decoder.decode(bytes));

/** Tells the page how far a long step got. */
type Report = (phase: string, done: number, total: number) => void;

async function openFiles(files: File[], report: Report): Promise<{ image: ImageSummary; rows: TreeRow[] }> {
  if (files.length === 0) throw new StrataError("INVALID_ARGUMENT", "no file was picked");
  ports = { wasm, fetch: ports.fetch, files: pickedFiles(files) };
  const oci = ociKernels(ports);
  if (files.length === 1 && (await isTar(files[0]!))) {
    const path = `/in/${files[0]!.name}`;
    const image = await openImage(ports, `oci-archive:${path}`, { kernels: oci }).catch(async (ociError: unknown) => {
      return openImage(ports, `docker-archive:${path}`, { kernels: oci }).catch(() => {
        throw ociError;
      });
    });
    if (isNydusManifest((await image.manifest()).layers)) return showNydus(await openNydusImage(image, { kernels: oci, name: files[0]!.name }));
    return showOci(image, files[0]!.name, report);
  }
  // A bootstrap and its blobs, each blob file named by its blob id.
  const bootstrap = files.find((f) => !BLOB_ID.test(f.name));
  if (!bootstrap) throw new StrataError("INVALID_ARGUMENT", "every picked file is named like a blob id: pick the bootstrap too");
  const image = await openNydusBootstrap(ports.files!, `/in/${bootstrap.name}`, "/in");
  if (!image.rafs) {
    const why = image.bootstrapProblems[0]?.message ?? "unreadable";
    throw new StrataError("BAD_BOOTSTRAP", `${bootstrap.name} is neither a tar (oci-archive, docker-archive) nor a Nydus bootstrap: ${why}`, { file: bootstrap.name });
  }
  return showNydus(image);
}

/** A tar has "ustar" at offset 257 of its first header. */
async function isTar(file: File): Promise<boolean> {
  const head = new Uint8Array(await file.slice(257, 262).arrayBuffer());
  return decoder.decode(head) === "ustar";
}

async function openRegistry(reference: string, token: string | undefined, insecure: boolean, report: Report): Promise<{ image: ImageSummary; rows: TreeRow[] }> {
  const ref = reference.startsWith("docker://") ? reference : `docker://${reference}`;
  // A bearer token goes on every request the client makes itself (registries that hand one out
  // to the page through their own login flow).
  const withToken = (input: RequestInfo | URL, init?: RequestInit) => {
    const headers = new Headers(init?.headers);
    if (token && !headers.has("authorization")) headers.set("authorization", `Bearer ${token}`);
    return fetch(input, { ...init, headers });
  };
  ports = { wasm, fetch: withToken as Ports["fetch"] };
  const oci = ociKernels(ports);
  const options = { kernels: oci, registry: { insecure } };
  const image = await openImage(ports, ref, options);
  if (isNydusManifest((await image.manifest()).layers)) return showNydus(await openNydus(ports, ref, options));
  return showOci(image, ref, report);
}

async function showOci(image: Image, name: string, report: Report): Promise<{ image: ImageSummary; rows: TreeRow[] }> {
  const manifest = await image.manifest();
  const history = new LayerHistory();
  const heads = new Map<Inode, Uint8Array>();
  let budget = HEAD_BUDGET;
  const root = await flatten(image, {
    beforeLayer(index) {
      report("layers", index, manifest.layers.length);
      return false;
    },
    onEntry: (entry, layer) => history.entry(entry, layer),
    async onFile(inode, entry) {
      const parts: Uint8Array[] = [];
      let kept = 0;
      for await (const bytes of entry.body()) {
        if (kept >= PREVIEW_BYTES || budget <= 0) continue;
        const part = bytes.slice(0, Math.min(PREVIEW_BYTES - kept, budget));
        parts.push(part);
        kept += part.length;
        budget -= part.length;
      }
      heads.set(inode, concat(parts, kept));
    },
  });
  const inodes = new Map<string, Inode>();
  for (const [path, inode] of walk(root)) inodes.set(path, inode);
  const rows: TreeRow[] = listTree(root, new Map()).map((e) => ({ path: e.path, type: e.type, size: e.size, mode: e.mode, target: e.target, linkTo: e.linkTo, history: history.of(e.path) }));
  rows.push(...history.deletedRows());
  opened = { kind: "oci", image, heads, inodes };
  const layers = manifest.layers.map((l, index) => ({ index, digest: l.digest, mediaType: l.mediaType, size: l.size }));
  return { image: { kind: "oci", name, manifest, config: json(await image.rawConfig()), layers, stats: stats(rows) }, rows };
}

function showNydus(image: NydusImage): { image: ImageSummary; rows: TreeRow[] } {
  const inspection = inspectNydusImage(image, { chunks: true });
  const entries = new Map(inspection.tree.map((e) => [e.path, e]));
  const rows: TreeRow[] = inspection.tree.map((e) => ({
    path: e.path,
    type: e.type,
    size: e.size,
    mode: e.mode,
    target: e.target,
    linkTo: e.linkTo,
    chunks: e.chunks?.length,
    dedupChunks: e.chunks?.filter((c) => c.deduplicated).length,
  }));
  opened = { kind: "nydus", image, inspection, entries };
  const summary: ImageSummary = {
    kind: "nydus",
    name: image.name,
    manifest: image.oci?.manifest,
    layers: inspection.manifest?.layers.map(({ index, digest, mediaType, size, role }) => ({ index, digest, mediaType, size, role })) ?? [],
    bootstrap: inspection.bootstrap,
    blobs: inspection.blobs,
    dedup: inspection.chunks,
    stats: stats(rows),
  };
  return { image: summary, rows };
}

/** Counts over the flattened tree: hardlinks to an earlier path add no bytes. */
function stats(rows: readonly TreeRow[]): ImageSummary["stats"] {
  const live = rows.filter((r) => !r.deleted);
  const files = live.filter((r) => r.type === "file");
  return {
    entries: live.length,
    files: files.length,
    dirs: live.filter((r) => r.type === "dir").length,
    bytes: files.reduce((sum, r) => sum + (r.linkTo === undefined ? r.size : 0), 0),
  };
}

/** Progress for request `id`: the page needs a few updates a second, not one per chunk. */
function reporter(id: number): Report {
  let last = 0;
  return (phase, done, total) => {
    const now = Date.now();
    if (done < total && now - last < 50) return;
    last = now;
    scope.postMessage({ id, type: "progress", phase, done, total });
  };
}

async function verify(id: number): Promise<Reply> {
  const current = need();
  const progress = reporter(id);
  if (current.kind === "nydus") {
    const report = await verifyNydusImage(current.image, await kernels(), { onProgress: (p) => progress(p.phase, p.done, p.total) });
    const failures: FailureRow[] = report.failures.map(({ message, check, path, chunk, layer, blobId }) => ({ message, check, path, chunk, layer, blobId }));
    const { files, chunks, chunksOk, blobs } = report.counts;
    return { id, type: "verified", ok: report.ok, failures, checked: `${blobs} blobs, ${files} files, ${chunksOk}/${chunks} chunks sound` };
  }
  // OCI: every layer streamed again; the layer streams check digest, size and diff_id.
  const layers = await current.image.layers();
  const failures: FailureRow[] = [];
  for (const [index, layer] of layers.entries()) {
    progress("layers", index, layers.length);
    try {
      const reader = layer.uncompressed().getReader();
      while (!(await reader.read()).done);
    } catch (e) {
      failures.push({ check: "layer-digest", message: (e as Error).message, layer: index });
    }
  }
  progress("layers", layers.length, layers.length);
  return { id, type: "verified", ok: failures.length === 0, failures, checked: `${layers.length} layers` };
}

async function preview(id: number, path: string): Promise<Reply> {
  const current = need();
  let head: Uint8Array;
  let size: number;
  if (current.kind === "nydus") {
    current.lazy ??= openLazy(current.image, { kernels: await kernels() });
    size = current.entries.get(path)?.size ?? 0;
    head = await current.lazy.read(path, 0, PREVIEW_BYTES);
  } else {
    const inode = current.inodes.get(path);
    if (!inode) throw new StrataError("NOT_FOUND", `no file ${path} in the image`, { path });
    size = inode.size;
    head = current.heads.get(inode) ?? new Uint8Array();
  }
  const text = asText(head);
  if (text !== undefined) return { id, type: "preview", path, text, bytes: head.length, size };
  return { id, type: "preview", path, hex: hexDump(head.subarray(0, 1024)), bytes: head.length, size };
}

/** UTF-8 without NULs or most control characters; a multi-byte character cut at the end is allowed. */
function asText(bytes: Uint8Array): string | undefined {
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(0, cutUtf8(bytes)));
  } catch {
    return undefined;
  }
  return /[\0-\x08\x0e-\x1f]/.test(text) ? undefined : text;
}

/** The length of `bytes` without a trailing incomplete UTF-8 sequence. */
function cutUtf8(bytes: Uint8Array): number {
  let i = bytes.length;
  for (let back = 1; back <= 3 && i - back >= 0; back++) {
    const b = bytes[i - back]!;
    if ((b & 0xc0) !== 0x80) return b >= 0xc0 && back < (b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : 2) ? i - back : i;
  }
  return i;
}

function hexDump(bytes: Uint8Array): string {
  const lines: string[] = [];
  for (let at = 0; at < bytes.length; at += 16) {
    const row = bytes.subarray(at, at + 16);
    lines.push(`${at.toString(16).padStart(8, "0")}  ${[...row].map((b) => b.toString(16).padStart(2, "0")).join(" ")}`);
  }
  return lines.join("\n");
}

function need(): Opened {
  if (!opened) throw new StrataError("INVALID_ARGUMENT", "no image is open");
  return opened;
}

async function handle(request: Request): Promise<Reply> {
  const { id } = request;
  switch (request.type) {
    case "open-files":
    case "open-registry": {
      opened = undefined;
      const report = reporter(id);
      const shown = request.type === "open-files" ? await openFiles(request.files, report) : await openRegistry(request.reference, request.token, request.insecure ?? false, report);
      return { id, type: "opened", ...shown };
    }
    case "verify":
      return verify(id);
    case "chunks": {
      const current = need();
      const chunks = current.kind === "nydus" ? (current.entries.get(request.path)?.chunks ?? []) : [];
      return { id, type: "chunks", path: request.path, chunks: chunks.map(({ blobId, index, compressed, compressedSize, uncompressedSize, fileOffset, digest, deduplicated }) => ({ blobId, index, compressed, compressedSize, uncompressedSize, fileOffset, digest, deduplicated })) };
    }
    case "preview":
      return preview(id, request.path);
  }
}

scope.onmessage = (event) => {
  const request = event.data;
  handle(request).then(scope.postMessage.bind(scope), (e: unknown) => {
    scope.postMessage({ id: request.id, type: "error", message: e instanceof Error ? e.message : String(e), code: isStrataError(e) ? e.code : undefined });
  });
};
