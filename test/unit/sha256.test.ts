import { createHash, randomBytes } from "node:crypto";
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { isStrataError } from "../../src/errors.js";
import { nodeSha256 } from "../../runtimes/node/sha256.js";
import { createNativeSha256, createSha256, createStreamingSha256 } from "../../src/kernels/sha256.js";
import { ports } from "../helpers/kernels.js";

const hasher = await createSha256(ports);
/** The kernel's input window (assembly/sha256.ts): larger inputs are fed in pieces. */
const WINDOW = 4 << 20;
const reference = (d: Uint8Array) => new Uint8Array(createHash("sha256").update(d).digest());

describe("SHA-256 kernel vs node:crypto", () => {
  test("lengths around every block boundary, and several MiB", () => {
    const data = randomBytes(9 << 20);
    for (const n of [0, 1, 55, 56, 57, 63, 64, 65, 119, 120, 127, 128, 129, 1023, 1024, 1025, 4095, 65536, 1 << 20, WINDOW - 1, WINDOW, WINDOW + 1, 9 << 20]) {
      const d = data.subarray(0, n);
      expect(hasher.digest(d), `length ${n}`).toEqual(reference(d));
      expect(hasher.init().update(d).final(), `stream of ${n}`).toEqual(reference(d));
    }
  });

  test("every length to 300 bytes, and lengths across the window size, digest without trapping", () => {
    const data = randomBytes(WINDOW + 200);
    for (let n = 0; n <= 300; n++) expect(hasher.digest(data.subarray(0, n)), `length ${n}`).toEqual(reference(data.subarray(0, n)));
    for (let n = WINDOW - 130; n <= data.length; n++) {
      if (n % 7 !== 0 && n !== WINDOW) continue;
      expect(hasher.digest(data.subarray(0, n)), `length ${n}`).toEqual(reference(data.subarray(0, n)));
    }
  });

  test("random streaming splits of inputs larger than the window", () => {
    const data = randomBytes(2 * WINDOW + 12345);
    fc.assert(
      fc.property(fc.array(fc.nat(data.length), { maxLength: 6 }), (cuts) => {
        hasher.init();
        let at = 0;
        for (const c of [...cuts].sort((a, b) => a - b)) {
          hasher.update(data.subarray(at, c));
          at = Math.max(at, c);
        }
        expect(hasher.update(data.subarray(at)).final()).toEqual(reference(data));
      }),
      { numRuns: 15 },
    );
  });

  test("random streaming splits", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 3000 }), fc.array(fc.nat(3000), { maxLength: 8 }), (data, cuts) => {
        hasher.init();
        let at = 0;
        for (const c of [...cuts].sort((a, b) => a - b)) {
          const end = Math.min(c, data.length);
          if (end > at) hasher.update(data.subarray(at, end));
          at = Math.max(at, end);
        }
        hasher.update(data.subarray(at));
        expect(hasher.final()).toEqual(reference(data));
      }),
      { numRuns: 300 },
    );
  });

  test("one-shot and batch digests leave a stream in progress untouched", () => {
    const a = randomBytes(1000);
    const big = randomBytes(WINDOW + 3);
    hasher.init().update(a.subarray(0, 500));
    hasher.digest(randomBytes(77));
    hasher.digest(big);
    hasher.digestMany(randomBytes(300), [100, 200]);
    expect(hasher.update(a.subarray(500)).final()).toEqual(reference(a));
  });

  test("digestMany equals digests one by one, across window-sized batches", () => {
    const sizes = [0, 1, 64, 1000, 2_700_000, 1_600_000, WINDOW + 1, 5, 0, WINDOW, 3];
    const data = randomBytes(sizes.reduce((x, y) => x + y, 0));
    const out = hasher.digestMany(data, sizes);
    let at = 0;
    sizes.forEach((n, i) => {
      expect(out.subarray(i * 32, i * 32 + 32)).toEqual(reference(data.subarray(at, at + n)));
      at += n;
    });
  });

  test("digestMany equals digests one by one for random piece sizes", () => {
    fc.assert(
      fc.property(fc.array(fc.nat(5000), { maxLength: 40 }), fc.nat(100), (sizes, slack) => {
        const data = randomBytes(sizes.reduce((x, y) => x + y, 0) + slack);
        const out = hasher.digestMany(data, Uint32Array.from(sizes));
        expect(out.length).toBe(sizes.length * 32);
        let at = 0;
        sizes.forEach((n, i) => {
          expect(out.subarray(i * 32, i * 32 + 32)).toEqual(reference(data.subarray(at, at + n)));
          at += n;
        });
      }),
      { numRuns: 100 },
    );
  });

  test("digestMany of equal pieces (hashed four at a time) equals node:crypto", () => {
    for (const [count, size] of [[64, 16384], [7, 200_000], [5, 64], [9, 63]]) {
      const data = randomBytes(count * size);
      const out = hasher.digestMany(data, Array<number>(count).fill(size));
      for (let i = 0; i < count; i++) expect(out.subarray(i * 32, i * 32 + 32), `${count} × ${size}, piece ${i}`).toEqual(reference(data.subarray(i * size, (i + 1) * size)));
    }
  });

  test("digestMany batches more pieces than one kernel call takes", () => {
    const sizes = Array.from({ length: 10_000 }, (_, i) => i % 97);
    const data = randomBytes(sizes.reduce((x, y) => x + y, 0));
    const out = hasher.digestMany(data, sizes);
    let at = 0;
    for (const [i, n] of sizes.entries()) {
      if (i % 101 === 0 || i === sizes.length - 1) expect(out.subarray(i * 32, i * 32 + 32), `piece ${i}`).toEqual(reference(data.subarray(at, at + n)));
      at += n;
    }
  });

  test("wrong arguments and misuse are typed errors", () => {
    expect(() => hasher.digestMany(new Uint8Array(4), [1.5])).toThrow(expect.objectContaining({ code: "INVALID_ARGUMENT" }));
    expect(() => hasher.digestMany(new Uint8Array(4), [Number.NaN])).toThrow(expect.objectContaining({ code: "INVALID_ARGUMENT" }));
    expect(() => hasher.digestMany(new Uint8Array(4), undefined as never)).toThrow(expect.objectContaining({ code: "INVALID_ARGUMENT" }));
    expect(() => hasher.init().update("abc" as never)).toThrow(expect.objectContaining({ code: "INVALID_ARGUMENT" }));
    hasher.init().final();
    expect(() => hasher.final()).toThrow(expect.objectContaining({ code: "KERNEL_STATE" }));
    for (const bad of [undefined, "abc", [1, 2], new ArrayBuffer(4)]) {
      expect(() => hasher.digest(bad as never)).toThrow(expect.objectContaining({ code: "INVALID_ARGUMENT" }));
    }
    expect(() => hasher.digestMany(new Uint8Array(4), [5])).toThrow(expect.objectContaining({ code: "INVALID_ARGUMENT" }));
    expect(() => hasher.digestMany(new Uint8Array(4), [-1])).toThrow(expect.objectContaining({ code: "INVALID_ARGUMENT" }));
    hasher.init().final();
    try {
      hasher.update(new Uint8Array(1));
      expect.unreachable();
    } catch (e) {
      expect(isStrataError(e, "KERNEL_STATE")).toBe(true);
    }
  });
});

