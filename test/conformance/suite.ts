/**
 * The conformance suite, written once and run by every runtime's own harness (test/runtimes/*):
 * Node (vitest), Deno, Bun, workerd and Chromium. Each case takes the runtime's ports, asserts
 * with plain throws, and returns digests of what it produced; the harnesses print them as
 * `CONFORMANCE <runtime> <case> <key>=<digest>` lines and test/runtimes/compare.test.ts fails if
 * any runtime's lines differ from another's. Only runtime-free code is imported here.
 */
import { isStrataError } from "../../src/errors.js";
import { createBlake3 } from "../../src/kernels/blake3.js";
import { chunkCodecFor, rafsKernels } from "../../src/kernels/index.js";
import type { Hasher } from "../../src/kernels/kernel.js";
import { createLz4 } from "../../src/kernels/lz4.js";
import { createSha256, createStreamingSha256 } from "../../src/kernels/sha256.js";
import { concat, transformAll } from "../../src/kernels/stream.js";
import { createZstdChunkDecoder, createZstdDecoder } from "../../src/kernels/zstd.js";
import { createZstdCompressor, createZstdEncoder } from "../../src/kernels/zstdenc.js";
import { ChunkStore, FixedChunker } from "../../src/convert/chunks.js";
import { S_IFDIR, S_IFREG } from "../../src/fs/inode.js";
import { hex } from "../../src/oci/verify.js";
import type { FilesPort, OutputPort, Ports } from "../../src/ports.js";
import { memoryFiles } from "../../src/ports-memory.js";
import { bytesSource, openBlob } from "../../src/rafs/blob-reader.js";
import { BlobWriter } from "../../src/rafs/blob-writer.js";
import { parseBootstrap } from "../../src/rafs/bootstrap.js";
import { writeBootstrap } from "../../src/rafs/bootstrap-writer.js";
import { lookup, readFile } from "../../src/rafs/read.js";
import type { ChunkInfo, RafsImage, RafsInode } from "../../src/rafs/types.js";

/** Digests (or other short facts) a case produced, compared across runtimes. */
export type CaseResult = Record<string, string>;

export interface ConformanceCase {
  name: string;
  run(ports: Ports, context: CaseContext): Promise<void | CaseResult>;
}

export interface CaseContext {
  /**
   * An empty directory the case may write into through ports.output and read through ports.files
   * (runtimes with files); without one, cases keep their files in memory. Results must not differ.
   */
  scratch?: string;
}

/** Thrown by a case that cannot run yet (a module still being written): reported, not failed. */
export class CaseSkipped extends Error {
  override name = "CaseSkipped";
}

export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(`assertion failed: ${message}`);
}

function assertBytes(actual: Uint8Array, expected: Uint8Array, what: string): void {
  assert(actual.length === expected.length, `${what}: ${actual.length} bytes, expected ${expected.length}`);
  for (let i = 0; i < actual.length; i++) {
    if (actual[i] !== expected[i]) throw new Error(`assertion failed: ${what}: first difference at byte ${i}`);
  }
}

