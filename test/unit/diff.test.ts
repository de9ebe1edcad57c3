// strata diff: a converted image is unpacked (strata unpack: modes, owners, hardlinks), then the
// tree is edited in every way diff must notice; diff must list each change and nothing
// else, and nothing at all for the untouched tree. Content comparison hashes the disk files at
// the image's chunk boundaries, so a one-byte edit names its chunk.
import { execFileSync, spawnSync } from "node:child_process";
import { appendFileSync, chmodSync, chownSync, linkSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { nodePorts } from "../../runtimes/node/index.js";
import { nodeTreeRead } from "../../runtimes/node/tree-read.js";
import { parseGetfattr } from "../../src/diff/getfattr.js";
import { diffCommand } from "../../src/cli/commands/diff.js";
import { runCli } from "../../src/cli/main.js";
import { diffTree, ociDiffImage, type DiffImage, type DiffReport } from "../../src/diff/diff.js";
import { EventBus, type StrataEvent } from "../../src/events.js";
import { kindOf, walk } from "../../src/fs/inode.js";
import { openNydusLayout } from "../../src/nydus/image.js";
import { nydusSource } from "../../src/unpack/sources.js";
import { unpack } from "../../src/unpack/unpack.js";
import { nodeFilesPort } from "../../runtimes/node/files.js";
import { nodeTreeOutput } from "../../runtimes/node/tree-output.js";
import { openOciLayout } from "../../src/oci/layout.js";
import { memoryFilesPort, randomLayout } from "../../src/oci/random.js";
import type { RafsInode } from "../../src/rafs/types.js";
import { convertRandom } from "../helpers/convert-random.js";
import { rafsKernels, type TestKernels } from "../helpers/rafs-kernels.js";
import { testKernels } from "../helpers/validate.js";

const isRoot = process.getuid?.() === 0;
const hasGetfattr = (() => {
  try {
    execFileSync("getfattr", ["--version"], { stdio: "pipe" });
    return true;
  } catch {
    return false;
  }
})();

let work: string;
let layout: string;
let pristine: string;
let kernels: TestKernels;
let image: DiffImage;
const SEED = 2027;

/** A fresh copy of the extracted tree (cp -a keeps modes, owners and hardlinks). */
function copyTree(name: string): string {
  const dir = join(work, name);
  execFileSync("cp", ["-a", pristine, dir]);
  return dir;
}

const summary = (report: DiffReport) => report.differences.map((d) => `${d.change} ${d.path}${d.fields.length ? ` ${d.fields.join(",")}` : ""}`);

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "strata-diff-"));
  layout = join(work, "layout");
  kernels = await rafsKernels();
  await convertRandom(layout, { seed: SEED, layers: 3, entries: 40, chunkSize: 4096 });
  const nydus = await openNydusLayout(nodeFilesPort(), layout, { kernels: (await testKernels()).kernels });
  pristine = join(work, "pristine");
  await unpack(nydusSource(nydus, kernels), nodeTreeOutput, pristine);
  image = { root: nydus.rafs!.root, hasher: kernels.hasher(nydus.rafs!.digester) };
});
afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe("strata diff against an unpacked image", () => {
  it("reports nothing for the untouched tree, in full and quick mode", async () => {
    const full = await diffTree(nodeTreeRead, pristine, image);
    expect(summary(full)).toEqual([]);
    expect(full.identical).toBe(true);
    expect(full.xattrs).toBe(hasGetfattr);
    expect(full.counts.hashedFiles).toBeGreaterThan(5);
    expect(full.counts.paths).toBe([...walk(image.root)].length);
    expect((await diffTree(nodeTreeRead, pristine, image, { quick: true })).differences).toEqual([]);
  });

  it("finds every edit, addition, removal, chmod, chown, re-link, type change and xattr", async () => {
    const dir = copyTree("edited");
    const entries = [...walk(image.root)] as [string, RafsInode][];
    const linked = new Map<RafsInode, string[]>();
    for (const [path, node] of entries) if (kindOf(node.mode) === "file") linked.set(node, [...(linked.get(node) ?? []), path]);
    const singles = entries.filter(([, n]) => kindOf(n.mode) === "file" && linked.get(n)!.length === 1).map(([p, n]) => ({ path: p, node: n }));
    const multiChunk = singles.filter((f) => f.node.size > 3 * 4096);
    const symlinks = entries.filter(([, n]) => kindOf(n.mode) === "symlink").map(([p]) => p);
    const subdirs = entries.filter(([p, n]) => kindOf(n.mode) === "dir" && p !== "/" && n.entries!.size > 0).map(([p]) => p);
    const group = [...linked.values()].find((paths) => paths.length >= 2);
    expect(multiChunk.length).toBeGreaterThanOrEqual(2);
    expect(symlinks.length).toBeGreaterThanOrEqual(1);
    expect(subdirs.length).toBeGreaterThanOrEqual(1);
    expect(group).toBeDefined();
    const at = (p: string) => join(dir, p);
    const expected = new Map<string, string>();
    // The hardlink group is kept apart from the other edits.
    const used = new Set<string>(group);
    const take = <T extends { path: string } | string>(list: T[]): T => {
      const pick = list.find((x) => {
        const p = typeof x === "string" ? x : x.path;
        return ![...used].some((u) => p === u || p.startsWith(`${u}/`) || u.startsWith(`${p}/`));
      })!;
      used.add(typeof pick === "string" ? pick : pick.path);
      return pick;
    };

    // Same-size edit in the second chunk of a multi-chunk file.
    const edited = take(multiChunk);
    const bytes = readFileSync(at(edited.path));
    bytes[4096 + 17] ^= 0xff;
    writeFileSync(at(edited.path), bytes);
    expected.set(edited.path, "modified content");
    // Appended bytes: size and content.
    const grown = take(multiChunk);
    appendFileSync(at(grown.path), "more");
    expected.set(grown.path, "modified size,content");
    // Removed file, removed directory (with everything below it).
    const gone = take(singles.filter((f) => f.node.size > 0));
    unlinkSync(at(gone.path));
    expected.set(gone.path, "removed");
    const goneDir = take(subdirs);
    for (const [path] of walk(entries.find(([p]) => p === goneDir)![1], goneDir)) expected.set(path, "removed");
    rmSync(at(goneDir), { recursive: true });
    // Added file and directory with a file.
    writeFileSync(at("/added.txt"), "new");
    mkdirSync(at("/added-dir"));
    writeFileSync(at("/added-dir/inner"), "x");
    expected.set("/added.txt", "added").set("/added-dir", "added").set("/added-dir/inner", "added");
    // chmod (setuid, as a scanner would care), chown.
    const chmodded = take(singles);
    chmodSync(at(chmodded.path), 0o4755);
    expected.set(chmodded.path, (chmodded.node.mode & 0o7777) === 0o4755 ? "" : "changed mode");
    const chowned = take(singles);
    if (isRoot) {
      chownSync(at(chowned.path), 4242, chowned.node.gid + 1);
      expected.set(chowned.path, "changed uid,gid");
    }
    // Symlink re-pointed.
    const link = take(symlinks);
    unlinkSync(at(link));
    symlinkSync("somewhere/else", at(link));
    expected.set(link, "changed target");
    // Hardlink broken: one path of a group becomes its own file with the same content; every
    // path of the group now has other partners.
    const broken = group![1]!;
    execFileSync("cp", ["-a", at(broken), at(`${broken}.tmp`)]);
    renameSync(at(`${broken}.tmp`), at(broken));
    for (const p of group!) expected.set(p, "changed link");
    // Two separate files hardlinked together (the second takes the first's content too).
    const [a, b] = [take(singles.filter((f) => f.node.size > 0)), take(singles.filter((f) => f.node.size > 0))];
    unlinkSync(at(b.path));
    linkSync(at(a.path), at(b.path));
    const sameContent = a.node.size === b.node.size && a.node.chunks!.every((c, i) => Buffer.compare(c.digest, b.node.chunks![i]!.digest) === 0);
    const metaFields = ["mode", "uid", "gid"].filter((f) => (f === "mode" ? (a.node.mode & 0o7777) !== (b.node.mode & 0o7777) : a.node[f as "uid"] !== b.node[f as "uid"]));
    const sizeFields = a.node.size !== b.node.size ? ["size"] : [];
    const bFields = [...metaFields, ...sizeFields, ...(sameContent ? [] : ["content"]), "link"];
    // The field order diff reports: type, mode, size, target, rdev, uid, gid, xattrs, content, link.
    const order = ["type", "mode", "size", "target", "rdev", "uid", "gid", "xattrs", "content", "link"];
    bFields.sort((x, y) => order.indexOf(x) - order.indexOf(y));
    expected.set(b.path, `${sameContent ? "changed" : "modified"} ${bFields.join(",")}`);
    expected.set(a.path, "changed link");
    // A file replaced by a directory.
    const retyped = take(singles);
    unlinkSync(at(retyped.path));
    mkdirSync(at(retyped.path), { mode: retyped.node.mode & 0o777 });
    chownSync(at(retyped.path), retyped.node.uid, retyped.node.gid);
    writeFileSync(at(`${retyped.path}/child`), "c");
    expected.set(retyped.path, "changed type").set(`${retyped.path}/child`, "added");
    // An xattr.
    const tagged = take(singles);
    if (hasGetfattr) {
      execFileSync("setfattr", ["-n", "user.strata-test", "-v", "1", at(tagged.path)]);
      expected.set(tagged.path, "changed xattrs");
    }

    const report = await diffTree(nodeTreeRead, dir, image);
    // The same through a relative path with a trailing slash (getfattr echoes paths as given).
    expect(summary(await diffTree(nodeTreeRead, `${relative(process.cwd(), dir)}/`, image))).toEqual(summary(report));
    const want = [...expected].filter(([, v]) => v !== "").map(([p, v]) => {
      const [change, fields] = v.split(" ");
      return `${change} ${p}${fields ? ` ${fields}` : ""}`;
    });
    expect(summary(report).sort()).toEqual(want.sort());
    expect(report.identical).toBe(false);
    const contentEdit = report.differences.find((d) => d.path === edited.path)!;
    expect(contentEdit.chunks).toEqual([1]);
    expect(report.differences.find((d) => d.path === chmodded.path)?.disk?.mode ?? "4755").toBe("4755");
  });

  it("--quick compares metadata and sizes only: a same-size content edit goes unnoticed (by design)", async () => {
    const dir = copyTree("quick");
    const entries = [...walk(image.root)];
    const single = ([, n]: (typeof entries)[number]) => kindOf(n.mode) === "file" && entries.filter(([, m]) => m === n).length === 1;
    const file = entries.find((e) => single(e) && e[1].size > 4096)!;
    const bytes = readFileSync(join(dir, file[0]));
    bytes[100] ^= 1;
    writeFileSync(join(dir, file[0]), bytes);
    const other = entries.find((e) => single(e) && e[1].size > 0 && e !== file)!;
    appendFileSync(join(dir, other[0]), "!");
    expect(summary(await diffTree(nodeTreeRead, dir, image, { quick: true }))).toEqual([`modified ${other[0]} size,content`]);
    expect(summary(await diffTree(nodeTreeRead, dir, image)).sort()).toEqual([`modified ${file[0]} content`, `modified ${other[0]} size,content`].sort());
  });

  it("a plain OCI image (flattened and hashed on the fly) has the same tree as its conversion", async () => {
    const oci = (await testKernels()).kernels;
    const source = await randomLayout(oci, { seed: SEED, layers: 3, entries: 40 });
    const open = () => openOciLayout(memoryFilesPort("/src", source.files), "/src", { kernels: oci });
    const plain = await ociDiffImage(await open(), kernels.hasher("blake3"));
    expect(summary(await diffTree(nodeTreeRead, pristine, plain))).toEqual([]);
    const dir = copyTree("oci");
    const file = [...walk(plain.root)].find(([, n]) => kindOf(n.mode) === "file" && n.size > 10)!;
    const bytes = readFileSync(join(dir, file[0]));
    bytes[3] ^= 1;
    writeFileSync(join(dir, file[0]), bytes);
    expect(summary(await diffTree(nodeTreeRead, dir, plain))).toEqual([`modified ${file[0]} content`]);
    expect(summary(await diffTree(nodeTreeRead, dir, await ociDiffImage(await open(), kernels.hasher("blake3"), true)))).toEqual([]);
  });

  it("emits a file event per disk path and a diff event per difference", async () => {
    const dir = copyTree("events");
    writeFileSync(join(dir, "new-file"), "n");
    const bus = new EventBus();
    const events: StrataEvent[] = [];
    bus.subscribe((e) => void events.push(e));
    const report = await diffTree(nodeTreeRead, dir, image, { events: bus });
    await bus.close();
    expect(events.filter((e) => e.type === "file")).toHaveLength(report.counts.paths);
    expect(events.filter((e) => e.type === "diff")).toEqual([{ type: "diff", source: "diff", path: "/new-file", change: "added", fields: [] }]);
  });

  it("the CLI: exit 0 when identical, 1 with differences, --json report, --events - keeps stdout NDJSON", async () => {
    const run = async (...argv: string[]) => {
      let stdout = "";
      let stderr = "";
      const code = await runCli(argv, { diff: diffCommand }, { ports: nodePorts(), stdout: (t) => void (stdout += t), stderr: (t) => void (stderr += t), isTTY: false });
      return { code, stdout, stderr };
    };
    const same = await run("diff", pristine, `oci:${layout}`);
    expect(same).toMatchObject({ code: 0, stdout: "" });
    const dir = copyTree("cli");
    writeFileSync(join(dir, "cli-added"), "x");
    const text = await run("diff", dir, `oci:${layout}`);
    expect(text).toMatchObject({ code: 1, stdout: "A /cli-added\n" });
    const json = await run("diff", dir, `oci:${layout}`, "--json", "--quick");
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toMatchObject({ identical: false, quick: true, differences: [{ path: "/cli-added", change: "added" }] });
    const streamed = await run("diff", dir, `oci:${layout}`, "--events", "-");
    expect(streamed.code).toBe(1);
    const lines = streamed.stdout.trimEnd().split("\n").map((l) => JSON.parse(l) as StrataEvent);
    expect(lines.at(-1)).toEqual({ type: "end", dropped: 0 });
    expect(lines.filter((e) => e.type === "diff")).toHaveLength(1);
    expect(streamed.stderr).toContain("A /cli-added");
    const file = join(work, "events.ndjson");
    expect((await run("diff", dir, `oci:${layout}`, "--events", file)).code).toBe(1);
    expect(readFileSync(file, "utf8")).toBe(streamed.stdout);
    expect((await run("diff", join(work, "no-such-dir"), `oci:${layout}`)).code).toBe(3);
    const unwritable = await run("diff", dir, `oci:${layout}`, "--events", join(work, "no-such-dir", "events.ndjson"));
    expect(unwritable.code).toBe(3);
    expect(unwritable.stderr).toContain("cannot write events to");
    expect((await run("diff", dir)).code).toBe(2);
  });
});

