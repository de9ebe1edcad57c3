import { createHash, randomBytes } from "node:crypto";
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { isStrataError } from "../../src/errors.js";
import { createSha256 } from "../../src/kernels/sha256.js";
import { ports } from "../helpers/kernels.js";

const hasher = await createSha256(ports);
const reference = (d: Uint8Array) => new Uint8Array(createHash("sha256").update(d).digest());

describe("SHA-256 kernel vs node:crypto", () => {
  test("lengths around every block boundary, and several MiB", () => {
    const data = randomBytes(5 << 20);
    for (const n of [0, 1, 55, 56, 57, 63, 64, 65, 119, 120, 127, 128, 129, 1023, 1024, 1025, 4095, 65536, (1 << 20) - 1, 1 << 20, (1 << 20) + 1, 5 << 20]) {
      const d = data.subarray(0, n);
      expect(hasher.digest(d), `length ${n}`).toEqual(reference(d));
      expect(hasher.init().update(d).final(), `stream of ${n}`).toEqual(reference(d));
    }
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
    const big = randomBytes(3 << 20);
    hasher.init().update(a.subarray(0, 500));
    hasher.digest(randomBytes(77));
    hasher.digest(big);
    hasher.digestMany(randomBytes(300), [100, 200]);
    expect(hasher.update(a.subarray(500)).final()).toEqual(reference(a));
  });

  test("digestMany equals digests one by one, across window-sized batches", () => {
    const sizes = [0, 1, 64, 1000, 700_000, 600_000, 2 << 20, 5, 0];
    const data = randomBytes(sizes.reduce((x, y) => x + y, 0));
    const out = hasher.digestMany(data, sizes);
    let at = 0;
    sizes.forEach((n, i) => {
      expect(out.subarray(i * 32, i * 32 + 32)).toEqual(reference(data.subarray(at, at + n)));
      at += n;
    });
  });

  test("wrong arguments and misuse are typed errors", () => {
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
