// Overlay merge semantics: whiteouts, opaque directories, replacements, hardlinks, implicit parents.
import { describe, expect, test } from "vitest";
import { kindOf, walk, type Inode } from "../../src/fs/inode.js";
import { Overlay } from "../../src/fs/overlay.js";
import { normalizePath, pathComponents } from "../../src/fs/path.js";
import { readTar } from "../../src/tar/reader.js";
import { writeTar, type TarWriteEntry } from "../../src/tar/writer.js";

const enc = new TextEncoder();
const file = (path: string, text = path, extra: Partial<TarWriteEntry> = {}): TarWriteEntry => ({ path, type: "file", data: enc.encode(text), ...extra });
const dir = (path: string, mode = 0o755): TarWriteEntry => ({ path, type: "dir", mode });
const wh = (path: string): TarWriteEntry => ({ path, type: "file" });

/** Applies layers and returns path → "kind mode [content|target]" plus the tars for content lookups. */
async function merge(...layers: TarWriteEntry[][]): Promise<{ tree: Record<string, string>; root: Inode }> {
  const overlay = new Overlay();
  const tars = layers.map((l) => writeTar(l));
  for (const [i, tar] of tars.entries()) await overlay.applyLayer(i, readTar(tar));
  const tree: Record<string, string> = {};
  for (const [path, inode] of walk(overlay.root)) {
    const kind = kindOf(inode.mode)!;
    let what = `${kind} ${(inode.mode & 0o7777).toString(8)}`;
    if (inode.data) what += ` ${new TextDecoder().decode(tars[inode.data.layer]!.subarray(inode.data.offset, inode.data.offset + inode.size))}`;
    if (inode.target !== undefined) what += ` -> ${inode.target}`;
    tree[path] = what;
  }
  return { tree, root: overlay.root };
}

describe("path safety", () => {
  test("normalises ./, //, trailing / and a leading /", () => {
    expect(normalizePath("./a//b/./c/")).toBe("/a/b/c");
    expect(normalizePath("/etc/passwd")).toBe("/etc/passwd");
    expect(normalizePath(".")).toBe("/");
    expect(normalizePath("./")).toBe("/");
  });
  test("refuses .. anywhere and NUL", () => {
    for (const p of ["..", "../etc", "a/../../b", "/../x", "a/..", "a\0b"]) {
      expect(() => pathComponents(p)).toThrow(expect.objectContaining({ code: "UNSAFE_PATH" }));
    }
  });
  test("a tar entry escaping the root is UNSAFE_PATH in the overlay", async () => {
    await expect(merge([file("../escape")])).rejects.toMatchObject({ code: "UNSAFE_PATH" });
    await expect(merge([file("a"), { path: "b", type: "hardlink", linkname: "../a" }])).rejects.toMatchObject({ code: "UNSAFE_PATH" });
  });
});

