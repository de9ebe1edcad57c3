// The overlay merge against umoci as the oracle: random layouts (whiteouts, opaque dirs,
// hardlinks across layers, type changes, implicit parents) unpacked by both must agree, and a
// layer one of them cannot apply must be refused by the other too.
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, test } from "vitest";
import type { OciKernels } from "../../src/oci/decompress.js";
import { isStrataError } from "../../src/errors.js";
import { inspectImage } from "../../src/oci/inspect.js";
import { openImage } from "../../src/oci/open.js";
import { memoryFilesPort, randomLayout } from "../../src/oci/random.js";
import { ports } from "../helpers/kernels.js";
import { writeLayout } from "../helpers/random-image.js";
import { diskTree, testKernels } from "../helpers/validate.js";

const umoci = (() => {
  try {
    return execFileSync("which", ["umoci"], { encoding: "utf8" }).trim();
  } catch {
    return undefined;
  }
})();
const isRoot = process.getuid?.() === 0;

let kernels: OciKernels;
beforeAll(async () => {
  kernels = (await testKernels()).kernels;
});
const tmp = mkdtempSync(join(tmpdir(), "strata-umoci-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

test.skipIf(!umoci || !isRoot)("random layouts flatten exactly as umoci unpacks them (umoci as root)", async () => {
  const refused: number[] = [];
  // Three layouts known to hold whiteouts below files, then two ranges of seeds.
  const runs = [
    { seed: 3, layers: 3, entries: 30 },
    { seed: 20, layers: 3, entries: 20 },
    { seed: 97, layers: 3, entries: 40 },
    ...Array.from({ length: 24 }, (_, i) => ({ seed: i, layers: 3, entries: [20, 30, 40][i % 3]! })),
    ...Array.from({ length: 24 }, (_, i) => ({ seed: 100 + i, layers: 5, entries: 30 })),
  ];
  for (const { seed, layers, entries } of runs) {
    const layout = await randomLayout(kernels, { seed, layers, entries, compression: seed % 2 ? "gzip" : "none" });
    const dir = join(tmp, `l${seed}-${layers}-${entries}`);
    writeLayout(dir, layout);
    const out = join(tmp, `u${seed}-${layers}-${entries}`);
    const image = await openImage({ ...ports, files: memoryFilesPort("/mem", layout.files) }, "oci:/mem", { kernels });
    const flattened = await inspectImage(image, kernels).then(
      (rows) => ({ rows }),
      (error: unknown) => ({ error }),
    );
    let umociError: string | undefined;
    try {
      execFileSync(umoci!, ["unpack", "--image", `${dir}:latest`, out], { stdio: "pipe" });
    } catch (e) {
      umociError = String((e as { stderr?: Buffer }).stderr);
    }
    // A layer umoci cannot apply (a hardlink whose target its own replacement removed) is one
    // strata refuses too, with a typed error.
    if (umociError !== undefined || "error" in flattened) {
      expect("error" in flattened && isStrataError(flattened.error), `seed ${seed}: umoci ${umociError ?? "unpacked"}`).toBe(true);
      expect(umociError, `seed ${seed}: strata refused (${"error" in flattened ? String(flattened.error) : ""}) but umoci unpacked`).toMatch(/link: no such file or directory/);
      refused.push(seed);
      continue;
    }
    const ours = flattened.rows.map(({ path, type, mode, uid, gid, size, sha256, target }) => ({ path, type, mode, uid, gid, size, sha256, target }));
    const theirs = diskTree(join(out, "rootfs"));
    // umoci gives the rootfs directory its own metadata: compare the root by type only.
    expect(ours[0]!.type).toBe("dir");
    expect(ours.slice(1), `seed ${seed}`).toEqual(theirs.slice(1).map((r) => ({ sha256: undefined, target: undefined, ...r })));
  }
  // Most seeds must be compared entry for entry, not refused by both.
  expect(refused.length, `refused by both: seeds ${refused}`).toBeLessThanOrEqual(8);
});
