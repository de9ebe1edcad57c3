// The tar writer: what it writes, readTar reads back identically and GNU tar lists and extracts.
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, expect, test } from "vitest";
import { readTar } from "../../src/tar/reader.js";
import { writeTar, type TarWriteEntry } from "../../src/tar/writer.js";

const nameChar = fc.constantFrom(..."abcdefghijklmnopqrstuvwxyz0123456789._-é日");
const segment = fc.string({ unit: nameChar, minLength: 1, maxLength: 40 }).filter((s) => s !== "." && s !== "..");
const path = fc.array(segment, { minLength: 1, maxLength: 8 }).map((p) => p.join("/"));

const entry: fc.Arbitrary<TarWriteEntry> = fc.record({
  path,
  type: fc.constantFrom("file", "dir", "symlink", "hardlink", "chardev", "blockdev", "fifo" as const),
  mode: fc.integer({ min: 0, max: 0o7777 }),
  uid: fc.oneof(fc.nat(0o7777777), fc.integer({ min: 0, max: 2 ** 40 })),
  gid: fc.oneof(fc.nat(0o7777777), fc.integer({ min: 0, max: 2 ** 40 })),
  uname: fc.string({ maxLength: 40 }).map((s) => s.replace(/\0/g, "")),
  gname: fc.string({ maxLength: 40 }).map((s) => s.replace(/\0/g, "")),
  mtime: fc.integer({ min: -(2 ** 40), max: 2 ** 40 }),
  mtimeNsec: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 999_999_999 })),
  linkname: path,
  devmajor: fc.nat(0o7777777),
  devminor: fc.nat(0o7777777),
  xattrs: fc.array(fc.tuple(fc.constantFrom("user.a", "security.capability", "trusted.overlay.opaque"), fc.uint8Array({ maxLength: 64 }))).map((x) => new Map(x)),
  data: fc.uint8Array({ maxLength: 3000 }),
});

test("writeTar → readTar round-trips every field", async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(entry, { maxLength: 6 }), async (entries) => {
      const tar = writeTar(entries);
      const back = [];
      for await (const e of readTar(tar)) back.push({ ...e, data: await e.bytes() });
      expect(back.length).toBe(entries.length);
      back.forEach((got, i) => {
        const want = entries[i]!;
        const isFile = want.type === "file";
        const isDev = want.type === "chardev" || want.type === "blockdev";
        expect({
          path: got.path,
          type: got.type,
          mode: got.mode,
          uid: got.uid,
          gid: got.gid,
          uname: got.uname,
          gname: got.gname,
          mtime: got.mtime,
          mtimeNsec: got.mtimeNsec,
          linkname: got.linkname,
          dev: [got.devmajor, got.devminor],
          xattrs: got.xattrs,
          data: got.data,
          size: got.size,
        }).toEqual({
          ...want,
          dev: isDev ? [want.devmajor, want.devminor] : [0, 0],
          devmajor: undefined,
          devminor: undefined,
          data: isFile ? want.data : new Uint8Array(0),
          size: isFile ? want.data!.length : 0,
        });
        expect(tar.subarray(got.offset, got.offset + got.size)).toEqual(got.data);
      });
    }),
    { numRuns: 150 },
  );
});

const dir = mkdtempSync(join(tmpdir(), "strata-tarw-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test("GNU tar extracts what the writer wrote (long names, long links, big ids)", () => {
  const long = `${"a".repeat(90)}/${"b".repeat(90)}/${"c".repeat(120)}`;
  const body = new TextEncoder().encode("content of a long file\n");
  const tar = writeTar([
    { path: `${"a".repeat(90)}/`, type: "dir", mode: 0o755 },
    { path: `${"a".repeat(90)}/${"b".repeat(90)}/`, type: "dir", mode: 0o750 },
    { path: long, type: "file", mode: 0o640, uid: 3_000_000, gid: 4_000_000, mtime: 1_700_000_000, mtimeNsec: 5, data: body },
    { path: "sym", type: "symlink", linkname: "t".repeat(200) },
    { path: "hard", type: "hardlink", linkname: long },
  ]);
  const file = join(dir, "w.tar");
  writeFileSync(file, tar);
  const listing = execFileSync("tar", ["-tvf", file, "--numeric-owner"], { encoding: "utf8", env: { ...process.env, TZ: "UTC" } });
  expect(listing).toContain(`-rw-r----- 3000000/4000000`);
  expect(listing).toContain(`sym -> ${"t".repeat(200)}`);
  expect(listing).toContain(`hard link to ${long}`);
  expect(execFileSync("tar", ["-xOf", file, long])).toEqual(Buffer.from(body));
});