describe("overlay merge", () => {
  test("a '.' entry sets the root; missing parents are created 0755", async () => {
    const { tree } = await merge([dir(".", 0o700), file("./a/b/c.txt", "c")]);
    expect(tree).toEqual({ "/": "dir 700", "/a": "dir 755", "/a/b": "dir 755", "/a/b/c.txt": "file 644 c" });
  });

  test("directories with and without trailing slash are the same directory", async () => {
    const { tree } = await merge([dir("d/", 0o711), file("d/x"), dir("d", 0o750)]);
    expect(tree).toEqual({ "/": "dir 755", "/d": "dir 750", "/d/x": "file 644 d/x" });
  });

  test(".wh.NAME removes a lower file or a whole lower directory", async () => {
    const { tree } = await merge([dir("d"), file("d/keep"), file("d/gone"), dir("d/sub"), file("d/sub/x")], [wh("d/.wh.gone"), wh("d/.wh.sub")]);
    expect(tree).toEqual({ "/": "dir 755", "/d": "dir 755", "/d/keep": "file 644 d/keep" });
  });

  test("a whiteout never hides what its own layer adds, before or after it", async () => {
    const { tree } = await merge([file("a", "old"), file("b", "old")], [file("a", "new"), wh(".wh.a"), wh(".wh.b"), file("b", "new")]);
    expect(tree).toEqual({ "/": "dir 755", "/a": "file 644 new", "/b": "file 644 new" });
  });

  test("a whiteout below a file is ignored: nothing can exist there", async () => {
    const { tree } = await merge([file("f", "data")], [wh("f/sub/.wh.x")]);
    expect(tree).toEqual({ "/": "dir 755", "/f": "file 644 data" });
  });

  test("a whiteout for a missing path (or missing parent) is ignored", async () => {
    const { tree } = await merge([file("a")], [wh(".wh.nothing"), wh("no/such/.wh.dir")]);
    expect(tree).toEqual({ "/": "dir 755", "/a": "file 644 a" });
  });

  test("an opaque directory hides lower entries only", async () => {
    const lower = [dir("d"), file("d/lower1"), dir("d/sub"), file("d/sub/lower2"), file("other")];
    const before = await merge(lower, [dir("d", 0o700), wh("d/.wh..wh..opq"), file("d/upper"), file("d/sub/upper2")]);
    const after = await merge(lower, [dir("d", 0o700), file("d/upper"), file("d/sub/upper2"), wh("d/.wh..wh..opq")]);
    const want = { "/": "dir 755", "/d": "dir 700", "/d/sub": "dir 755", "/d/sub/upper2": "file 644 d/sub/upper2", "/d/upper": "file 644 d/upper", "/other": "file 644 other" };
    expect(before.tree).toEqual(want);
    expect(after.tree).toEqual(want);
  });

  test("AUFS bookkeeping names (.wh..wh.plnk) are skipped", async () => {
    const { tree } = await merge([file("a"), dir(".wh..wh.plnk"), wh(".wh..wh.aufs")]);
    expect(tree).toEqual({ "/": "dir 755", "/a": "file 644 a" });
  });

  test("a file replaces a directory and a directory replaces it back", async () => {
    const { tree } = await merge([dir("x"), file("x/inner")], [file("x", "now a file")], [dir("x", 0o701), file("x/new")]);
    expect(tree).toEqual({ "/": "dir 755", "/x": "dir 701", "/x/new": "file 644 x/new" });
  });

  test("deletion then re-creation in a later layer", async () => {
    const { tree } = await merge([file("f", "v1")], [wh(".wh.f")], [file("f", "v3")]);
    expect(tree).toEqual({ "/": "dir 755", "/f": "file 644 v3" });
  });

  test("duplicate entries in one layer: the last wins", async () => {
    const { tree } = await merge([file("f", "first"), { path: "f", type: "symlink", linkname: "t" }, file("f", "last", { mode: 0o600 })]);
    expect(tree).toEqual({ "/": "dir 755", "/f": "file 600 last" });
  });

  test("hardlinks share one inode within and across layers", async () => {
    const { root, tree } = await merge(
      [file("a", "data"), { path: "b", type: "hardlink", linkname: "a" }],
      [{ path: "c", type: "hardlink", linkname: "./a" }, wh(".wh.a")],
    );
    expect(tree).toEqual({ "/": "dir 755", "/b": "file 644 data", "/c": "file 644 data" });
    expect(root.entries!.get("b")).toBe(root.entries!.get("c"));
  });

  test("replacing one name of a hardlinked pair keeps the other", async () => {
    const { root, tree } = await merge([file("a", "data"), { path: "b", type: "hardlink", linkname: "a" }], [file("a", "new")]);
    expect(tree).toEqual({ "/": "dir 755", "/a": "file 644 new", "/b": "file 644 data" });
    expect(root.entries!.get("a")).not.toBe(root.entries!.get("b"));
  });

  test("a hardlink to a missing target or to a directory is a typed error", async () => {
    await expect(merge([{ path: "b", type: "hardlink", linkname: "nope" }])).rejects.toMatchObject({ code: "NOT_FOUND" });
    await expect(merge([dir("d"), { path: "b", type: "hardlink", linkname: "d" }])).rejects.toMatchObject({ code: "TAR_CORRUPT" });
  });

  test("a hardlink whose target its own replacement removes is NOT_FOUND, as umoci finds it", async () => {
    // The path is cleared before linking: a directory holding the target, or the target itself.
    await expect(merge([dir("d"), file("d/f")], [{ path: "d", type: "hardlink", linkname: "d/f" }])).rejects.toMatchObject({ code: "NOT_FOUND" });
    await expect(merge([file("a")], [{ path: "a", type: "hardlink", linkname: "a" }])).rejects.toMatchObject({ code: "NOT_FOUND" });
    // Replacing a name whose target is elsewhere still links.
    const { tree } = await merge([file("a", "data"), file("b", "old")], [{ path: "b", type: "hardlink", linkname: "a" }]);
    expect(tree["/b"]).toBe("file 644 data");
  });

  test("parent paths through symlinks resolve inside the root", async () => {
    const { tree } = await merge(
      [dir("usr"), dir("usr/lib"), { path: "lib", type: "symlink", linkname: "usr/lib" }, { path: "abs", type: "symlink", linkname: "/../../usr" }],
      [file("lib/x.so", "x"), file("abs/y", "y")],
    );
    expect(tree).toEqual({
      "/": "dir 755",
      "/abs": "symlink 644 -> /../../usr",
      "/lib": "symlink 644 -> usr/lib",
      "/usr": "dir 755",
      "/usr/lib": "dir 755",
      "/usr/lib/x.so": "file 644 x",
      "/usr/y": "file 644 y",
    });
  });

  test("symlink loops in a parent path and files used as directories are TAR_CORRUPT", async () => {
    await expect(merge([{ path: "a", type: "symlink", linkname: "b" }, { path: "b", type: "symlink", linkname: "a" }, file("a/x")])).rejects.toMatchObject({ code: "TAR_CORRUPT" });
    await expect(merge([file("f"), file("f/x")])).rejects.toMatchObject({ code: "TAR_CORRUPT" });
  });

  test("every entry type lands with its metadata; data points into the layer tar", async () => {
    const xattrs = new Map([["user.k", enc.encode("v")]]);
    const { root } = await merge([
      file("f", "body", { uid: 1000, gid: 100, mtime: 1_700_000_000, mtimeNsec: 42, mode: 0o4755, xattrs }),
      { path: "c", type: "chardev", devmajor: 1, devminor: 3 },
      { path: "b", type: "blockdev", devmajor: 259, devminor: 65537 },
      { path: "p", type: "fifo" },
      { path: "s", type: "symlink", linkname: "ünï" },
    ]);
    const f = root.entries!.get("f")!;
    expect([f.mode, f.uid, f.gid, f.mtime, f.mtimeNsec, f.size, f.xattrs]).toEqual([0o104755, 1000, 100, 1_700_000_000, 42, 4, xattrs]);
    expect(f.data).toEqual({ layer: 0, offset: 512 * 2 + 512 }); // pax header + records + ustar header
    expect(root.entries!.get("c")!.rdev).toBe((1 << 8) | 3);
    expect(kindOf(root.entries!.get("b")!.mode)).toBe("blockdev");
    expect(kindOf(root.entries!.get("p")!.mode)).toBe("fifo");
    expect(root.entries!.get("s")!.size).toBe(5);
  });

  test("the root cannot be replaced by a file", async () => {
    await expect(merge([file("./")])).rejects.toMatchObject({ code: "TAR_CORRUPT", message: expect.stringContaining("root must be a directory") });
  });
});