describe("strata diff under Bun and Deno", () => {
  it("reports exactly what Node reports (Deno without --allow-run: xattrs uncompared, said so)", async () => {
    const dir = copyTree("runtimes");
    writeFileSync(join(dir, "runtime-added"), "r");
    const regular = [...walk(image.root)].filter(([, n]) => kindOf(n.mode) === "file");
    const first = regular[0]![0];
    const second = regular.find(([, n]) => n !== regular[0]![1])![0];
    chmodSync(join(dir, first!), 0o600);
    if (hasGetfattr) execFileSync("setfattr", ["-n", "user.rt", "-v", "1", join(dir, second!)]);
    const root = join(import.meta.dirname, "../..");
    let stdout = "";
    const code = await runCli(["diff", dir, `oci:${layout}`, "--json"], { diff: diffCommand }, { ports: nodePorts(), stdout: (t) => void (stdout += t), stderr: () => {}, isTTY: false });
    expect(code).toBe(1);
    const node = JSON.parse(stdout) as DiffReport;
    const bun = spawnSync(join(root, "node_modules/.bin/bun"), [join(root, "runtimes/node/cli.ts"), "diff", dir, `oci:${layout}`, "--json"], { encoding: "utf8" });
    expect(bun.status, bun.stderr).toBe(1);
    expect(JSON.parse(bun.stdout)).toEqual(node);
    const deno = (...allow: string[]) =>
      spawnSync(join(root, "node_modules/.bin/deno"), ["run", `--allow-read=${root},${layout},${dir}`, ...allow, join(root, "runtimes/deno/cli.ts"), "diff", dir, `oci:${layout}`, "--json"], { encoding: "utf8" });
    const withRun = deno("--allow-run=getfattr");
    expect(withRun.status, withRun.stderr).toBe(1);
    expect(JSON.parse(withRun.stdout)).toEqual(node);
    const withoutRun = deno();
    expect(withoutRun.status, withoutRun.stderr).toBe(1);
    const blind = JSON.parse(withoutRun.stdout) as DiffReport;
    expect(blind.xattrs).toBe(false);
    expect(node.differences.some((d) => d.fields.join() === "xattrs")).toBe(hasGetfattr);
    expect(blind.differences).toEqual(node.differences.filter((d) => d.fields.join() !== "xattrs"));
  });
});

