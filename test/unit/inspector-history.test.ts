// The inspector's layer history (runtimes/browser/inspector/history.ts) against the overlay merge:
// on generated layouts full of whiteouts, opaque directories and type changes, what it calls
// deleted is absent from the flattened tree, and each surviving entry was last written by the
// layer it names.
import { describe, expect, test } from "vitest";
import { listTree } from "../../src/oci/inspect.js";
import { flatten } from "../../src/oci/flatten.js";
import { ociKernels } from "../../src/oci/kernels.js";
import { openOciLayout } from "../../src/oci/layout.js";
import { memoryFilesPort, randomLayout } from "../../src/oci/random.js";
import { canonical, LayerHistory } from "../../runtimes/browser/inspector/history.js";
import { ports } from "../helpers/kernels.js";

const kernels = ociKernels(ports);
let deletions = 0;

describe("LayerHistory", () => {
  test("canonical paths", () => {
    expect(["./a/b/", "a//b", "/a/b", "./", "."].map(canonical)).toEqual(["/a/b", "/a/b", "/a/b", "/", "/"]);
  });

  test.each(Array.from({ length: 24 }, (_, i) => 500 + i))("agrees with the overlay merge (seed %i)", async (seed) => {
    const layout = await randomLayout(kernels, { seed, layers: 4, entries: 30 });
    const image = await openOciLayout(memoryFilesPort("/l", layout.files), "/l", { kernels });
    const history = new LayerHistory();
    const root = await flatten(image, { onEntry: (entry, layer) => history.entry(entry, layer) });
    const final = new Map(listTree(root, new Map()).map((e) => [e.path, e.type]));

    const deleted = history.deletedRows();
    for (const row of deleted) expect(final.has(row.path), `${row.path} is called deleted`).toBe(false);
    expect(deleted.every((r) => r.history?.some((c) => c.action === "deleted"))).toBe(true);

    // The last layer whose tar holds a (non-whiteout) entry for each path that survived.
    const lastWriter = new Map<string, number>();
    layout.layers.forEach((entries, layer) => {
      for (const e of entries) if (!e.path.split("/").at(-1)!.startsWith(".wh.")) lastWriter.set(canonical(e.path), layer);
    });
    for (const [path, type] of final) {
      const writer = lastWriter.get(path);
      if (writer === undefined || type === "dir") continue;
      const last = history.of(path)?.at(-1);
      expect(last, path).toBeDefined();
      expect([last!.layer, last!.action === "added" || last!.action === "replaced"], path).toEqual([writer, true]);
    }
    // Every path a layer wrote is either in the tree or reported deleted, never both.
    const deletedPaths = new Set(deleted.map((r) => r.path));
    for (const path of lastWriter.keys()) if (path !== "/") expect([path, final.has(path) !== deletedPaths.has(path)]).toEqual([path, true]);
    deletions += deleted.length;
  });

  test("the layouts above deleted paths (the comparison was not vacuous)", () => {
    expect(deletions).toBeGreaterThan(24);
  });
});
