// `strata export --block`: one EROFS disk image per Nydus image. Checked by erofs-utils
// (fsck.erofs extracts the same tree from it as from the bootstrap with its blob devices), by
// veritysetup (the appended hash area verifies with the printed root hash, equals what
// veritysetup format computes, and rejects a flipped byte), and by the kernel (mounted with
// -o loop,ro, its tree equals umoci's unpack of the corpus image).
import { execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { closeSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, statSync, truncateSync, writeFileSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, test } from "vitest";
import { nodePorts } from "../../runtimes/node/index.js";
import { commands } from "../../src/cli/commands/index.js";
import { runCli } from "../../src/cli/main.js";
import { convertRandom } from "../helpers/convert-random.js";
import { hasErofsUtils, listDisk } from "../helpers/erofs.js";
import { diskTree } from "../helpers/validate.js";

const CORPUS = process.env.STRATA_CORPUS ?? "/tmp/corpus";
const appV1 = join(CORPUS, "images", "app-v1");
const texture = fileURLToPath(new URL("../../../shared/fixtures/nydus/tests/texture/", import.meta.url));
const isRoot = process.getuid?.() === 0;
const has = (name: string, args = ["--version"]) => spawnSync(name, args, { stdio: "pipe" }).status === 0;
const hasVeritysetup = has("veritysetup");
const umoci = spawnSync("which", ["umoci"], { encoding: "utf8" }).stdout.trim() || undefined;
const canLoopMount = isRoot && spawnSync("losetup", ["--find"]).status === 0 && readFileSync("/proc/filesystems", "utf8").includes("erofs");

const work = mkdtempSync(join(tmpdir(), "strata-export-block-"));
afterAll(() => {
  for (const line of readFileSync("/proc/self/mountinfo", "utf8").split("\n")) {
    const dir = line.split(" ")[4];
    if (dir?.startsWith(work)) spawnSync("umount", [dir]);
  }
  rmSync(work, { recursive: true, force: true });
});
let n = 0;
const fresh = (name: string) => join(work, `${name}-${n++}`);

/** Runs the CLI in-process with Node's ports. */
async function strata(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const code = await runCli(argv, commands, { ports: nodePorts(), stdout: (t) => (out += t), stderr: (t) => (err += t), isTTY: false });
  return { code, out, err };
}

async function exportBlock(source: string, ...options: string[]): Promise<{ file: string; summary: Summary }> {
  const file = fresh("block.erofs");
  const r = await strata("export", "--block", source, file, "--json", ...options);
  expect(r.code, r.out + r.err).toBe(0);
  return { file, summary: JSON.parse(r.out) };
}

interface Summary {
  size: number;
  dataSize: number;
  metadataSize: number;
  blobs: { blobId: string; offset: number; size: number }[];
  verity?: { rootHash: string; salt: string; hashOffset: number; dataBlocks: number };
}

/** fsck.erofs checks the whole image (every file's data read) and extracts it; the rows of the extraction. */
function fsckExtract(image: string, devices: string[] = []) {
  const out = fresh("extract");
  execFileSync("fsck.erofs", [...devices.map((d) => `--device=${d}`), `--extract=${out}`, "--preserve", image], { stdio: "pipe" });
  return listDisk(out);
}

function veritysetupVerify(file: string, root: string, hashOffset: number): boolean {
  return spawnSync("veritysetup", ["verify", file, file, root, `--hash-offset=${hashOffset}`], { stdio: "pipe" }).status === 0;
}

function flipByte(file: string, offset: number): void {
  const fd = openSync(file, "r+");
  const b = Buffer.alloc(1);
  readSync(fd, b, 0, 1, offset);
  b[0] ^= 0x01;
  writeSync(fd, b, 0, 1, offset);
  closeSync(fd);
}

const sha256 = (file: string) => createHash("sha256").update(readFileSync(file)).digest("hex");

describe.skipIf(!hasErofsUtils)("block images read by fsck.erofs (needs erofs-utils)", () => {
  for (const [seed, compressor] of [
    [3, "zstd"],
    [11, "lz4_block"],
    [29, "none"],
  ] as const) {
    test(`seed ${seed} (${compressor}): fsck.erofs extracts the same tree from the block image as from the bootstrap and its blob devices`, async () => {
      const layout = fresh("layout");
      await convertRandom(layout, { seed, layers: 3, entries: 40, compressor });
      const devices = fresh("devices");
      const d = await strata("export-blob-device", `oci:${layout}:latest`, devices, "--bootstrap", "--json");
      expect(d.code, d.err).toBe(0);
      const listed = JSON.parse(d.out).devices as { path: string; size: number; complete: boolean }[];
      expect(listed.length).toBeGreaterThan(1);
      for (const dev of listed) {
        expect(dev.complete).toBe(true);
        expect(statSync(dev.path).size).toBe(dev.size);
      }
      const expected = fsckExtract(join(devices, "image.boot"), listed.map((l) => l.path));
      expect(expected.some((row) => row.type === "file" && row.size > 0)).toBe(true);

      const { file, summary } = await exportBlock(`oci:${layout}:latest`);
      expect(statSync(file).size).toBe(summary.size);
      expect(summary.size).toBe(summary.dataSize);
      expect(summary.blobs.map((b) => b.offset)).toEqual(summary.blobs.map((_, i) => summary.metadataSize + summary.blobs.slice(0, i).reduce((s, b) => s + b.size, 0)));
      expect(fsckExtract(file)).toEqual(expected);
    });
  }

  test("a real Nydus image (nydus-image 2.2 RAFS v6 bootstrap and blob) exports to a block image fsck.erofs reads", async () => {
    const boot = join(texture, "bootstrap/rafs-v6-2.2.boot");
    const devices = fresh("devices");
    const d = await strata("export-blob-device", boot, devices, "--blobs-dir", join(texture, "blobs"), "--json");
    expect(d.code, d.err).toBe(0);
    const expected = fsckExtract(boot, JSON.parse(d.out).devices.map((l: { path: string }) => l.path));
    const { file } = await exportBlock(boot, "--blobs-dir", join(texture, "blobs"));
    expect(fsckExtract(file)).toEqual(expected);
    // Its two source files, with their known contents.
    expect(expected.filter((row) => row.type === "file").map((row) => row.sha256!.slice(0, 8)).sort()).toEqual(["1810eba8", "e629ab26"]);
  });

  test("exports are reproducible; RAFS v5 bootstraps, damaged bootstraps and bad salts are refused", async () => {
    const layout = fresh("layout");
    await convertRandom(layout, { seed: 5 });
    const a = await exportBlock(`oci:${layout}:latest`, "--verity");
    const b = await exportBlock(`oci:${layout}:latest`, "--verity");
    expect(sha256(a.file)).toBe(sha256(b.file));
    expect(a.summary.verity!.rootHash).toBe(b.summary.verity!.rootHash);

    const v5 = await strata("export", "--block", join(texture, "repeatable/sha256-nocompress-repeatable"), fresh("v5"), "--blobs-dir", join(texture, "repeatable/blobs"), "--json");
    expect(v5.code).toBe(3);
    expect(JSON.parse(v5.out).error.code).toBe("UNSUPPORTED");
    // A damaged bootstrap (its superblock claims no inodes) is refused, not exported.
    const devices = fresh("devices");
    expect((await strata("export-blob-device", `oci:${layout}:latest`, devices, "--bootstrap")).code).toBe(0);
    const damaged = readFileSync(join(devices, "image.boot"));
    damaged.fill(0, 1024 + 16, 1024 + 24);
    const damagedPath = fresh("damaged.boot");
    writeFileSync(damagedPath, damaged);
    const refused = await strata("export", "--block", damagedPath, fresh("y"), "--blobs-dir", join(layout, "blobs/sha256"), "--json");
    expect(refused.code).toBe(3);
    expect(JSON.parse(refused.out).error).toMatchObject({ code: "BAD_BOOTSTRAP", message: expect.stringMatching(/inode count is 0/) });
    const salt = await strata("export", "--block", `oci:${layout}:latest`, fresh("x"), "--verity", "--salt", "xyz");
    expect(salt.code).toBe(2);
    expect(salt.err).toMatch(/salt must be hex/);
  });

  test("--annotate records the root hash and salt on the manifest's descriptor in index.json; the manifest digest and verify are unchanged", async () => {
    const layout = fresh("layout");
    await convertRandom(layout, { seed: 6 });
    const before = JSON.parse(readFileSync(join(layout, "index.json"), "utf8"));
    const { summary } = await exportBlock(`oci:${layout}:latest`, "--verity", "--annotate");
    const after = JSON.parse(readFileSync(join(layout, "index.json"), "utf8"));
    expect(after.manifests.map((d: { digest: string }) => d.digest)).toEqual(before.manifests.map((d: { digest: string }) => d.digest));
    expect(after.manifests[0].annotations).toMatchObject({
      ...before.manifests[0].annotations,
      "dev.strata.block.verity.root-hash": summary.verity!.rootHash,
      "dev.strata.block.verity.salt": summary.verity!.salt,
    });
    expect((await strata("verify", `oci:${layout}:latest`)).code).toBe(0);
    // Without --verity, or from a source that is not a layout, it is a usage error and nothing is written.
    const noVerity = await strata("export", "--block", `oci:${layout}:latest`, fresh("z"), "--annotate");
    expect(noVerity.code).toBe(2);
    const bare = await strata("export", "--block", join(texture, "bootstrap/rafs-v6-2.2.boot"), fresh("w"), "--blobs-dir", join(texture, "blobs"), "--verity", "--annotate");
    expect(bare.code).toBe(2);
  });
});

describe.skipIf(!hasErofsUtils || !hasVeritysetup)("block images with dm-verity (needs erofs-utils and veritysetup)", () => {
  test("veritysetup verifies the appended hash area with the printed root hash, computes the same root, and rejects a flipped byte", async () => {
    const layout = fresh("layout");
    await convertRandom(layout, { seed: 17, layers: 2, entries: 40 });
    const salt = "5a17".repeat(8);
    const { file, summary } = await exportBlock(`oci:${layout}:latest`, "--verity", "--salt", salt);
    const v = summary.verity!;
    expect(v.salt).toBe(salt);
    expect(v.hashOffset).toBe(summary.dataSize);
    expect(v.dataBlocks * 4096).toBe(summary.dataSize);
    expect(veritysetupVerify(file, v.rootHash, v.hashOffset)).toBe(true);

    // veritysetup format of the data alone, with the same salt, gives the same root hash.
    const data = fresh("data");
    copyFileSync(file, data);
    truncateSync(data, summary.dataSize);
    const formatted = execFileSync("veritysetup", ["format", "--data-block-size=4096", "--hash-block-size=4096", `--salt=${salt}`, data, fresh("hash")], { encoding: "utf8" });
    expect(/Root hash:\s*([0-9a-f]+)/.exec(formatted)![1]).toBe(v.rootHash);

    // The EROFS image still reads with the hash area after it.
    expect(fsckExtract(file).length).toBeGreaterThan(1);

    // One byte flipped inside the first blob's data region.
    flipByte(file, summary.blobs[0]!.offset + 4096 + 17);
    expect(veritysetupVerify(file, v.rootHash, v.hashOffset)).toBe(false);
  });

  test("--hash-file writes the hash area beside the image (offset 0), --root-hash-file the root hash", async () => {
    const layout = fresh("layout");
    await convertRandom(layout, { seed: 17, layers: 2, entries: 30 });
    const hashFile = fresh("image.verity");
    const rootFile = fresh("image.roothash");
    const { file, summary } = await exportBlock(`oci:${layout}:latest`, "--hash-file", hashFile, "--root-hash-file", rootFile);
    const v = summary.verity!;
    expect(statSync(file).size).toBe(summary.dataSize);
    expect(v.hashOffset).toBe(0);
    expect(readFileSync(rootFile, "utf8")).toBe(`${v.rootHash}\n`);
    const verify = (hashes: string) => spawnSync("veritysetup", ["verify", file, hashes, v.rootHash], { stdio: "pipe" }).status === 0;
    expect(verify(hashFile)).toBe(true);
    // The same tree as the appended one (with the same default salt).
    const appended = await exportBlock(`oci:${layout}:latest`, "--verity");
    expect(appended.summary.verity!.rootHash).toBe(v.rootHash);
    expect(readFileSync(appended.file).subarray(summary.dataSize).equals(readFileSync(hashFile))).toBe(true);
    flipByte(file, summary.metadataSize - 1);
    expect(verify(hashFile)).toBe(false);
  });
});

describe.skipIf(!canLoopMount || !hasVeritysetup || !existsSync(appV1) || !umoci)(
  "corpus app-v1 block image in the kernel (needs root, loop devices, EROFS, veritysetup, umoci and the corpus)",
  () => {
    test("export --block --verity: veritysetup accepts it, fsck.erofs accepts it, mount -o loop,ro shows umoci's tree; a flipped byte is rejected", async () => {
      const layout = fresh("layout");
      const c = await strata("convert", `oci:${appV1}:latest`, `oci:${layout}:nydus`);
      expect(c.code, c.err).toBe(0);
      const { file, summary } = await exportBlock(`oci:${layout}:nydus`, "--verity");
      const v = summary.verity!;
      expect(veritysetupVerify(file, v.rootHash, v.hashOffset)).toBe(true);
      execFileSync("fsck.erofs", [file], { stdio: "pipe" });

      const unpacked = fresh("umoci");
      execFileSync(umoci!, ["unpack", "--image", `${appV1}:latest`, unpacked], { stdio: "pipe" });
      const mnt = fresh("mnt");
      mkdirSync(mnt);
      execFileSync("mount", ["-t", "erofs", "-o", "loop,ro", file, mnt]);
      try {
        expect(JSON.parse(execFileSync("chroot", [mnt, "/usr/bin/python3", "/app/app.py"], { encoding: "utf8" })).version).toBe("1.0");
        expect(diskTree(mnt)).toEqual(diskTree(join(unpacked, "rootfs")));
      } finally {
        execFileSync("umount", [mnt]); // -o loop sets autoclear: the loop device goes with it
      }
      expect(spawnSync("losetup", ["-j", file], { encoding: "utf8" }).stdout).toBe("");

      flipByte(file, summary.blobs.at(-1)!.offset + 123);
      expect(veritysetupVerify(file, v.rootHash, v.hashOffset)).toBe(false);
    }, 300_000);
  },
);
