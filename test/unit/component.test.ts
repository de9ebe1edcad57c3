// wasm/kernels.component.wasm (the kernels as a WebAssembly Component, world `kernels` of
// assembly/kernels.wit), transpiled with jco's API and called like any component: it must give
// the same bytes as the core modules the TypeScript API drives, and as the reference tools.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { deflateRawSync, deflateSync, gzipSync } from "node:zlib";
import { transpile } from "@bytecodealliance/jco";
import { blake3 as blake3Reference } from "hash-wasm";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { createBlake3 } from "../../src/kernels/blake3.js";
import { createFastCdc } from "../../src/kernels/chunker.js";
import { createLz4 } from "../../src/kernels/lz4.js";
import { createZstdEncoder } from "../../src/kernels/zstdenc.js";
import { ports } from "../helpers/kernels.js";

type Format = "gzip" | "zlib" | "deflate" | "zstd" | "lz4-block";
interface Kernels {
  hash(algorithm: "blake3" | "sha256", data: Uint8Array): Uint8Array;
  chunk(data: Uint8Array, minSize: number, avgSize: number, maxSize: number): Uint32Array;
  compress(format: Format, data: Uint8Array, level: number): Uint8Array;
  decompress(format: Format, data: Uint8Array, size: number): Uint8Array;
}

const root = new URL("../..", import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), "strata-component-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let k: Kernels;
beforeAll(async () => {
  const { files } = await transpile(readFileSync(join(root, "wasm/kernels.component.wasm")), { name: "kernels" });
  for (const [name, bytes] of Object.entries(files)) writeFileSync(join(dir, name), bytes);
  k = (await import(join(dir, "kernels.js"))) as Kernels;
}, 120_000);

/** Deterministic bytes: runs of text, repeats and noise, so codecs have something to find. */
function sample(size: number, seed: number): Uint8Array {
  const out = new Uint8Array(size);
  let x = seed >>> 0 || 1;
  const next = () => ((x ^= x << 13), (x ^= x >>> 17), (x ^= x << 5), x >>> 0);
  const words = new TextEncoder().encode("the quick brown fox jumps over the lazy dog 0123456789 ");
  for (let i = 0; i < size; ) {
    const kind = next() % 3;
    const run = Math.min(size - i, 1 + (next() % 4096));
    for (let j = 0; j < run; j++) out[i + j] = kind === 0 ? words[(i + j) % words.length]! : kind === 1 ? out[Math.max(0, i + j - 300)]! : next() & 255;
    i += run;
  }
  return out;
}

/** Byte equality without vitest's element-wise deep equal (slow on MiB-sized arrays). */
const hex = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex") + `:${bytes.length}`;

const kernelError = (f: () => unknown): string => {
  try {
    f();
  } catch (e) {
    return String((e as { payload?: unknown }).payload);
  }
  return "no error";
};

const SIZES = [0, 1, 63, 64, 1023, 1024, 1025, 4096, 65536 + 7, (1 << 20) + 1, 5 << 20];

describe("hash", () => {
  test("BLAKE3 equals hash-wasm and the core kernel; SHA-256 equals node:crypto, at every size", async () => {
    const core = await createBlake3(ports);
    for (const [i, size] of SIZES.entries()) {
      const data = sample(size, i + 1);
      const b3 = k.hash("blake3", data);
      expect(Buffer.from(b3).toString("hex"), `blake3 ${size}`).toBe(await blake3Reference(data));
      expect(hex(b3)).toBe(hex(core.digest(data)));
      expect(Buffer.from(k.hash("sha256", data)).toString("hex"), `sha256 ${size}`).toBe(createHash("sha256").update(data).digest("hex"));
    }
  });
});