describe("getfattr output", () => {
  it("decodes escaped names and hex values", () => {
    const out = Buffer.from("# file: /t/n\\012l\nuser.k=0x76\n\n# file: /t/b\\134s \u00fc\nuser.empty=0x\nuser.bin=0x00ff\n\n", "utf8");
    const parsed = parseGetfattr(out);
    expect([...parsed.keys()]).toEqual(["/t/n\nl", "/t/b\\s ü"]);
    expect(parsed.get("/t/b\\s ü")).toEqual(new Map([["user.empty", new Uint8Array(0)], ["user.bin", new Uint8Array([0, 255])]]));
  });

  it("anything else is a typed IO error", () => {
    for (const text of ["# file: /a\nnot an attribute\n", "# file: /a\nuser.k=0x123\n", "# file: /a\nuser.k=0xzz\n", "# file: /a\nuser.k=\"text\"\n"]) {
      expect(() => parseGetfattr(new TextEncoder().encode(text))).toThrow(expect.objectContaining({ code: "IO" }));
    }
  });

  it.skipIf(!hasGetfattr)("reads what setfattr wrote, one run per tree", async () => {
    const dir = mkdtempSync(join(tmpdir(), "strata-xattr-"));
    try {
      const name = "odd\nname \\ ü";
      writeFileSync(join(dir, name), "");
      execFileSync("setfattr", ["-n", "user.v", "-v", "0x0001ff", join(dir, name)]);
      symlinkSync("nowhere", join(dir, "dangling"));
      const xattrs = await nodeTreeRead.xattrs(dir);
      expect(xattrs).toEqual(new Map([[join(dir, name), new Map([["user.v", new Uint8Array([0, 1, 255])]])]]));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
