// gzip decompression of a real OCI layer (the largest tar+gzip blob of the base image when the
// corpus exists, else generated text-like data gzipped by node:zlib). MB/s of decompressed output.
// strata streams: its sink receives views of the output window (what a tar reader consumes);
// the others build whole output buffers, except node:zlib's stream case, which also streams.
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { createGunzip, gunzipSync, gzipSync } from "node:zlib";
import { gunzipSync as fflateGunzip } from "fflate";
import { createInflate } from "../src/kernels/inflate.js";
import { ports } from "../test/helpers/kernels.js";
import type { BenchCase } from "./harness.js";

const MiB = 1 << 20;

function layer(): { gz: Uint8Array; source: string } {
  const blobs = "/tmp/corpus/images/base/blobs/sha256";
  if (existsSync(blobs)) {
    const gzipped = readdirSync(blobs)
      .map((f) => join(blobs, f))
      .filter((f) => {
        const head = readFileSync(f).subarray(0, 2);
        return head[0] === 0x1f && head[1] === 0x8b;
      })
      .sort((a, b) => statSync(b).size - statSync(a).size)[0];
    if (gzipped) return { gz: new Uint8Array(readFileSync(gzipped)), source: "base layer" };
  }
  const data = new Uint8Array(64 * MiB);
  const words = new TextEncoder().encode("usr lib share bin etc the of and config layer image 0123456789 {}:;\n/");
  let x = 1;
  for (let i = 0; i < data.length; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    data[i] = words[(x >>> 16) % words.length]!;
  }
  return { gz: new Uint8Array(gzipSync(data)), source: "generated text" };
}

export default async function inflateBench(): Promise<BenchCase[]> {
  const { gz, source } = layer();
  const size = gunzipSync(gz).length;
  const strata = await createInflate(ports, { format: "gzip" });
  let sunk = 0;
  const sink = (bytes: Uint8Array) => {
    sunk += bytes.length;
  };
  const bench = `gunzip ${(size / MiB).toFixed(0)} MiB (${source}, ${(size / gz.length).toFixed(2)}:1)`;
  const piece = 256 << 10;
  return [
    {
      bench,
      impl: "strata",
      bytes: size,
      run: () => {
        strata.init(sink);
        for (let at = 0; at < gz.length; at += piece) strata.update(gz.subarray(at, at + piece));
        strata.final();
      },
    },
    { bench, impl: "fflate", bytes: size, run: () => fflateGunzip(gz) },
    { bench, impl: "node:zlib gunzipSync", bytes: size, run: () => gunzipSync(gz) },
    {
      bench,
      impl: "node:zlib stream",
      bytes: size,
      run: () =>
        new Promise<void>((resolve, reject) => {
          const g = createGunzip({ chunkSize: 256 << 10 });
          g.on("data", (b: Buffer) => (sunk += b.length)).on("end", resolve).on("error", reject);
          for (let at = 0; at < gz.length; at += piece) g.write(gz.subarray(at, at + piece));
          g.end();
        }),
    },
    {
      bench,
      impl: "DecompressionStream",
      bytes: size,
      run: async () => {
        const reader = new Blob([gz]).stream().pipeThrough(new DecompressionStream("gzip")).getReader();
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          sunk += value.length;
        }
      },
    },
  ];
}
