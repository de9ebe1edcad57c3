// The tar reader against real archives (Nydus fixtures, GNU tar in every format) and `tar -tvf`.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync, mkdirSync, linkSync, utimesSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { readTar, type TarEntry, type TarInput } from "../../src/tar/reader.js";

const fixtures = new URL("../../../shared/fixtures/nydus/tests/texture/tar/", import.meta.url).pathname;

export async function listTar(input: TarInput, withBodies = true): Promise<(Omit<TarEntry, "body" | "bytes"> & { data?: Uint8Array })[]> {
  const out = [];
  for await (const e of readTar(input)) {
    const { body: _b, bytes: _y, ...h } = e;
    out.push(withBodies ? { ...h, data: await e.bytes() } : h);
  }
  return out;
}

function chunked(bytes: Uint8Array, size: number): AsyncIterable<Uint8Array> {
  return (async function* () {
    for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
  })();
}

const TYPE_CHAR: Record<string, string> = { file: "-", hardlink: "h", symlink: "l", chardev: "c", blockdev: "b", dir: "d", fifo: "p" };

function modeString(mode: number): string {
  const bits = "rwxrwxrwx";
  let s = "";
  for (let i = 0; i < 9; i++) s += mode & (1 << (8 - i)) ? bits[i] : "-";
  const chars = s.split("");
  if (mode & 0o4000) chars[2] = chars[2] === "x" ? "s" : "S";
  if (mode & 0o2000) chars[5] = chars[5] === "x" ? "s" : "S";
  if (mode & 0o1000) chars[8] = chars[8] === "x" ? "t" : "T";
  return chars.join("");
}

/** `tar -tvf` lines as GNU tar prints them, rebuilt from our entries (sizes of non-files ignored). */
function tvLine(e: Omit<TarEntry, "body" | "bytes">): string {
  const size = e.type === "chardev" || e.type === "blockdev" ? `${e.devmajor},${e.devminor}` : String(e.size);
  const link = e.type === "hardlink" ? ` link to ${e.linkname}` : e.type === "symlink" ? ` -> ${e.linkname}` : "";
  return `${TYPE_CHAR[e.type]}${modeString(e.mode)} ${e.uname || e.uid}/${e.gname || e.gid} ${size} ${e.path}${link}`;
}

/** GNU tar's listing with the date columns removed and spacing collapsed. */
function gnuListing(file: string): string[] {
  const out = execFileSync("tar", ["-tvf", file, "--quoting-style=literal"], { encoding: "utf8", env: { ...process.env, TZ: "UTC", LC_ALL: "C" }, stdio: ["ignore", "pipe", "ignore"] });
  return out
    .split("\n")
    .filter(Boolean)
    .map((l) => l.replace(/^(\S+) (\S+) +(\S+(?:, +\S+)?) \d{4}-\d\d-\d\d \d\d:\d\d /, (_m, p, o, s) => `${p} ${o} ${s.replace(/, +/, ",")} `));
}

describe("Nydus tar fixtures", () => {
  for (const name of ["all-entry-type.tar", "all-entry-type-macos.tar"]) {
    test(`${name}: every entry matches tar -tvf`, async () => {
      const bytes = new Uint8Array(readFileSync(join(fixtures, name)));
      const entries = await listTar(bytes.length ? chunked(bytes, 777) : chunked(bytes, 1));
      expect(entries.map(tvLine)).toEqual(gnuListing(join(fixtures, name)));
      for (const e of entries) expect(bytes.subarray(e.offset, e.offset + e.size)).toEqual(e.data);
    });
  }

  test("empty.tar (zero bytes) has no entries", async () => {
    const bytes = new Uint8Array(readFileSync(join(fixtures, "empty.tar")));
    expect(await listTar(chunked(bytes, 512))).toEqual([]);
  });

  test("random-access input yields the same entries as a stream", async () => {
    const bytes = new Uint8Array(readFileSync(join(fixtures, "all-entry-type-macos.tar")));
    const ra = { size: bytes.length, read: async (o: number, n: number) => bytes.slice(o, o + n) };
    expect(await listTar(ra, false)).toEqual(await listTar(new Blob([bytes]).stream(), false));
  });
});

