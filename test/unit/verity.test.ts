// dm-verity trees against veritysetup (cryptsetup-bin): same root hash and byte-identical hash
// area (superblock included) for the same data, salt and UUID.
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { createSha256 } from "../../src/kernels/sha256.js";
import { hex } from "../../src/oci/verify.js";
import { VERITY_BLOCK_SIZE, VerityBuilder, parseSalt } from "../../src/verity.js";
import { ports } from "../helpers/kernels.js";

const hasVeritysetup = (() => {
  try {
    execFileSync("veritysetup", ["--version"], { stdio: "pipe" });
    return true;
  } catch {
    return false;
  }
})();

const work = mkdtempSync(join(tmpdir(), "strata-verity-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const UUID = "12345678-9abc-4def-8123-456789abcdef";
const uuidBytes = Uint8Array.from(UUID.replace(/-/g, "").match(/../g)!, (h) => parseInt(h, 16));

/** veritysetup format of `data`: its root hash and hash file. */
function veritysetup(data: Uint8Array, salt: Uint8Array): { root: string; hashFile: Uint8Array } {
  const dataPath = join(work, "data");
  const hashPath = join(work, "hash");
  writeFileSync(dataPath, data);
  rmSync(hashPath, { force: true });
  const out = execFileSync(
    "veritysetup",
    ["format", "--data-block-size=4096", "--hash-block-size=4096", "--hash=sha256", `--salt=${salt.length ? hex(salt) : "-"}`, `--uuid=${UUID}`, dataPath, hashPath],
    { encoding: "utf8" },
  );
  return { root: /Root hash:\s*([0-9a-f]+)/.exec(out)![1]!, hashFile: new Uint8Array(readFileSync(hashPath)) };
}

async function strata(data: Uint8Array, salt: Uint8Array, pieces = [data.length]) {
  const builder = new VerityBuilder(await createSha256(ports), salt);
  let at = 0;
  for (const n of pieces) {
    builder.update(data.subarray(at, at + n));
    at += n;
  }
  builder.update(data.subarray(at));
  return builder.finish(uuidBytes);
}

describe.skipIf(!hasVeritysetup)("verity tree vs veritysetup format (skipped: veritysetup is not installed)", () => {
  // 1 block: no hash levels; 128: one full hash block; 129: two levels; 16385: three levels.
  for (const blocks of [1, 2, 127, 128, 129, 1000, 16385]) {
    it(`${blocks} data blocks: same root hash and hash area`, async () => {
      const data = new Uint8Array(randomBytes(blocks * VERITY_BLOCK_SIZE));
      const salt = new Uint8Array(randomBytes(32));
      const ours = await strata(data, salt);
      const theirs = veritysetup(data, salt);
      expect(hex(ours.rootHash)).toBe(theirs.root);
      expect(ours.dataBlocks).toBe(blocks);
      expect(hex(ours.hashArea)).toBe(hex(theirs.hashFile));
    });
  }

  it("any piece sizes and salts (including none) give veritysetup's root hash", async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 300 }), fc.array(fc.integer({ min: 0, max: 9000 }), { maxLength: 6 }), fc.integer({ min: 0, max: 256 }), async (blocks, pieces, saltSize) => {
        const data = new Uint8Array(randomBytes(blocks * VERITY_BLOCK_SIZE));
        const salt = new Uint8Array(randomBytes(saltSize));
        const ours = await strata(data, salt, pieces);
        expect(hex(ours.rootHash)).toBe(veritysetup(data, salt).root);
      }),
      { numRuns: 12 },
    );
  });
});

describe("verity input checks", () => {
  it("refuses data that is not whole blocks, no data, and salts over 256 bytes", async () => {
    const sha = await createSha256(ports);
    const partial = new VerityBuilder(sha, new Uint8Array(4));
    partial.update(new Uint8Array(VERITY_BLOCK_SIZE + 1));
    expect(() => partial.finish()).toThrow(/not a multiple of 4096/);
    expect(() => new VerityBuilder(sha, new Uint8Array(0)).finish()).toThrow(/no data/);
    expect(() => new VerityBuilder(sha, new Uint8Array(257))).toThrow(/longer than 256/);
  });

  it("parses hex salts and '-' as veritysetup does", () => {
    expect(Array.from(parseSalt("00ff10"))).toEqual([0, 255, 16]);
    expect(parseSalt("-").length).toBe(0);
    expect(() => parseSalt("abc")).toThrow(/hex/);
    expect(() => parseSalt("zz")).toThrow(/hex/);
  });
});
