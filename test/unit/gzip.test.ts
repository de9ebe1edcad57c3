import { readFileSync, readdirSync } from "node:fs";
import { gunzipSync, crc32 as zlibCrc32 } from "node:zlib";
import fc from "fast-check";
import { expect, test } from "vitest";
import { crc32, gzip } from "../../src/convert/gzip.js";

const roundTrips = (data: Uint8Array): void => {
  expect(new Uint8Array(gunzipSync(gzip(data)))).toEqual(data);
};

test("gzip members decode with node:zlib to the input: random bytes", () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 100_000 }), roundTrips), { numRuns: 30 });
});

test("gzip members decode with node:zlib to the input: repetitive data (every length and distance code)", () => {
  // Small alphabets and repeated runs give matches of every length 3..258 at distances up to 32 KiB.
  const repetitive = fc
    .array(fc.tuple(fc.uint8Array({ minLength: 1, maxLength: 40 }).map((b) => b.map((x) => x % 3)), fc.integer({ min: 1, max: 400 })), { maxLength: 60 })
    .map((runs) => {
      const parts = runs.flatMap(([piece, times]) => Array.from({ length: times }, () => piece));
      const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
      let at = 0;
      for (const p of parts) (out.set(p, at), (at += p.length));
      return out;
    });
  fc.assert(fc.property(repetitive, roundTrips), { numRuns: 60 });
  for (const n of [0, 1, 2, 3, 258, 259, 32768, 32769, 100_000]) roundTrips(new Uint8Array(n).map((_, i) => (i * 7) % 251));
  roundTrips(new Uint8Array(70_000)); // one long run of zeros
});

test("gzip shrinks real bootstraps and stays byte-identical on every call", () => {
  const dir = new URL("../../../shared/fixtures/nydus/tests/texture/bootstrap/", import.meta.url);
  const boots = readdirSync(dir).filter((n) => n.endsWith(".boot"));
  expect(boots.length).toBeGreaterThan(0);
  for (const name of boots) {
    const data = new Uint8Array(readFileSync(new URL(name, dir)));
    const packed = gzip(data);
    expect(new Uint8Array(gunzipSync(packed))).toEqual(data);
    expect(packed.length).toBeLessThan(data.length / 2);
    expect(gzip(data)).toEqual(packed);
  }
});

test("crc32 equals zlib's", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 5000 }), (d) => {
      expect(crc32(d)).toBe(zlibCrc32(d));
    }),
  );
});