describe("archives made by GNU tar", () => {
  const dir = mkdtempSync(join(tmpdir(), "strata-tar-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const root = join(dir, "root");
  const long = "d".repeat(120) + "/" + "n".repeat(150);
  mkdirSync(join(root, "sub/deeper"), { recursive: true });
  mkdirSync(join(root, "d".repeat(120)));
  writeFileSync(join(root, long), "long name\n");
  writeFileSync(join(root, "sub/file.txt"), "x".repeat(5000));
  writeFileSync(join(root, "empty"), "");
  linkSync(join(root, "sub/file.txt"), join(root, "sub/hard"));
  symlinkSync("../" + "t".repeat(140), join(root, "sub/longlink"));
  symlinkSync("file.txt", join(root, "sub/sym"));
  execFileSync("mkfifo", [join(root, "fifo")]);
  execFileSync("mknod", [join(root, "null"), "c", "1", "3"]);
  execFileSync("mknod", [join(root, "loop"), "b", "7", "300"]);
  utimesSync(join(root, "sub/file.txt"), 1_600_000_000.25, 1_600_000_000.123456);
  execFileSync("python3", ["-c", "import os,sys; os.setxattr(sys.argv[1], 'user.note', b'hello')", join(root, "sub/file.txt")]);

  for (const format of ["gnu", "posix", "ustar", "oldgnu"]) {
    test(`--format=${format}: entries match tar -tvf and bodies sit at their offsets`, async () => {
      const file = join(dir, `${format}.tar`);
      const args = ["-cf", file, `--format=${format}`, "-C", root, "."];
      if (format === "posix") args.splice(2, 0, "--xattrs");
      // ustar cannot store the 270-byte name or the 140-byte symlink target: leave them out.
      if (format === "ustar") args.splice(-1, 0, "--exclude=./sub/longlink", `--exclude=./${"d".repeat(120)}`);
      execFileSync("tar", args, { stdio: "ignore" });
      const bytes = new Uint8Array(readFileSync(file));
      const entries = await listTar(chunked(bytes, 4096 + 17));
      expect(entries.map(tvLine)).toEqual(gnuListing(file));
      for (const e of entries) expect(bytes.subarray(e.offset, e.offset + e.size)).toEqual(e.data);
      const f = entries.find((e) => e.path === "./sub/file.txt")!;
      expect(new TextDecoder().decode(f.data)).toBe("x".repeat(5000));
      expect(f.mtime).toBe(1_600_000_000);
      if (format === "posix") {
        const nsec = statSync(join(root, "sub/file.txt"), { bigint: true }).mtimeNs % 1_000_000_000n;
        expect(nsec).toBeGreaterThan(0n);
        expect(f.mtimeNsec).toBe(Number(nsec));
        expect(new TextDecoder().decode(f.xattrs.get("user.note"))).toBe("hello");
      }
      const loop = entries.find((e) => e.path === "./loop")!;
      expect([loop.type, loop.devmajor, loop.devminor]).toEqual(["blockdev", 7, 300]);
    });
  }

  test("GNU base-256 ids and a fractional pax mtime", async () => {
    const file = join(dir, "big.tar");
    execFileSync("tar", ["-cf", file, "--format=gnu", "--owner=big:9000000", "--group=grp:8000000", "-C", root, "empty"]);
    const [e] = await listTar(new Uint8Array(readFileSync(file)));
    expect([e!.uid, e!.gid, e!.uname, e!.gname]).toEqual([9000000, 8000000, "big", "grp"]);
    // GNU tar wrote the ids in base-256: the top bit of the field's first byte is set.
    expect(readFileSync(file)[108]! & 0x80).toBe(0x80);
  });

  test("GNU sparse files are UNSUPPORTED", async () => {
    const sparse = join(dir, "sparse.img");
    writeFileSync(sparse, "");
    execFileSync("truncate", ["-s", "1M", sparse]);
    writeFileSync(sparse, "data at start", { flag: "r+" });
    for (const format of ["gnu", "posix"]) {
      const file = join(dir, `sparse-${format}.tar`);
      execFileSync("tar", ["-cSf", file, `--format=${format}`, "-C", dir, "sparse.img"]);
      await expect(listTar(new Uint8Array(readFileSync(file)))).rejects.toMatchObject({ code: "UNSUPPORTED" });
    }
  });
});