describe("streaming SHA-256: native when the runtime offers it, the kernel otherwise", () => {
  for (const [name, withPorts] of [["node:crypto", { ...ports, sha256: nodeSha256 }], ["wasm kernel", ports]] as const) {
    test(`${name}: pieces of a large input digest like node:crypto, then refuse more`, async () => {
      const data = randomBytes((3 << 20) + 123);
      const stream = await createStreamingSha256(withPorts);
      for (let at = 0; at < data.length; at += 700_001) stream.update(data.subarray(at, at + 700_001));
      expect(await stream.digest()).toEqual(reference(data));
      expect(() => stream.update(new Uint8Array(1))).toThrow(expect.objectContaining({ code: "KERNEL_STATE" }));
      await expect(stream.digest()).rejects.toMatchObject({ code: "KERNEL_STATE" });
      expect(() => stream.update([1] as never)).toThrow(expect.objectContaining({ code: "INVALID_ARGUMENT" }));
    });
  }

  test("an empty stream has the empty digest", async () => {
    expect(await (await createStreamingSha256({ ...ports, sha256: nodeSha256 })).digest()).toEqual(reference(new Uint8Array(0)));
    expect(await (await createStreamingSha256(ports)).digest()).toEqual(reference(new Uint8Array(0)));
  });
});

describe("native SHA-256 as a Hasher (the OCI sources' layer digests)", () => {
  test("node:crypto's digests through the Hasher shape equal the kernel's, for random streaming splits and batches", () => {
    const native = createNativeSha256({ ...ports, sha256: nodeSha256 })!;
    expect(native).toBeDefined();
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 20000 }), fc.array(fc.nat(5000), { maxLength: 8 }), (data, cuts) => {
        native.init();
        let at = 0;
        for (const cut of cuts) {
          native.update(data.subarray(at, at + cut));
          at = Math.min(data.length, at + cut);
        }
        expect(native.update(data.subarray(at)).final()).toEqual(hasher.digest(data));
        const sizes = cuts.filter((_, i) => cuts.slice(0, i + 1).reduce((a, b) => a + b, 0) <= data.length);
        expect(native.digestMany(data, sizes)).toEqual(hasher.digestMany(data, sizes));
      }),
      { numRuns: 100 },
    );
  });

  test("misuse is a typed error; an asynchronous native SHA-256 is not used", () => {
    const native = createNativeSha256({ ...ports, sha256: nodeSha256 })!;
    expect(() => native.update(new Uint8Array(1))).toThrow(expect.objectContaining({ code: "KERNEL_STATE" }));
    native.init().final();
    expect(() => native.final()).toThrow(expect.objectContaining({ code: "KERNEL_STATE" }));
    expect(() => native.digestMany(new Uint8Array(4), [5])).toThrow(expect.objectContaining({ code: "INVALID_ARGUMENT" }));
    const asynchronous = { create: () => ({ update() {}, digest: async () => new Uint8Array(32) }) };
    expect(createNativeSha256({ ...ports, sha256: asynchronous })).toBeUndefined();
    expect(createNativeSha256({ ...ports, sha256: undefined })).toBeUndefined();
  });
});
