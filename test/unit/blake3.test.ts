import { readFile } from "node:fs/promises";
import { createDeriveKey } from "blake3-jit";
import fc from "fast-check";
import { createBLAKE3 } from "hash-wasm";
import { beforeAll, describe, expect, it } from "vitest";
import { isStrataError } from "../../src/errors.js";
import { createBlake3 } from "../../src/kernels/blake3.js";
import type { Hasher } from "../../src/kernels/kernel.js";
import type { Ports } from "../../src/ports.js";
import { ports } from "../helpers/kernels.js";

const MiB = 1 << 20;
/** The kernel's input window: larger inputs cross into wasm in several pieces. */
const WINDOW = MiB;

// The official test vectors (BLAKE3-team/BLAKE3 test_vectors.json): input byte i is i % 251.
const VECTOR_LENGTHS = [
  0, 1, 1023, 1024, 1025, 2048, 2049, 3072, 3073, 4096, 4097, 5120, 5121, 6144, 6145, 7168, 7169, 8192, 8193, 16384, 31744,
  102400,
];
const VECTOR_KEY = new TextEncoder().encode("whats the Elvish word for friend");
const VECTOR_CONTEXT = "BLAKE3 2019-12-27 16:29:52 test vectors context";

/** The scalar build, handed to createBlake3 whatever variant it asks for. */
const scalarPorts: Ports = {
  wasm: {
    async module() {
      return WebAssembly.compile(await readFile(new URL("../../wasm/blake3.scalar.wasm", import.meta.url)));
    },
  },
};

function vectorInput(length: number): Uint8Array {
  const data = new Uint8Array(length);
  for (let i = 0; i < length; i++) data[i] = i % 251;
  return data;
}