describe("chunk", () => {
  test("FastCDC lengths equal the core chunker's and cover the input", async () => {
    for (const [min, avg, max] of [
      [2048, 8192, 65536],
      [16384, 65536, 262144],
    ] as const) {
      const data = sample(3 << 20, avg);
      const core = await createFastCdc(ports, { minSize: min, avgSize: avg, maxSize: max });
      const expected: number[] = [];
      core.init((n) => expected.push(n));
      core.update(data);
      core.final();
      const lengths = [...k.chunk(data, min, avg, max)];
      expect(lengths).toEqual(expected);
      expect(lengths.reduce((a, b) => a + b, 0)).toBe(data.length);
    }
    expect([...k.chunk(new Uint8Array(0), 2048, 8192, 65536)]).toEqual([]);
  });

  test("sizes out of order are invalid-argument", () => {
    expect(kernelError(() => k.chunk(new Uint8Array(10), 8192, 4096, 65536))).toBe("invalid-argument");
    expect(kernelError(() => k.chunk(new Uint8Array(10), 2048, 6000, 65536))).toBe("invalid-argument");
  });
});

describe("compress and decompress", () => {
  test("zstd frames equal the core encoder's bytes and decode with the zstd CLI; lz4 blocks equal the core codec's", async () => {
    const zstd = await createZstdEncoder(ports);
    const lz4 = await createLz4(ports);
    for (const [i, size] of [1, 1000, 65536, 1 << 20, 4 << 20].entries()) {
      const data = sample(size, 100 + i);
      const frame = k.compress("zstd", data, 3);
      const core = zstd.compress(data);
      if (core) expect(hex(frame)).toBe(hex(core));
      const file = join(dir, `c${i}.zst`);
      writeFileSync(file, frame);
      expect(hex(execFileSync("zstd", ["-dc", file], { maxBuffer: 64 << 20 }))).toBe(hex(data));
      expect(hex(k.decompress("zstd", frame, size))).toBe(hex(data));

      const block = k.compress("lz4-block", data, 0);
      const coreBlock = lz4.compress(data);
      if (coreBlock) expect(hex(block)).toBe(hex(coreBlock));
      expect(hex(k.decompress("lz4-block", block, size))).toBe(hex(data));
      expect(hex(lz4.decompress(block, size))).toBe(hex(data));
    }
  });

  test("gzip, zlib and raw deflate from node:zlib inflate to the original", () => {
    for (const [i, size] of [0, 1, 70000, 3 << 20].entries()) {
      const data = sample(size, 200 + i);
      expect(hex(k.decompress("gzip", gzipSync(data), size))).toBe(hex(data));
      expect(hex(k.decompress("zlib", deflateSync(data), size))).toBe(hex(data));
      expect(hex(k.decompress("deflate", deflateRawSync(data), size))).toBe(hex(data));
    }
  });

  test("bad input is a typed kernel-error, and the component keeps working afterwards", () => {
    const data = sample(100_000, 7);
    const gz = new Uint8Array(gzipSync(data)); // a copy: Buffer.slice would share bytes with the flipped copy
    const flipped = gz.slice();
    flipped[gz.length - 6]! ^= 1; // inside the CRC-32
    expect(kernelError(() => k.decompress("gzip", flipped, data.length))).toBe("checksum-mismatch");
    expect(kernelError(() => k.decompress("gzip", gz.subarray(0, gz.length - 20), data.length))).toBe("truncated");
    expect(kernelError(() => k.decompress("gzip", gz, data.length - 1))).toBe("output-limit");
    expect(kernelError(() => k.decompress("gzip", new Uint8Array([1, 2, 3]), 10))).toBe("corrupt-data");
    const frame = k.compress("zstd", data, 3);
    expect(kernelError(() => k.decompress("zstd", frame.subarray(0, frame.length - 3), data.length))).toBe("truncated");
    expect(kernelError(() => k.decompress("zstd", frame, data.length + 1))).toBe("corrupt-data");
    expect(kernelError(() => k.decompress("lz4-block", new Uint8Array([0xf0, 1]), 100))).toBe("corrupt-data");
    expect(kernelError(() => k.compress("gzip", data, 0))).toBe("unsupported");
    expect(kernelError(() => k.compress("zstd", new Uint8Array((16 << 20) + 1), 3))).toBe("invalid-argument");
    expect(hex(k.decompress("gzip", gz, data.length))).toBe(hex(data));
  });
});
