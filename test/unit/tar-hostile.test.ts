// Malformed and hostile tar input: every case ends in a typed StrataError, never a crash or hang.
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { isStrataError, StrataError } from "../../src/errors.js";
import { readTar, type TarInput } from "../../src/tar/reader.js";
import { tarEnd, tarHeader, tarPadding, writeTar } from "../../src/tar/writer.js";
import { concat } from "../../src/kernels/stream.js";

const enc = new TextEncoder();

async function drain(input: TarInput): Promise<number> {
  let n = 0;
  for await (const e of readTar(input)) {
    await e.bytes();
    n++;
  }
  return n;
}

function stream(bytes: Uint8Array): ReadableStream<Uint8Array> {
  return new Blob([bytes]).stream();
}

async function expectCode(bytes: Uint8Array, code: string): Promise<StrataError> {
  let error: unknown;
  // Both the streaming and the random-access paths must fail the same way.
  for (const input of [stream(bytes), bytes]) {
    error = await drain(input).then(
      () => undefined,
      (e) => e,
    );
    expect(error).toBeInstanceOf(StrataError);
    expect((error as StrataError).code).toBe(code);
  }
  return error as StrataError;
}

/** One header block for `path` with `edit` applied and the checksum recomputed. */
function header(path: string, edit: (block: Uint8Array) => void, size = 0): Uint8Array {
  const block = tarHeader({ path, type: "file", size }).slice();
  edit(block);
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of block) sum += b;
  block.set(enc.encode(`${sum.toString(8).padStart(6, "0")}\0 `), 148);
  return block;
}

function paxEntry(records: Uint8Array, path = "f"): Uint8Array {
  const x = header("././@PaxHeader", (b) => (b[156] = 0x78), records.length);
  return concat([x, records, tarPadding(records.length), tarHeader({ path, type: "file", size: 0 }), tarEnd()]);
}

/** One pax record "LEN key=value\n", LEN counting itself. */
function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  let len = body.length + 1;
  while (String(len).length + body.length !== len) len++;
  return `${len}${body}`;
}

const sample = writeTar([
  { path: "dir/", type: "dir" },
  { path: "dir/file", type: "file", data: enc.encode("hello world, ".repeat(100)) },
  { path: "dir/link", type: "symlink", linkname: "file" },
]);