/** Deterministic pseudo-random bytes (xorshift32). */
function randomBytes(size: number, seed: number): Uint8Array {
  const out = new Uint8Array(size);
  let x = seed | 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex");

/** The reference digest, from hash-wasm (keyed when `key` is given). */
let reference: (data: Uint8Array, key?: Uint8Array) => Promise<string>;
beforeAll(() => {
  reference = async (data, key) => (await createBLAKE3(256, key)).update(data).digest("hex");
});

function expectCode(fn: () => unknown, code: "INVALID_ARGUMENT" | "KERNEL_STATE"): void {
  let thrown: unknown;
  try {
    fn();
  } catch (e) {
    thrown = e;
  }
  expect(isStrataError(thrown, code), `expected StrataError ${code}, got ${String(thrown)}`).toBe(true);
}

describe.each([
  ["simd", ports],
  ["scalar", scalarPorts],
])("blake3 (%s build)", (_build, buildPorts) => {
  let hasher: Hasher;
  let keyed: Hasher;
  let derived: Hasher;
  beforeAll(async () => {
    hasher = await createBlake3(buildPorts);
    keyed = await createBlake3(buildPorts, { key: VECTOR_KEY });
    derived = await createBlake3(buildPorts, { deriveKeyContext: VECTOR_CONTEXT });
  });

  it("gives the published digests of the empty and one-byte inputs", () => {
    expect(hex(hasher.digest(new Uint8Array(0)))).toBe("af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262");
    expect(hex(hasher.digest(vectorInput(1)))).toBe("2d3adedff11b61f14c886e35afa036736dcd87a74d27b5c1510225d0f592e213");
  });

  it.each(VECTOR_LENGTHS)("matches the test vector of length %i in hash, keyed_hash and derive_key modes", async (length) => {
    const data = vectorInput(length);
    expect(hex(hasher.digest(data))).toBe(await reference(data));
    expect(hex(hasher.init().update(data).final())).toBe(await reference(data));
    expect(hex(keyed.digest(data))).toBe(await reference(data, VECTOR_KEY));
    expect(hex(derived.digest(data))).toBe(hex(createDeriveKey(VECTOR_CONTEXT).update(data).finalize()));
  });

  it("streams any split of random input to the one-shot digest", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 20_000 }),
        fc.integer(),
        fc.array(fc.integer({ min: 0, max: 20_000 }), { maxLength: 8 }),
        fc.boolean(),
        async (length, seed, cuts, useKey) => {
          const data = randomBytes(length, seed);
          const h = useKey ? keyed : hasher;
          const points = [...new Set(cuts.map((c) => c % (length + 1)))].sort((a, b) => a - b);
          h.init();
          let at = 0;
          for (const p of [...points, length]) {
            h.update(data.subarray(at, p));
            at = p;
          }
          const expected = await reference(data, useKey ? VECTOR_KEY : undefined);
          expect(hex(h.final())).toBe(expected);
          expect(hex(h.digest(data))).toBe(expected);
        },
      ),
      { numRuns: 150 },
    );
  });

  it("gives the same digest for every two-update split of a 4-chunk-plus input", async () => {
    const data = randomBytes(4 * 1024 + 70, 11);
    const expected = await reference(data);
    const mismatches: number[] = [];
    for (let p = 0; p <= data.length; p++) {
      const got = hex(hasher.init().update(data.subarray(0, p)).update(data.subarray(p)).final());
      if (got !== expected) mismatches.push(p);
    }
    expect(mismatches).toEqual([]);
  });

  it("digests inputs larger than the window, whole and in updates that straddle window boundaries", async () => {
    for (const [length, step] of [
      [3 * WINDOW + 12_345, WINDOW + 1],
      [2 * WINDOW, WINDOW],
      [WINDOW + 1024, 3 * 1024 + 7],
      [4 * WINDOW + 1, 5 * WINDOW],
    ] as const) {
      const data = randomBytes(length, length);
      const expected = await reference(data);
      expect(hex(hasher.digest(data)), `digest of ${length}`).toBe(expected);
      hasher.init();
      for (let at = 0; at < length; at += step) hasher.update(data.subarray(at, at + step));
      expect(hex(hasher.final()), `${length} bytes in updates of ${step}`).toBe(expected);
    }
  });

  it("digestMany equals one digest per piece, for pieces of any size (empty, tiny, beyond the window)", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.oneof(fc.integer({ min: 0, max: 5000 }), fc.constantFrom(0, 1024, 4096, WINDOW, WINDOW + 1)), { maxLength: 12 }), fc.integer(), fc.nat(100), async (sizes, seed, slack) => {
        const total = sizes.reduce((a, b) => a + b, 0);
        const data = randomBytes(total + slack, seed);
        const many = hasher.digestMany(data, sizes);
        expect(many.length).toBe(sizes.length * 32);
        let at = 0;
        for (let i = 0; i < sizes.length; i++) {
          const piece = data.subarray(at, at + sizes[i]!);
          expect(hex(many.subarray(i * 32, (i + 1) * 32)), `piece ${i} of ${sizes[i]} bytes`).toBe(await reference(piece));
          at += sizes[i]!;
        }
      }),
      { numRuns: 40 },
    );
  });

  it("digestMany handles more pieces than one kernel batch holds", async () => {
    const sizes = Array.from({ length: 10_000 }, (_, i) => i % 7);
    const data = randomBytes(sizes.reduce((a, b) => a + b, 0), 7);
    const many = hasher.digestMany(data, new Uint32Array(sizes));
    let at = 0;
    for (let i = 0; i < sizes.length; i++) {
      const piece = data.subarray(at, at + sizes[i]!);
      at += sizes[i]!;
      expect(hex(many.subarray(i * 32, (i + 1) * 32)), `piece ${i}`).toBe(i % 997 === 0 ? await reference(piece) : hex(hasher.digest(piece)));
    }
  });

  it("leaves a stream in progress alone while digest and digestMany run", async () => {
    const data = randomBytes(50_000, 3);
    hasher.init().update(data.subarray(0, 20_000));
    hasher.digest(randomBytes(70_000, 4));
    hasher.digestMany(randomBytes(9_001, 5), [1, 4000, 5000]);
    hasher.update(data.subarray(20_000));
    expect(hex(hasher.final())).toBe(await reference(data));
  });

  it("rejects wrong argument types and out-of-order calls with typed errors", () => {
    const h = hasher;
    expectCode(() => h.update("abc" as unknown as Uint8Array), "INVALID_ARGUMENT");
    expectCode(() => h.update(null as unknown as Uint8Array), "INVALID_ARGUMENT");
    expectCode(() => h.digest([1, 2, 3] as unknown as Uint8Array), "INVALID_ARGUMENT");
    expectCode(() => h.digest(new Uint16Array(4) as unknown as Uint8Array), "INVALID_ARGUMENT");
    expectCode(() => h.digestMany(new Uint8Array(10), [11]), "INVALID_ARGUMENT");
    expectCode(() => h.digestMany(new Uint8Array(10), [-1]), "INVALID_ARGUMENT");
    expectCode(() => h.digestMany(new Uint8Array(10), [1.5]), "INVALID_ARGUMENT");
    expectCode(() => h.digestMany(new Uint8Array(10), 3 as unknown as number[]), "INVALID_ARGUMENT");
    expectCode(() => h.digestMany(new Uint8Array(10), ["1"] as unknown as number[]), "INVALID_ARGUMENT");

    h.init().update(new Uint8Array(5));
    const first = h.final();
    expectCode(() => h.update(new Uint8Array(1)), "KERNEL_STATE");
    expectCode(() => h.final(), "KERNEL_STATE");
    expect(h.init().update(new Uint8Array(5)).final()).toEqual(first);
  });
});

describe("createBlake3 options", () => {
  it("rejects keys that are not 32 bytes and conflicting modes", async () => {
    for (const key of [new Uint8Array(31), new Uint8Array(33), "k".repeat(32), [1, 2]]) {
      await expect(createBlake3(ports, { key: key as Uint8Array })).rejects.toSatisfy((e) => isStrataError(e, "INVALID_ARGUMENT"));
    }
    await expect(createBlake3(ports, { key: VECTOR_KEY, deriveKeyContext: "x" })).rejects.toSatisfy((e) => isStrataError(e, "INVALID_ARGUMENT"));
    await expect(createBlake3(ports, { deriveKeyContext: 5 as unknown as string })).rejects.toSatisfy((e) => isStrataError(e, "INVALID_ARGUMENT"));
  });

  it("keeps independent instances independent", async () => {
    const a = await createBlake3(ports);
    const b = await createBlake3(ports, { key: VECTOR_KEY });
    const data = randomBytes(10_000, 9);
    a.init().update(data.subarray(0, 5000));
    b.init().update(data.subarray(0, 3000));
    a.update(data.subarray(5000));
    b.update(data.subarray(3000));
    expect(hex(a.final())).toBe(await reference(data));
    expect(hex(b.final())).toBe(await reference(data, VECTOR_KEY));
  });
});