/** Runs `fn`, which must throw a StrataError whose code is one of `codes`; returns the code. */
async function expectStrataError(fn: () => unknown, codes: readonly string[], what: string): Promise<string> {
  try {
    await fn();
  } catch (e) {
    if (isStrataError(e) && codes.includes(e.code)) return e.code;
    throw new Error(`assertion failed: ${what}: expected a StrataError ${codes.join("|")}, got ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
  }
  throw new Error(`assertion failed: ${what}: no error was thrown`);
}

/** The BLAKE3 test-vector input: byte i is i mod 251. */
function pattern251(length: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = i % 251;
  return out;
}

const PHRASE = new TextEncoder().encode("strata turns OCI layers into RAFS chunks, and every runtime must agree. ");

/** Deterministic bytes mixing runs of text and noise (compressible, but not trivially). */
export function mixedBytes(seed: number, length: number): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    // Noise in every third 512-byte run; elsewhere text with a shifting phrase (lz4-matchable).
    out[i] = (i >> 9) % 3 === 0 ? x & 0xff : PHRASE[(i + (i >> 9) * 5) % PHRASE.length]! ^ (x % 61 === 0 ? 0x20 : 0);
  }
  return out;
}

/** Sizes crossing the kernels' block, chunk and window edges. */
const SIZES = [0, 1, 63, 64, 65, 1023, 1024, 1025, 4096, 65_536 + 3, 300_000];
const utf8 = new TextEncoder();

/** Feeds `data` to a hasher in uneven pieces and returns the streamed digest. */
function streamed(hasher: Hasher, data: Uint8Array): Uint8Array {
  hasher.init();
  for (let at = 0, step = 1; at < data.length; at += step, step = step * 3 + 1) hasher.update(data.subarray(at, at + step));
  return hasher.final();
}

async function hexDigest(ports: Ports, bytes: Uint8Array): Promise<string> {
  return hex((await createBlake3(ports)).digest(bytes));
}

const BLAKE3_KNOWN: [number, string][] = [
  [0, "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"],
  [1, "2d3adedff11b61f14c886e35afa036736dcd87a74d27b5c1510225d0f592e213"],
  [1023, "10108970eeda3eb932baac1428c7a2163b0e924c9a9e25b35bba72b28f70bd11"],
  [1024, "42214739f095a406f3fc83deb889744ac00df831c10daa55189b5d121c855af7"],
  [1025, "d00278ae47eb27b34faecf67b4fe263f82d5412916c1ffd97c8cb7fb814b8444"],
];

const SHA256_KNOWN: [Uint8Array, string][] = [
  [new Uint8Array(0), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"],
  [utf8.encode("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"],
  [utf8.encode("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"), "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"],
  [new Uint8Array(1_000_000).fill(0x61), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"],
];

const kernelCases: ConformanceCase[] = [
  {
    name: "blake3",
    async run(ports) {
      const b3 = await createBlake3(ports);
      for (const [length, expected] of BLAKE3_KNOWN) {
        assert(hex(b3.digest(pattern251(length))) === expected, `BLAKE3 of the ${length}-byte test vector`);
        assert(hex(streamed(b3, pattern251(length))) === expected, `streamed BLAKE3 of the ${length}-byte test vector`);
      }
      assert(hex(b3.digest(utf8.encode("abc"))) === "6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85", "BLAKE3 of abc");
      const result: CaseResult = {};
      const all = mixedBytes(1, SIZES.reduce((a, b) => a + b, 0));
      const many = b3.digestMany(all, SIZES);
      let at = 0;
      SIZES.forEach((size, i) => {
        const piece = all.subarray(at, (at += size));
        const one = b3.digest(piece);
        assertBytes(streamed(b3, piece), one, `streamed BLAKE3 of ${size} bytes`);
        assertBytes(many.subarray(i * 32, i * 32 + 32), one, `digestMany entry ${i} (${size} bytes)`);
        result[`mixed-${size}`] = hex(one);
      });
      return result;
    },
  },
  {
    name: "sha256",
    async run(ports) {
      const sha = await createSha256(ports);
      for (const [input, expected] of SHA256_KNOWN) {
        assert(hex(sha.digest(input)) === expected, `SHA-256 of a ${input.length}-byte known answer`);
        assert(hex(streamed(sha, input)) === expected, `streamed SHA-256 of a ${input.length}-byte known answer`);
      }
      const result: CaseResult = {};
      for (const size of SIZES) {
        const data = mixedBytes(2, size);
        const digest = sha.digest(data);
        assertBytes(streamed(sha, data), digest, `streamed SHA-256 of ${size} bytes`);
        // The streaming SHA-256 (the runtime's native one where it has one) agrees with the kernel.
        const stream = await createStreamingSha256(ports);
        for (let at = 0, step = 5; at < data.length; at += step, step = step * 4 + 1) stream.update(data.subarray(at, at + step));
        assertBytes(await stream.digest(), digest, `streaming SHA-256 of ${size} bytes (${ports.sha256 ? "native" : "wasm"})`);
        result[`mixed-${size}`] = hex(digest);
      }
      return result;
    },
  },
  {
    name: "zstd",
    async run(ports) {
      const decoder = await createZstdChunkDecoder(ports);
      const stream = await createZstdDecoder(ports);
      const result: CaseResult = {};
      for (const level of [1, 3, 9]) {
        const encoder = await createZstdEncoder(ports, { level });
        for (const size of [1, 1025, 65_536 + 3, 300_000]) {
          const data = mixedBytes(3 + level, size);
          const compressed = encoder.compress(data)?.slice();
          if (!compressed) continue;
          assertBytes(decoder.decompress(compressed, size), data, `zstd level ${level} chunk of ${size} bytes`);
          assertBytes(transformAll(stream, compressed), data, `streamed zstd decode, level ${level}, ${size} bytes`);
          result[`level${level}-${size}`] = await hexDigest(ports, compressed);
        }
      }
      // The streaming compressor: many frames-worth of input in uneven pieces, with checksums.
      const data = mixedBytes(4, 1_000_000);
      const compressor = await createZstdCompressor(ports, { checksum: true });
      const out: Uint8Array[] = [];
      compressor.init((bytes) => out.push(bytes.slice()));
      for (let at = 0, step = 7; at < data.length; at += step, step = step * 5 + 3) compressor.update(data.subarray(at, at + step));
      compressor.final();
      const frames = concat(out);
      assertBytes(transformAll(stream, frames), data, "streamed zstd round trip of 1 MB");
      result["stream-1000000"] = await hexDigest(ports, frames);
      return result;
    },
  },
  {
    name: "lz4",
    async run(ports) {
      const lz4 = await createLz4(ports);
      const result: CaseResult = {};
      for (const size of [1, 1025, 65_536 + 3, 300_000, 1 << 20]) {
        const data = mixedBytes(5, size);
        const compressed = lz4.compress(data)?.slice();
        if (!compressed) continue;
        assertBytes(lz4.decompress(compressed, size), data, `lz4 block of ${size} bytes`);
        result[`block-${size}`] = await hexDigest(ports, compressed);
      }
      assert(Object.keys(result).length >= 4, "lz4 compressed the compressible inputs");
      return result;
    },
  },
  {
    name: "inflate",
    async run(ports) {
      let inflateModule: typeof import("../../src/kernels/inflate.js");
      try {
        inflateModule = await import("../../src/kernels/inflate.js");
        await inflateModule.createInflate(ports, { format: "gzip" });
      } catch (e) {
        throw new CaseSkipped(`the inflate kernel does not load yet (${(e as Error).message.split("\n")[0]})`);
      }
      const result: CaseResult = {};
      const formats = [
        ["gzip", "gzip"],
        ["deflate", "zlib"],
        ["deflate-raw", "raw"],
      ] as const;
      for (const [streamFormat, format] of formats) {
        const data = mixedBytes(6, 200_000);
        // The runtime's own CompressionStream makes the input (its encoder differs between runtimes).
        const compressed = await compressWith(streamFormat, data);
        const inflate = await inflateModule.createInflate(ports, { format });
        const inflated = transformAll(inflate, compressed);
        assertBytes(inflated, data, `inflate of ${streamFormat} from CompressionStream`);
        result[format] = await hexDigest(ports, inflated);
      }
      return result;
    },
  },
  {
    name: "corruption",
    async run(ports) {
      const result: CaseResult = {};
      const data = mixedBytes(7, 50_000);
      const encoder = await createZstdEncoder(ports, { checksum: true });
      const frame = encoder.compress(data)!.slice();
      const decoder = await createZstdDecoder(ports);
      assertBytes(transformAll(decoder, frame), data, "intact checksummed frame");
      // Every byte position of a few regions: magic, header, block data, checksum.
      const positions = [0, 3, 4, 5, Math.floor(frame.length / 2), frame.length - 5, frame.length - 1];
      for (const at of positions) {
        const bad = frame.slice();
        bad[at]! ^= 0x20;
        const fresh = await createZstdDecoder(ports);
        result[`zstd-flip-${at === 0 ? "magic" : at === frame.length - 1 ? "checksum" : at}`] = await expectStrataError(
          () => transformAll(fresh, bad),
          ["CORRUPT_DATA", "CHECKSUM_MISMATCH", "TRUNCATED", "TRAILING_DATA", "UNSUPPORTED"],
          `zstd frame with byte ${at} flipped`,
        );
      }
      const truncated = await createZstdDecoder(ports);
      result["zstd-truncated"] = await expectStrataError(() => transformAll(truncated, frame.subarray(0, frame.length - 9)), ["TRUNCATED", "CORRUPT_DATA"], "truncated zstd frame");
      const lz4 = await createLz4(ports);
      const block = lz4.compress(data)!.slice();
      block[block.length >> 1]! ^= 0xff;
      // A flipped lz4 byte may still decode; the chunk digest is what catches it (below).
      try {
        const decoded = lz4.decompress(block, data.length);
        let same = decoded.length === data.length;
        for (let i = 0; same && i < data.length; i++) same = decoded[i] === data[i];
        assert(!same, "a flipped lz4 byte changed the output");
      } catch (e) {
        assert(isStrataError(e), `lz4 corruption is a StrataError (${String(e)})`);
      }
      // A flipped byte in a blob chunk: the reader names the file and refuses it.
      const image = await buildRafs(ports, "zstd");
      const flips: [string, (c: ChunkInfo) => number][] = [
        ["blob-chunk-start", (c) => c.compressedOffset],
        ["blob-chunk-middle", (c) => c.compressedOffset + (c.compressedSize >> 1)],
      ];
      const kernels = await rafsKernels(ports);
      for (const [label, at] of flips) {
        const blob = image.blob.slice();
        blob[at(lookup(image.image, "/data/big").chunks![1]!)]! ^= 0x01;
        const info = image.image.blobs[0]!;
        const blobs = new Map([[info.blobId, await openBlob(bytesSource(blob), { info })]]);
        result[label] = await expectStrataError(() => readFile(image.image, "/data/big", blobs, kernels), ["DIGEST_MISMATCH", "BAD_BLOB"], `blob with a flipped byte in ${label}`);
        // Files that do not share the chunk still read.
        assertBytes(await readFile(image.image, "/etc/hello", blobs, kernels), image.files.get("/etc/hello")!, "an untouched file beside the corrupt chunk");
      }
      return result;
    },
  },
  {
    name: "lazy-read",
    async run(ports) {
      const result: CaseResult = {};
      for (const compressor of ["zstd", "lz4_block", "none"] as const) {
        const image = await buildRafs(ports, compressor);
        const parsed = image.image;
        const info = parsed.blobs[0]!;
        // Count what the reader fetches: one small file must not pull the whole blob.
        let fetched = 0;
        const source = { size: image.blob.length, read: async (offset: number, length: number) => ((fetched += length), image.blob.subarray(offset, offset + length)) };
        const blobs = new Map([[info.blobId, await openBlob(source, { info })]]);
        const kernels = await rafsKernels(ports);
        const opened = fetched;
        assertBytes(await readFile(parsed, "/etc/hello", blobs, kernels), image.files.get("/etc/hello")!, `${compressor}: /etc/hello`);
        assert(fetched - opened < image.blob.length / 4, `${compressor}: reading /etc/hello fetched ${fetched - opened} of ${image.blob.length} blob bytes`);
        for (const [path, data] of image.files) assertBytes(await readFile(parsed, path, blobs, kernels), data, `${compressor}: ${path}`);
        result[`${compressor}-bootstrap`] = await hexDigest(ports, image.bootstrap);
        result[`${compressor}-blob`] = await hexDigest(ports, image.blob);
      }
      return result;
    },
  },
];

async function compressWith(format: CompressionFormat, data: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([data as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new CompressionStream(format));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

interface BuiltRafs {
  bootstrap: Uint8Array;
  image: RafsImage;
  blob: Uint8Array;
  files: Map<string, Uint8Array>;
}

/** A small RAFS v6 image (one blob, 16 KiB chunks) built with strata's writer, in memory. */
async function buildRafs(ports: Ports, compressor: "zstd" | "lz4_block" | "none"): Promise<BuiltRafs> {
  const chunkSize = 16 << 10;
  const node = (mode: number, extra: Partial<RafsInode> = {}): RafsInode => ({ mode, uid: 0, gid: 0, mtime: 1_700_000_000, mtimeNsec: 0, size: 0, rdev: 0, xattrs: new Map(), ...extra });
  const files = new Map<string, Uint8Array>([
    ["/etc/hello", utf8.encode("hello from every runtime\n")],
    ["/etc/empty", new Uint8Array(0)],
    ["/data/big", mixedBytes(8, chunkSize * 12 + 77)],
    ["/data/same-as-big", mixedBytes(8, chunkSize * 12 + 77)],
    ["/data/small", mixedBytes(9, 5000)],
  ]);
  const root = node(S_IFDIR | 0o755, { entries: new Map() });
  for (const [path, data] of files) {
    const [dir, name] = path.slice(1).split("/") as [string, string];
    if (!root.entries!.has(dir)) root.entries!.set(dir, node(S_IFDIR | 0o755, { entries: new Map() }));
    root.entries!.get(dir)!.entries!.set(name, node(S_IFREG | 0o644, { size: data.length }));
  }
  const [digester, sha256, codec] = await Promise.all([createBlake3(ports), createSha256(ports), chunkCodecFor(ports, compressor)]);
  const out: Uint8Array[] = [];
  const writer = new BlobWriter({ blobIndex: 0, chunkSize, compressor, digester: "blake3", sha256, sink: async (b) => void out.push(b.slice()) });
  const store = new ChunkStore(digester, codec);
  const chunker = new FixedChunker(chunkSize);
  for (const [path, data] of files) {
    const [dir, name] = path.slice(1).split("/") as [string, string];
    const inode = root.entries!.get(dir)!.entries!.get(name)!;
    inode.chunks = [];
    await chunker.file(
      (async function* () {
        yield data;
      })(),
      async (chunk, fileOffset) => void inode.chunks!.push((await store.put(chunk, fileOffset, writer)).info),
    );
  }
  const info = await writer.finish();
  const blob = concat(out);
  info.blobId = hex(sha256.digest(blob));
  const bootstrap = writeBootstrap({ root, blobs: [info], chunkSize, compressor, digester: "blake3", prefetch: ["/etc/hello"] });
  return { bootstrap, image: parseBootstrap(bootstrap), blob, files };
}

/** Where cases keep files: on disk through the runtime's own ports when it has files, else in memory. */
function storage(ports: Ports, context: CaseContext): { root: string; reader: FilesPort; output: OutputPort } {
  if (context.scratch && ports.files && ports.output) return { root: context.scratch, reader: ports.files, output: ports.output };
  const memory = memoryFiles("/mem");
  return { root: "/mem", reader: memory.reader, output: memory.output };
}

/** The runtime's file ports (or, without files, the in-memory ones): what conversion relies on. */
const filesCase: ConformanceCase = {
  name: "files",
  async run(ports, context) {
    const { root, reader, output } = storage(ports, context);
    const data = mixedBytes(10, 200_000);
    await output.mkdir(`${root}/a/b`);
    const pending = await output.create(`${root}/a/b/blob`);
    for (let at = 0; at < data.length; at += 65_536) await pending.write(data.subarray(at, at + 65_536));
    assert((await reader.stat(`${root}/a/b/blob`)) === undefined, "nothing appears before commit");
    await pending.commit(`${root}/a/b/renamed`);
    assert((await reader.stat(`${root}/a/b/renamed`))?.size === data.length, "the committed file has its size");
    assertBytes(await reader.readFile(`${root}/a/b/renamed`), data, "readFile of the committed file");
    // Ranges read concurrently, one past the end: each gets its own bytes.
    const handle = await reader.open(`${root}/a/b/renamed`);
    const ranges = [[0, 10], [199_990, 100], [65_530, 70_000], [1, 1], [150_000, 0]] as const;
    const got = await Promise.all(ranges.map(([offset, length]) => handle.read(offset, length)));
    ranges.forEach(([offset, length], i) => assertBytes(got[i]!, data.subarray(offset, offset + length), `range ${offset}+${length}`));
    await handle.close();
    const aborted = await output.create(`${root}/a/gone`);
    await aborted.write(data.subarray(0, 10));
    await aborted.abort();
    assert((await reader.stat(`${root}/a/gone`)) === undefined, "an aborted file does not appear");
    const missing = await expectStrataError(() => reader.readFile(`${root}/no/such/file`), ["NOT_FOUND"], "reading a missing file");
    await expectStrataError(() => reader.open(`${root}/no-such-file`), ["NOT_FOUND"], "opening a missing file");
    return { "missing-file": missing };
  },
};

const conversionCases: ConformanceCase[] = [
  {
    name: "convert",
    async run(ports, context) {
      let modules;
      try {
        modules = await Promise.all([
          import("../../src/convert/convert.js"),
          import("../../src/convert/options.js"),
          import("../../src/oci/random.js"),
          import("../../src/oci/layout.js"),
          import("../../src/oci/layout-writer.js"),
          import("../../src/nydus/image.js"),
          import("../../src/nydus/verify.js"),
          import("../../src/oci/kernels.js"),
        ]);
      } catch (e) {
        throw new CaseSkipped(`the converter does not load yet (${(e as Error).message.split("\n")[0]})`);
      }
      const [{ convert }, { resolveOptions }, { randomLayout }, { openOciLayout }, { LayoutWriter }, { blobSet, openNydusLayout, requireRafs }, { verifyNydusImage }, { ociKernels: kernelsOf }] = modules;
      const ociKernels = kernelsOf(ports);
      const { root, reader, output } = storage(ports, context);
      const result: CaseResult = {};
      const rafs = await rafsKernels(ports);
      for (const [seed, compressor] of [
        [21, "zstd"],
        [22, "lz4_block"],
      ] as const) {
        const layout = await randomLayout(ociKernels, { seed, layers: 3, entries: 20 });
        const src = `${root}/${compressor}-src`;
        await output.mkdir(`${src}/blobs/sha256`);
        for (const [path, bytes] of layout.files) {
          const file = await output.create(`${src}/${path}`);
          await file.write(bytes);
          await file.commit();
        }
        const image = await openOciLayout(reader, src, { kernels: ociKernels });
        const out = `${root}/${compressor}-out`;
        const dest = await LayoutWriter.open(out, output, reader, { sha256: () => createStreamingSha256(ports) });
        const options = resolveOptions({ compressor, chunkSize: 64 << 10 }, ["none", "lz4_block", "zstd"], "zstd");
        const [digester, sha256, codec] = await Promise.all([createBlake3(ports), createSha256(ports), chunkCodecFor(ports, compressor)]);
        const converted = await convert(image, dest, "nydus", { digester, sha256, codec }, options);
        result[`${compressor}-manifest`] = converted.manifest.digest;
        result[`${compressor}-bootstrap`] = converted.bootstrap.digest;
        result[`${compressor}-blobs`] = converted.blobs.map((b) => b.digest).join(",");

        // The written layout opens as a Nydus image and verifies end to end.
        const nydus = await openNydusLayout(reader, out, { kernels: ociKernels, tag: "nydus" });
        const report = await verifyNydusImage(nydus, rafs);
        assert(report.ok, `${compressor}: the converted image verifies (${report.failures.map((f) => f.message).join("; ")})`);
        result[`${compressor}-verified`] = `${report.counts.blobs} blobs, ${report.counts.files} files, ${report.counts.chunks} chunks`;

        // Lazy reads: every regular file equals the topmost layer entry that wrote its path.
        const tree = requireRafs(nydus);
        const blobs = blobSet(nydus, rafs);
        const lastWrite = new Map<string, Uint8Array | undefined>();
        for (const entries of layout.layers) for (const e of entries) lastWrite.set(`/${e.path.replace(/\/$/, "")}`, e.type === "file" ? (e.data ?? new Uint8Array(0)) : undefined);
        const listing: string[] = [];
        let compared = 0;
        const visit = async (path: string, node: RafsInode): Promise<void> => {
          if (node.entries) {
            for (const [name, child] of node.entries) await visit(`${path}/${name}`, child);
          } else if ((node.mode & 0o170000) === S_IFREG) {
            const content = await readFile(tree, path, blobs, rafs);
            const expected = lastWrite.get(path);
            if (expected) {
              assertBytes(content, expected, `${compressor}: ${path} read from the converted image`);
              compared++;
            }
            listing.push(`${path} ${hex(digester.digest(content))}`);
          }
        };
        await visit("", tree.root);
        assert(listing.length > 5 && compared * 2 >= listing.length, `${compressor}: ${compared} of ${listing.length} files compared with their layer entries`);
        result[`${compressor}-files`] = await hexDigest(ports, utf8.encode(listing.join("\n")));
      }
      return result;
    },
  },
];

/** Every case, kernels first, conversion last. */
export const cases: readonly ConformanceCase[] = [...kernelCases, filesCase, ...conversionCases];

export interface CaseOutcome {
  name: string;
  status: "pass" | "skip" | "fail";
  result?: CaseResult;
  reason?: string;
}

/** Runs every case (or those named in `only`), never throwing: failures are reported. */
export async function runSuite(ports: Ports, options: CaseContext & { only?: readonly string[] } = {}): Promise<CaseOutcome[]> {
  const { only, ...context } = options;
  const outcomes: CaseOutcome[] = [];
  for (const c of cases) {
    if (only && !only.includes(c.name)) continue;
    try {
      outcomes.push({ name: c.name, status: "pass", result: (await c.run(ports, context)) ?? {} });
    } catch (e) {
      if (e instanceof CaseSkipped) outcomes.push({ name: c.name, status: "skip", reason: e.message });
      else outcomes.push({ name: c.name, status: "fail", reason: e instanceof Error ? `${e.name}: ${e.message}\n${e.stack ?? ""}` : String(e) });
    }
  }
  return outcomes;
}

/** The lines a harness prints (and compare.test.ts parses): one per digest, one per skip. */
export function conformanceLines(runtime: string, outcome: CaseOutcome): string[] {
  if (outcome.status === "skip") return [`CONFORMANCE ${runtime} ${outcome.name} SKIPPED ${outcome.reason}`];
  if (outcome.status === "fail") return [`CONFORMANCE ${runtime} ${outcome.name} FAILED ${outcome.reason?.split("\n")[0]}`];
  return Object.entries(outcome.result ?? {}).map(([key, digest]) => `CONFORMANCE ${runtime} ${outcome.name} ${key}=${digest}`);
}
