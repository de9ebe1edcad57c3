/**
 * A local, content-addressed cache of converted layers: a plain directory that can be copied to
 * another machine and used there (relative names only, nothing tied to inodes or hosts).
 *
 *   DIR/entries/<key>      {"record": <sha256 of the record>, "blob": <blob id> | null}
 *   DIR/records/<sha256>   what the layer contributes to the merge (LayerRecord, JSON)
 *   DIR/blobs/<blob id>    the layer's Nydus blob (its id is its sha256)
 *
 * A key digests the layer's diff_id, the conversion settings, the dictionaries and the blobs of
 * the layers below it (the chunks a layer finds already stored depend on them). Every file is
 * written under a temporary name and renamed into place; an entry is written last, so it never
 * names a record or blob that is not complete. Using an entry verifies the record against its
 * digest (here) and the blob against its id (while it is copied into the destination). Using an
 * entry rewrites it, so its modification time says when it was last used (for `cache gc`).
 */
import { isStrataError, StrataError } from "../errors.js";
import type { Hasher } from "../kernels/kernel.js";
import type { StreamingSha256 } from "../kernels/sha256.js";
import { hex } from "../oci/verify.js";
import type { CacheDirPort, FilesPort, OutputPort, PendingFile } from "../ports.js";
import type { CompressorName, DigesterName } from "../rafs/layout.js";
import type { BlobInfo, ChunkInfo } from "../rafs/types.js";
import type { TarHeader } from "../tar/reader.js";

const FORMAT = "strata-layer-cache-1";
const utf8 = new TextEncoder();
const READ_PIECE = 4 << 20;

/** One tar entry of a layer as the overlay merge needs it, with a regular file's chunks. */
export interface RecordedEntry {
  header: Pick<TarHeader, "path" | "type" | "mode" | "uid" | "gid" | "mtime" | "mtimeNsec" | "size" | "linkname" | "devmajor" | "devminor" | "xattrs">;
  /** Regular files: chunks in file order; `blobIndex` indexes LayerRecord.blobs. */
  chunks?: ChunkInfo[];
}

/** What one converted layer contributes: its entries in tar order and its own blob. */
export interface LayerRecord {
  /** The layer's blob-table entry; undefined when every chunk was found stored elsewhere. */
  blob?: BlobInfo;
  /** Blob ids the chunks name (the layer's own blob, those of lower layers, dictionary blobs). */
  blobs: string[];
  entries: RecordedEntry[];
}

/** What a cache key is made of. */
export interface LayerKeyParts {
  diffId: string;
  chunkSize: number;
  compressor: CompressorName;
  digester: DigesterName;
  /** Identities of the chunk dictionaries, in order. */
  dictionaries: string[];
  /** Blob ids of the layers below, in order. */
  lowerBlobs: string[];
}

export interface CachedLayer {
  record: LayerRecord;
  /** Path of the blob file, when the layer has a blob. */
  blobPath?: string;
}

/** What a LayerCache works with. */
export interface LayerCachePorts {
  files: FilesPort;
  output: OutputPort;
  /** Record digests and keys. */
  sha256: Hasher;
  /** Where the runtime has it: entries are touched when used (not rewritten), blobs hardlinked into layouts (not copied). */
  dirs?: CacheDirPort;
  /** Streams for checking a blob before it is linked (the runtime's native SHA-256 where it has one). */
  streamingSha256?: () => Promise<StreamingSha256>;
}

export class LayerCache {
  private readonly files: FilesPort;
  private readonly output: OutputPort;
  private readonly sha256: Hasher;
  private readonly dirs?: CacheDirPort;

  constructor(
    readonly dir: string,
    private readonly ports: LayerCachePorts,
  ) {
    ({ files: this.files, output: this.output, sha256: this.sha256, dirs: this.dirs } = ports);
  }

  key(parts: LayerKeyParts): string {
    return hex(this.sha256.digest(utf8.encode(JSON.stringify([FORMAT, parts.diffId, parts.chunkSize, parts.compressor, parts.digester, parts.dictionaries, parts.lowerBlobs]))));
  }

  blobPath(blobId: string): string {
    return `${this.dir}/blobs/${blobId}`;
  }

