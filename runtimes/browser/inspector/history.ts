// Which layer added, replaced or deleted each path: replays the layers' tar entries (as flatten's
// onEntry hook sees them) over a model of the paths that exist, whiteouts included.
import type { TarHeader } from "../../../src/tar/reader.js";
import type { PathChange, TreeRow } from "./protocol.js";

const WHITEOUT = ".wh.";
const OPAQUE = ".wh..wh..opq";

/** "./a/b/" → "/a/b"; the root is "/". */
export function canonical(name: string): string {
  const parts = name.split("/").filter((p) => p !== "" && p !== ".");
  return `/${parts.join("/")}`;
}

const parentOf = (path: string) => path.slice(0, path.lastIndexOf("/")) || "/";
const under = (dir: string, path: string) => path.startsWith(dir === "/" ? "/" : `${dir}/`) && path !== dir;

export class LayerHistory {
  /** Paths that exist after the layers seen so far, with their type. */
  private readonly live = new Map<string, TreeRow["type"]>([["/", "dir"]]);
  /** The last type each path had, for rows of paths deleted for good. */
  private readonly lastType = new Map<string, TreeRow["type"]>();
  private readonly changes = new Map<string, PathChange[]>();
  private layer = -1;
  /** Paths the current layer wrote: its own whiteouts do not remove them (they aim at lower layers). */
  private readonly ownPaths = new Set<string>();

  entry(header: TarHeader, layer: number): void {
    if (layer !== this.layer) {
      this.layer = layer;
      this.ownPaths.clear();
    }
    const path = canonical(header.path);
    if (path === "/") return;
    const name = path.slice(path.lastIndexOf("/") + 1);
    const dir = parentOf(path);
    if (name === OPAQUE) {
      this.removeUnder(dir, layer);
      this.record(dir, { layer, action: "opaque" });
    } else if (name.startsWith(WHITEOUT)) {
      const target = `${dir === "/" ? "" : dir}/${name.slice(WHITEOUT.length)}`;
      if (this.ownPaths.has(target)) return;
      this.removeUnder(target, layer);
      if (this.live.delete(target)) this.record(target, { layer, action: "deleted" });
    } else {
      const type: TreeRow["type"] = header.type === "hardlink" ? "file" : (header.type as TreeRow["type"]);
      const before = this.live.get(path);
      this.ownPaths.add(path);
      this.addParents(dir);
      this.live.set(path, type);
      this.lastType.set(path, type);
      // Upper layers list parent directories again: only a real change is worth a record.
      if (before === "dir" && type === "dir") return;
      // A non-directory replaces a whole subtree, also what this layer put there itself.
      if (before !== undefined && type !== "dir") this.removeUnder(path, layer, false);
      this.record(path, { layer, action: before === undefined ? "added" : "replaced" });
    }
  }

  /** The changes to `path`, oldest first. */
  of(path: string): PathChange[] | undefined {
    return this.changes.get(path);
  }

  /** Rows for paths some layer deleted and no later layer brought back. */
  deletedRows(): TreeRow[] {
    const rows: TreeRow[] = [];
    for (const [path, history] of this.changes) {
      if (this.live.has(path)) continue;
      rows.push({ path, type: this.lastType.get(path) ?? "file", size: 0, mode: 0, history, deleted: true });
    }
    return rows;
  }

  private record(path: string, change: PathChange): void {
    const list = this.changes.get(path);
    if (list) list.push(change);
    else this.changes.set(path, [change]);
  }

  private addParents(dir: string): void {
    for (let d = dir; d !== "/" && !this.live.has(d); d = parentOf(d)) {
      this.live.set(d, "dir");
      this.lastType.set(d, "dir");
    }
  }

  private removeUnder(dir: string, layer: number, keepOwn = true): void {
    for (const path of [...this.live.keys()]) {
      if (!under(dir, path) || (keepOwn && this.ownPaths.has(path))) continue;
      this.live.delete(path);
      this.record(path, { layer, action: "deleted" });
    }
  }
}
