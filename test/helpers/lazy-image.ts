// A small designed image converted to a Nydus OCI layout on disk, for the lazy-read tests and the
// bench: known file contents, several 4 KiB chunks per large file, a deduplicated copy, a symlink
// and a prefetch table. Plus a BlobRange wrapper that records every range request.
import { createHash } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { nodeFilesPort } from "../../runtimes/node/files.js";
import { nodeOutput } from "../../runtimes/node/output.js";
import { convert } from "../../src/convert/convert.js";
import { resolveOptions, type ConvertOptions } from "../../src/convert/options.js";
import { chunkCodecFor, hasherFor } from "../../src/kernels/index.js";
import { createSha256 } from "../../src/kernels/sha256.js";
import { type NydusImage, openNydus } from "../../src/nydus/image.js";
import type { BlobRange } from "../../src/oci/blob.js";
import { LayoutWriter } from "../../src/oci/layout-writer.js";
import { openOciLayout } from "../../src/oci/layout.js";
import { ociKernels } from "../../src/oci/kernels.js";
import { memoryFilesPort } from "../../src/oci/random.js";
import { MEDIA_TYPES } from "../../src/oci/types.js";
import type { Ports } from "../../src/ports.js";
import { writeTar, type TarWriteEntry } from "../../src/tar/writer.js";
import { ports as kernelPorts } from "./kernels.js";

export const ports: Ports = { ...kernelPorts, files: nodeFilesPort(), output: nodeOutput };

const utf8 = new TextEncoder();
const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

/** Deterministic text-like bytes (compressible, so chunks are stored zstd-compressed). */
export function textBytes(seed: number, size: number): Uint8Array {
  const words = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet", "kilo", "lima"];
  let a = seed >>> 0;
  let s = "";
  while (s.length < size) {
    a = (Math.imul(a, 1664525) + 1013904223) >>> 0;
    s += words[a % words.length] + (a & 0x100 ? "\n" : " ") + (a >>> 20).toString(16);
  }
  return utf8.encode(s.slice(0, size));
}

/** The files of the designed image, by absolute path. */
export function lazyFiles(): Map<string, Uint8Array> {
  const big = textBytes(1, 40 * 1024 + 123);
  return new Map([
    ["/app/app.py", utf8.encode('import sys\n\ndef main():\n    print("hello from app.py")\n    return 0\n\nif __name__ == "__main__":\n    sys.exit(main())\n')],
    ["/data/big.bin", big],
    ["/data/copy.bin", big],
    ["/data/other.bin", textBytes(2, 12 * 1024)],
    ["/etc/config.json", utf8.encode(JSON.stringify({ port: 8080, debug: false }) + "\n")],
    ["/etc/empty", new Uint8Array(0)],
  ]);
}

export interface LazyFixture {
  dir: string;
  files: Map<string, Uint8Array>;
  /** Opens the converted layout again (fresh blob handles). */
  open(): Promise<NydusImage>;
}

/** Converts the designed image (4 KiB zstd chunks, /app and /data/other.bin prefetched) into a layout under a temp dir. */
export async function convertLazyFixture(options: ConvertOptions = {}): Promise<LazyFixture> {
  const files = lazyFiles();
  const entries: TarWriteEntry[] = [
    { path: "app", type: "dir", mode: 0o755 },
    { path: "data", type: "dir", mode: 0o755 },
    { path: "etc", type: "dir", mode: 0o755 },
    ...[...files].map(([path, data]): TarWriteEntry => ({ path: path.slice(1), type: "file", mode: 0o644, data })),
    { path: "app/current", type: "symlink", linkname: "../app/app.py" },
    { path: "app/abs", type: "symlink", linkname: "/data/other.bin" },
  ];
  const tar = writeTar(entries);
  const layout = new Map<string, Uint8Array>();
  const put = (bytes: Uint8Array) => {
    const digest = sha256(bytes);
    layout.set(`blobs/sha256/${digest}`, bytes);
    return { digest: `sha256:${digest}`, size: bytes.length };
  };
  const layer = put(tar);
  const config = put(utf8.encode(JSON.stringify({ architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: [layer.digest] } })));
  const manifest = put(
    utf8.encode(JSON.stringify({ schemaVersion: 2, mediaType: MEDIA_TYPES.ociManifest, config: { mediaType: MEDIA_TYPES.ociConfig, ...config }, layers: [{ mediaType: MEDIA_TYPES.ociLayer, ...layer }] })),
  );
  layout.set("oci-layout", utf8.encode(JSON.stringify({ imageLayoutVersion: "1.0.0" })));
  layout.set("index.json", utf8.encode(JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: MEDIA_TYPES.ociManifest, ...manifest, annotations: { "org.opencontainers.image.ref.name": "latest" } }] })));

  const kernels = ociKernels(kernelPorts);
  const source = await openOciLayout(memoryFilesPort("/src", layout), "/src", { kernels });
  const resolved = resolveOptions({ chunkSize: 4096, compressor: "zstd", prefetchPatterns: ["/app", "/data/other.bin"], ...options }, ["none", "lz4_block", "zstd"], "zstd");
  const dir = mkdtempSync(join(tmpdir(), "strata-lazy-"));
  const dest = await LayoutWriter.open(dir, nodeOutput, nodeFilesPort(), { sha256: () => createSha256(kernelPorts) });
  const [digester, sha, codec] = await Promise.all([hasherFor(kernelPorts, resolved.digester), createSha256(kernelPorts), chunkCodecFor(kernelPorts, resolved.compressor)]);
  await convert(source, dest, "latest", { digester, sha256: sha, codec }, resolved);
  return { dir, files, open: () => openNydus(ports, `oci:${dir}:latest`, { kernels }) };
}

/** One range request a CountingRange saw. */
export interface RangeRequest {
  blobId: string;
  offset: number;
  length: number;
}

/**
 * The image with every blob wrapped so its reads are recorded in `requests`; `tamper` may change
 * what a read returns (corruption tests).
 */
export function countingImage(image: NydusImage, tamper?: (blobId: string, offset: number, bytes: Uint8Array) => Uint8Array): { image: NydusImage; requests: RangeRequest[] } {
  const requests: RangeRequest[] = [];
  const blobs = new Map<string, BlobRange>();
  for (const [blobId, range] of image.blobs) {
    blobs.set(blobId, {
      size: range.size,
      async read(offset, length) {
        requests.push({ blobId, offset, length });
        const bytes = await range.read(offset, length);
        return tamper ? tamper(blobId, offset, bytes.slice()) : bytes;
      },
      stream: () => {
        throw new Error("a lazy read must not stream a whole blob");
      },
    });
  }
  return { image: { ...image, blobs }, requests };
}
