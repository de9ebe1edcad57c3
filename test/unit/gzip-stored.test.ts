import { gunzipSync, crc32 as zlibCrc32 } from "node:zlib";
import fc from "fast-check";
import { expect, test } from "vitest";
import { crc32, gzipStored } from "../../src/convert/gzip.js";

test("stored gzip members decode with node:zlib to the input", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200_000 }), (data) => {
      expect(new Uint8Array(gunzipSync(gzipStored(data)))).toEqual(data);
    }),
    { numRuns: 40 },
  );
  for (const n of [0, 1, 65535, 65536, 131070, 131071]) {
    const data = new Uint8Array(n).map((_, i) => i * 7);
    expect(new Uint8Array(gunzipSync(gzipStored(data)))).toEqual(data);
  }
});

test("crc32 equals zlib's", () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 5000 }), (d) => {
      expect(crc32(d)).toBe(zlibCrc32(d));
    }));
});