  /**
   * The layer stored under `key`, its record verified, or undefined when there is none or it is
   * damaged (a damaged entry is simply converted again and replaced).
   */
  async get(key: string): Promise<CachedLayer | undefined> {
    const entryPath = `${this.dir}/entries/${key}`;
    if (!(await this.files.stat(entryPath))) return undefined;
    try {
      const entry = JSON.parse(new TextDecoder().decode(await this.files.readFile(entryPath))) as { record?: unknown; blob?: unknown };
      if (typeof entry.record !== "string" || !/^[0-9a-f]{64}$/.test(entry.record)) return undefined;
      const bytes = await this.files.readFile(`${this.dir}/records/${entry.record}`);
      if (hex(this.sha256.digest(bytes)) !== entry.record) return undefined;
      const record = decodeRecord(bytes);
      if ((record.blob?.blobId ?? null) !== entry.blob) return undefined;
      let blobPath: string | undefined;
      if (record.blob) {
        blobPath = this.blobPath(record.blob.blobId);
        if ((await this.files.stat(blobPath))?.size !== record.blob.compressedSize) return undefined;
      }
      if (this.dirs) await this.dirs.touch(entryPath);
      else await this.writeFile(entryPath, utf8.encode(JSON.stringify({ record: entry.record, blob: entry.blob })));
      return { record, blobPath };
    } catch (e) {
      if (isStrataError(e) || e instanceof SyntaxError) return undefined;
      throw e;
    }
  }

  /** The stored bytes of a cached blob, piece by piece (the reader verifies them against the id). */
  async *blobPieces(blobId: string): AsyncGenerator<Uint8Array> {
    const file = await this.files.open(this.blobPath(blobId));
    try {
      for (let at = 0; at < file.size; at += READ_PIECE) yield await file.read(at, Math.min(READ_PIECE, file.size - at));
    } finally {
      await file.close();
    }
  }

  /**
   * Stores the cached blob at `path` as a hardlink, once its bytes are checked against its id:
   * "mismatch" when they differ (the entry is damaged), "unsupported" when no link can be made
   * there (the caller copies instead). A file already at `path` is taken as the blob.
   */
  async linkBlob(blobId: string, path: string): Promise<"linked" | "mismatch" | "unsupported"> {
    if (!this.dirs) return "unsupported";
    const hash = this.ports.streamingSha256 ? await this.ports.streamingSha256() : streaming(this.sha256);
    for await (const piece of this.blobPieces(blobId)) hash.update(piece);
    if (hex(await hash.digest()) !== blobId) return "mismatch";
    if (await this.files.stat(path)) return "linked";
    try {
      await this.dirs.link(this.blobPath(blobId), path);
      return "linked";
    } catch (e) {
      if (isStrataError(e, "IO")) return "unsupported";
      throw e;
    }
  }

  /** A file for a blob being written; commit it with `commit(cache.blobPath(id))`. */
  async pendingBlob(): Promise<PendingFile> {
    await this.output.mkdir(`${this.dir}/blobs`);
    return this.output.create(`${this.dir}/blobs/upload`);
  }

  /** Stores `record` under `key`; its blob must already be in place. */
  async put(key: string, record: LayerRecord): Promise<void> {
    const bytes = encodeRecord(record);
    const digest = hex(this.sha256.digest(bytes));
    await this.output.mkdir(`${this.dir}/records`);
    await this.output.mkdir(`${this.dir}/entries`);
    await this.writeFile(`${this.dir}/records/${digest}`, bytes);
    await this.writeFile(`${this.dir}/entries/${key}`, utf8.encode(JSON.stringify({ record: digest, blob: record.blob?.blobId ?? null })));
  }

  private async writeFile(path: string, bytes: Uint8Array): Promise<void> {
    const pending = await this.output.create(path);
    try {
      await pending.write(bytes);
      await pending.commit();
    } catch (e) {
      await pending.abort();
      throw e;
    }
  }
}

export interface GcLimits {
  /** Entries not used for longer than this (ms) are removed. */
  maxAgeMs?: number;
  /** Then the least recently used entries go until blobs and records take at most this many bytes. */
  maxBytes?: number;
  /** "Now", ms since the epoch. */
  now: number;
}

export interface GcResult {
  entries: { kept: number; removed: number };
  /** Bytes of blobs and records kept and removed. */
  bytes: { kept: number; removed: number };
}

/**
 * Collects a cache's garbage: entries past the age limit, then the least recently used until the
 * size limit holds, then every blob and record no remaining entry names (and leftovers of
 * interrupted writes). Not to be run while a conversion uses the same directory.
 */