describe("hostile tar input", () => {
  test("a truncated header is TRUNCATED", async () => {
    await expectCode(sample.subarray(0, 300), "TRUNCATED");
    await expectCode(sample.subarray(0, 512 + 1024 + 512 + 100), "TRUNCATED");
  });

  test("a truncated body is TRUNCATED and names the entry", async () => {
    const e = await expectCode(sample.subarray(0, 1024 + 700), "TRUNCATED");
    expect(e.message).toContain("dir/file");
  });

  test("a bad header checksum is TAR_CORRUPT", async () => {
    const bad = sample.slice();
    bad[512 + 3] ^= 0x01;
    await expectCode(bad, "TAR_CORRUPT");
  });

  test("a negative base-256 size is TAR_CORRUPT", async () => {
    const h = header("f", (b) => b.fill(0xff, 124, 136));
    await expectCode(concat([h, tarEnd()]), "TAR_CORRUPT");
  });

  test("a size beyond 2^53 is TAR_CORRUPT", async () => {
    const h = header("f", (b) => {
      b.fill(0xff, 124, 136);
      b[124] = 0x80;
    });
    await expectCode(concat([h, tarEnd()]), "TAR_CORRUPT");
  });

  test("a size larger than the archive is TRUNCATED", async () => {
    const h = header("f", (b) => b.set(enc.encode("77777777777\0"), 124));
    await expectCode(concat([h, new Uint8Array(4096)]), "TRUNCATED");
  });

  test("a size that is not octal is TAR_CORRUPT", async () => {
    await expectCode(concat([header("f", (b) => b.set(enc.encode("12x4\0"), 124)), tarEnd()]), "TAR_CORRUPT");
  });

  test("pax records with wrong lengths are TAR_CORRUPT", async () => {
    for (const r of ["30 path=abc\n", "5 path=abc\n", "13 path=abc\n", "11 path=abc\n", "x path=abc\n", "12 pathabc\n\n", "11 path=abc"]) {
      await expectCode(paxEntry(enc.encode(r)), "TAR_CORRUPT");
    }
  });

  test("pax numbers that are negative or malformed are TAR_CORRUPT", async () => {
    for (const r of ["10 size=-5\n", "10 uid=1e3\n", "13 mtime=1.2.3\n", "27 size=99999999999999999\n"]) {
      await expectCode(paxEntry(enc.encode(r)), "TAR_CORRUPT");
    }
  });

  test("NUL in a pax path, pax linkpath or GNU long name is UNSAFE_PATH", async () => {
    await expectCode(paxEntry(enc.encode("12 path=a\0b\n")), "UNSAFE_PATH");
    await expectCode(paxEntry(enc.encode("16 linkpath=a\0b\n")), "UNSAFE_PATH");
    const name = enc.encode("a\0b");
    const l = header("././@LongLink", (b) => (b[156] = 0x4c), name.length);
    await expectCode(concat([l, name, tarPadding(name.length), tarHeader({ path: "x", type: "file" }), tarEnd()]), "UNSAFE_PATH");
  });

  test("a pax header larger than 1 MiB is TAR_CORRUPT", async () => {
    const h = header("p", (b) => (b[156] = 0x78), (1 << 20) + 1);
    await expectCode(concat([h, new Uint8Array((1 << 20) + 512), tarEnd()]), "TAR_CORRUPT");
  });

  test("a pax header with no entry after it is TAR_CORRUPT or TRUNCATED", async () => {
    const records = enc.encode("12 path=abc\n");
    const x = header("p", (b) => (b[156] = 0x78), records.length);
    await expectCode(concat([x, records, tarPadding(records.length), tarEnd()]), "TAR_CORRUPT");
    await expectCode(concat([x, records, tarPadding(records.length)]), "TRUNCATED");
  });

  test("unknown entry types and GNU sparse headers are UNSUPPORTED", async () => {
    await expectCode(concat([header("f", (b) => (b[156] = 0x51)), tarEnd()]), "UNSUPPORTED");
    await expectCode(concat([header("f", (b) => (b[156] = 0x53)), tarEnd()]), "UNSUPPORTED");
    await expectCode(paxEntry(enc.encode("22 GNU.sparse.major=1\n")), "UNSUPPORTED");
  });

  test("libarchive's LIBARCHIVE.xattr records decode (URL-encoded name, base64 value); SCHILY wins; bad base64 is TAR_CORRUPT", async () => {
    const xattrsOf = async (records: string) => {
      for await (const e of readTar(paxEntry(enc.encode(records)))) return e.xattrs;
      throw new Error("no entry");
    };
    const both = await xattrsOf(
      paxRecord("LIBARCHIVE.xattr.user.a%3Db", btoa("\x00\xffbin")) + paxRecord("LIBARCHIVE.xattr.user.c", btoa("lib")) + paxRecord("SCHILY.xattr.user.c", "schily"),
    );
    expect([...both.keys()].sort()).toEqual(["user.a=b", "user.c"]);
    expect([...both.get("user.a=b")!]).toEqual([0, 0xff, 0x62, 0x69, 0x6e]);
    expect(new TextDecoder().decode(both.get("user.c"))).toBe("schily");
    await expectCode(paxEntry(enc.encode(paxRecord("LIBARCHIVE.xattr.user.x", "not base64!"))), "TAR_CORRUPT");
  });

  test("one zero block followed by a header is TAR_CORRUPT", async () => {
    await expectCode(concat([new Uint8Array(512), sample]), "TAR_CORRUPT");
  });

  test("EOF without end-of-archive blocks is tolerated", async () => {
    expect(await drain(sample.subarray(0, sample.length - 1024))).toBe(3);
    expect(await drain(sample.subarray(0, sample.length - 512))).toBe(3);
  });

  test("a pre-POSIX file entry ('\\0') named with a trailing slash is a directory", async () => {
    const types = [];
    for await (const e of readTar(concat([header("old/", (b) => (b[156] = 0)), header("old/f", (b) => (b[156] = 0)), tarEnd()]))) types.push(e.type);
    expect(types).toEqual(["dir", "file"]);
  });

  test("any single-byte corruption or cut gives entries or a StrataError", async () => {
    await fc.assert(
      fc.asyncProperty(fc.nat(sample.length - 1), fc.integer({ min: 0, max: 255 }), fc.nat(sample.length), async (at, value, cut) => {
        const bytes = sample.slice(0, cut);
        if (at < bytes.length) bytes[at] = value;
        try {
          await drain(bytes);
        } catch (e) {
          if (!isStrataError(e)) throw e;
        }
      }),
      { numRuns: 400 },
    );
  });
});