export async function collectGarbage(dir: string, files: FilesPort, dirs: CacheDirPort, limits: GcLimits): Promise<GcResult> {
  const entries: { name: string; mtimeMs: number; refs: string[] }[] = [];
  for (const name of await dirs.list(`${dir}/entries`)) {
    const path = `${dir}/entries/${name}`;
    const st = await dirs.stat(path);
    if (!st) continue;
    let refs: string[] = [];
    try {
      const entry = JSON.parse(new TextDecoder().decode(await files.readFile(path))) as { record?: unknown; blob?: unknown };
      refs = [`records/${String(entry.record)}`, ...(typeof entry.blob === "string" ? [`blobs/${entry.blob}`] : [])];
    } catch {
      // An unreadable entry names nothing and is removed below with the old ones.
      st.mtimeMs = -Infinity;
    }
    entries.push({ name, mtimeMs: st.mtimeMs, refs });
  }
  const sizes = new Map<string, number>();
  for (const sub of ["blobs", "records"]) {
    for (const name of await dirs.list(`${dir}/${sub}`)) sizes.set(`${sub}/${name}`, (await dirs.stat(`${dir}/${sub}/${name}`))?.size ?? 0);
  }
  // Newest first: an entry is kept while the files it adds fit in the budget.
  entries.sort((a, b) => b.mtimeMs - a.mtimeMs || (a.name < b.name ? -1 : 1));
  const live = new Set<string>();
  let liveBytes = 0;
  const result: GcResult = { entries: { kept: 0, removed: 0 }, bytes: { kept: 0, removed: 0 } };
  for (const entry of entries) {
    const fresh = entry.mtimeMs > -Infinity && (limits.maxAgeMs === undefined || limits.now - entry.mtimeMs <= limits.maxAgeMs);
    const adds = entry.refs.filter((r) => !live.has(r)).reduce((n, r) => n + (sizes.get(r) ?? 0), 0);
    const complete = entry.refs.every((r) => sizes.has(r));
    if (fresh && complete && (limits.maxBytes === undefined || liveBytes + adds <= limits.maxBytes)) {
      for (const r of entry.refs) live.add(r);
      liveBytes += adds;
      result.entries.kept++;
    } else {
      await dirs.remove(`${dir}/entries/${entry.name}`);
      result.entries.removed++;
    }
  }
  for (const [path, size] of sizes) {
    if (live.has(path)) continue;
    await dirs.remove(`${dir}/${path}`);
    result.bytes.removed += size;
  }
  result.bytes.kept = liveBytes;
  return result;
}

/*
 * Records are JSON with entries and chunks as arrays (a base layer has thousands of each):
 *   entry: [path, type, mode, uid, gid, mtime, mtimeNsec, size, linkname, devmajor, devminor, [[xattr, hex]...], chunks | 0]
 *   chunk: [digest hex, blob (index into blobs), flags, compressedOffset, compressedSize, uncompressedOffset, uncompressedSize, fileOffset, index, crc32]
 */
const ENTRY_TYPES: readonly unknown[] = ["file", "hardlink", "symlink", "chardev", "blockdev", "dir", "fifo"] satisfies TarHeader["type"][];
type EncodedChunk = [string, number, number, number, number, number, number, number, number, number];
type EncodedEntry = [string, TarHeader["type"], number, number, number, number, number, number, string, number, number, [string, string][], EncodedChunk[] | 0];

export function encodeRecord(record: LayerRecord): Uint8Array {
  const entries: EncodedEntry[] = record.entries.map(({ header: h, chunks }) => [
    h.path,
    h.type,
    h.mode,
    h.uid,
    h.gid,
    h.mtime,
    h.mtimeNsec,
    h.size,
    h.linkname,
    h.devmajor,
    h.devminor,
    [...h.xattrs].map(([name, value]) => [name, hex(value)]),
    chunks ? chunks.map((c) => [hex(c.digest), c.blobIndex, c.flags, c.compressedOffset, c.compressedSize, c.uncompressedOffset, c.uncompressedSize, c.fileOffset, c.index, c.crc32]) : 0,
  ]);
  const blob = record.blob && { ...record.blob, meta: { ...record.blob.meta, tocDigest: optionalHex(record.blob.meta.tocDigest), metaDigest: optionalHex(record.blob.meta.metaDigest) } };
  return utf8.encode(JSON.stringify({ format: FORMAT, blob: blob ?? null, blobs: record.blobs, entries }));
}

export function decodeRecord(bytes: Uint8Array): LayerRecord {
  const bad = (why: string) => new StrataError("CORRUPT_DATA", `layer cache record: ${why}`);
  let json: { format?: unknown; blob?: unknown; blobs?: unknown; entries?: unknown };
  try {
    json = JSON.parse(new TextDecoder().decode(bytes));
  } catch (e) {
    throw bad(`not JSON: ${(e as Error).message}`);
  }
  if (typeof json !== "object" || json === null) throw bad("not an object");
  if (json.format !== FORMAT) throw bad(`format ${JSON.stringify(json.format)}`);
  if (!Array.isArray(json.blobs) || !json.blobs.every((id) => typeof id === "string" && /^[0-9a-f]{64}$/.test(id))) throw bad("blobs is not a list of blob ids");
  if (!Array.isArray(json.entries)) throw bad("no entries");
  const blobs = json.blobs as string[];
  const entries = (json.entries as unknown[]).map((raw, i): RecordedEntry => {
    const e = raw as EncodedEntry;
    if (
      !Array.isArray(e) ||
      e.length !== 13 ||
      typeof e[0] !== "string" ||
      !ENTRY_TYPES.includes(e[1]) ||
      ![...e.slice(2, 8), e[9], e[10]].every(Number.isFinite) ||
      typeof e[8] !== "string" ||
      !Array.isArray(e[11]) ||
      !e[11].every((x) => Array.isArray(x) && x.length === 2 && typeof x[0] === "string")
    ) {
      throw bad(`entry ${i} is malformed`);
    }
    const header: RecordedEntry["header"] = {
      path: e[0],
      type: e[1],
      mode: e[2],
      uid: e[3],
      gid: e[4],
      mtime: e[5],
      mtimeNsec: e[6],
      size: e[7],
      linkname: e[8],
      devmajor: e[9],
      devminor: e[10],
      xattrs: new Map(e[11].map(([name, value]) => [name, fromHex(value)])),
    };
    if (e[12] === 0) return { header };
    if (!Array.isArray(e[12])) throw bad(`entry ${i} (${e[0]}) has malformed chunks`);
    const chunks = e[12].map((c): ChunkInfo => {
      if (!Array.isArray(c) || c.length !== 10 || typeof c[0] !== "string" || !c.slice(1).every(Number.isSafeInteger) || blobs[c[1]] === undefined) throw bad(`entry ${i} (${e[0]}) has a malformed chunk`);
      return { digest: fromHex(c[0]), blobIndex: c[1], flags: c[2], compressedOffset: c[3], compressedSize: c[4], uncompressedOffset: c[5], uncompressedSize: c[6], fileOffset: c[7], index: c[8], crc32: c[9] };
    });
    return { header, chunks };
  });
  let blob: BlobInfo | undefined;
  if (json.blob !== null) {
    const b = json.blob as BlobInfo & { meta: { tocDigest?: string; metaDigest?: string } };
    if (typeof b?.blobId !== "string" || !blobs.includes(b.blobId) || typeof b.meta !== "object") throw bad("malformed blob");
    blob = { ...b, meta: { ...b.meta, tocDigest: b.meta.tocDigest === undefined ? undefined : fromHex(b.meta.tocDigest), metaDigest: b.meta.metaDigest === undefined ? undefined : fromHex(b.meta.metaDigest) } };
  }
  return { blob, blobs, entries };
}

function streaming(hasher: Hasher): StreamingSha256 {
  hasher.init();
  return { update: (data) => void hasher.update(data), digest: async () => hasher.final() };
}

function optionalHex(bytes: Uint8Array | undefined): string | undefined {
  return bytes && hex(bytes);
}

/** Hex digit values by character code (-1: not a lowercase hex digit). */
const HEX_VALUE = Int8Array.from({ length: 128 }, (_, c) => (c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : -1));

function fromHex(text: unknown): Uint8Array {
  const bad = () => new StrataError("CORRUPT_DATA", "layer cache record: malformed hex");
  if (typeof text !== "string" || text.length % 2 !== 0) throw bad();
  const out = new Uint8Array(text.length / 2);
  for (let i = 0; i < out.length; i++) {
    const hi = HEX_VALUE[text.charCodeAt(2 * i)] ?? -1;
    const lo = HEX_VALUE[text.charCodeAt(2 * i + 1)] ?? -1;
    if (hi < 0 || lo < 0) throw bad();
    out[i] = (hi << 4) | lo;
  }
  return out;
}
