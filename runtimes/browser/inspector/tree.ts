// A virtualised tree view: the rows of the expanded (or, while filtering, matching) nodes form a
// flat list, and only those inside the scrolled viewport are in the DOM. Keyboard navigation
// follows the WAI-ARIA tree pattern with aria-activedescendant (focus stays on the tree).
import type { TreeRow } from "./protocol.js";

export interface TreeNode {
  row: TreeRow;
  name: string;
  depth: number;
  parent?: TreeNode;
  children: TreeNode[];
  expanded: boolean;
  /** Verify failures naming this path (or, for OCI images, a layer that wrote it). */
  failures: string[];
}

const ROW_HEIGHT = 26;
const OVERSCAN = 8;

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let value = n / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

/** A short description of what the layers did to a path, or "" when nothing notable. */
export function changeBadge(row: TreeRow): string {
  const history = row.history;
  if (!history?.length) return "";
  const deletions = history.filter((c) => c.action === "deleted").map((c) => c.layer);
  if (row.deleted) return `deleted in layer ${deletions.at(-1)}`;
  const last = history.at(-1)!;
  if (deletions.length) return `whited out in layer ${deletions.join(", ")} · re-added in layer ${last.layer}`;
  if (last.action === "opaque") return `opaque in layer ${last.layer}`;
  return last.action === "replaced" ? `replaced in layer ${last.layer}` : history.length > 1 || last.layer > 0 ? `added in layer ${last.layer}` : "";
}

const parentPath = (path: string) => path.slice(0, path.lastIndexOf("/")) || "/";

export class TreeView {
  readonly element: HTMLElement;
  private readonly spacer: HTMLElement;
  private roots: TreeNode[] = [];
  private readonly byPath = new Map<string, TreeNode>();
  private visible: TreeNode[] = [];
  private active = 0;
  private filter = "";
  private pending = false;

  constructor(private readonly onSelect: (node: TreeNode) => void) {
    this.element = document.createElement("div");
    this.element.className = "tree";
    this.element.setAttribute("role", "tree");
    this.element.setAttribute("aria-label", "Files of the image");
    this.element.tabIndex = 0;
    this.spacer = document.createElement("div");
    this.spacer.className = "spacer";
    this.element.append(this.spacer);
    this.element.addEventListener("scroll", () => this.schedule());
    this.element.addEventListener("keydown", (e) => this.key(e));
    this.element.addEventListener("click", (e) => this.click(e));
    new ResizeObserver(() => this.schedule()).observe(this.element);
  }

  /** Replaces the tree; the root and its first level start expanded. */
  setRows(rows: readonly TreeRow[]): void {
    this.byPath.clear();
    const sorted = [...rows].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    for (const row of sorted) this.node(row);
    for (const node of this.byPath.values()) node.children.sort((a, b) => Number(b.row.type === "dir") - Number(a.row.type === "dir") || (a.name < b.name ? -1 : 1));
    const root = this.byPath.get("/");
    this.roots = root ? [root] : [];
    if (root) root.expanded = true;
    this.active = 0;
    this.refresh();
  }

  nodeAt(path: string): TreeNode | undefined {
    return this.byPath.get(path);
  }

  /** Shows only paths containing `text` (case-insensitive) and their parents. */
  setFilter(text: string): void {
    this.filter = text.trim().toLowerCase();
    this.active = 0;
    this.refresh();
  }

  expandAll(): void {
    for (const node of this.byPath.values()) if (node.children.length) node.expanded = true;
    this.refresh();
  }

  /** Expands the parents of `path`, moves the cursor there and scrolls it into view. */
  reveal(path: string): void {
    const node = this.byPath.get(path);
    if (!node) return;
    for (let p = node.parent; p; p = p.parent) p.expanded = true;
    this.refresh();
    const index = this.visible.indexOf(node);
    if (index >= 0) this.moveTo(index);
  }

  setFailures(failures: ReadonlyMap<string, string[]>): void {
    for (const node of this.byPath.values()) node.failures = failures.get(node.row.path) ?? [];
    this.refresh();
  }

  private node(row: TreeRow): TreeNode {
    const existing = this.byPath.get(row.path);
    if (existing) {
      existing.row = row;
      return existing;
    }
    const depth = row.path === "/" ? 0 : row.path.split("/").length - 1;
    const node: TreeNode = { row, name: row.path === "/" ? "/" : row.path.slice(row.path.lastIndexOf("/") + 1), depth, children: [], expanded: false, failures: [] };
    this.byPath.set(row.path, node);
    if (row.path !== "/") {
      // Parents missing from the rows (implicit directories) are made up as plain directories.
      const parent = this.byPath.get(parentPath(row.path)) ?? this.node({ path: parentPath(row.path), type: "dir", size: 0, mode: 0o755 });
      node.parent = parent;
      parent.children.push(node);
    }
    return node;
  }

  private refresh(): void {
    const out: TreeNode[] = [];
    if (this.filter) {
      const matches = (n: TreeNode): boolean => {
        const self = n.row.path.toLowerCase().includes(this.filter);
        const below = n.children.filter(matches);
        if (self || below.length) hits.set(n, below);
        return self || below.length > 0;
      };
      const hits = new Map<TreeNode, TreeNode[]>();
      const visit = (n: TreeNode) => {
        out.push(n);
        for (const c of hits.get(n) ?? []) visit(c);
      };
      for (const r of this.roots) if (matches(r)) visit(r);
    } else {
      const visit = (n: TreeNode) => {
        out.push(n);
        if (n.expanded) for (const c of n.children) visit(c);
      };
      for (const r of this.roots) visit(r);
    }
    this.visible = out;
    this.active = Math.min(this.active, Math.max(0, out.length - 1));
    this.spacer.style.height = `${out.length * ROW_HEIGHT}px`;
    this.render();
  }

  private schedule(): void {
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(() => {
      this.pending = false;
      this.render();
    });
  }

  private render(): void {
    const top = this.element.scrollTop;
    const height = this.element.clientHeight || 400;
    const first = Math.max(0, Math.floor(top / ROW_HEIGHT) - OVERSCAN);
    const last = Math.min(this.visible.length, Math.ceil((top + height) / ROW_HEIGHT) + OVERSCAN);
    const rows: HTMLElement[] = [];
    for (let i = first; i < last; i++) rows.push(this.rowElement(this.visible[i]!, i));
    this.spacer.replaceChildren(...rows);
    const current = this.visible[this.active];
    if (current) this.element.setAttribute("aria-activedescendant", `row-${this.active}`);
    else this.element.removeAttribute("aria-activedescendant");
  }

  private rowElement(node: TreeNode, index: number): HTMLElement {
    const { row } = node;
    const el = document.createElement("div");
    el.id = `row-${index}`;
    el.className = "row";
    el.setAttribute("role", "treeitem");
    el.setAttribute("aria-level", String(node.depth + 1));
    el.setAttribute("aria-selected", String(index === this.active));
    const siblings = node.parent?.children ?? this.roots;
    el.setAttribute("aria-setsize", String(siblings.length));
    el.setAttribute("aria-posinset", String(siblings.indexOf(node) + 1));
    const open = this.filter ? true : node.expanded;
    if (node.children.length) el.setAttribute("aria-expanded", String(open));
    el.dataset.path = row.path;
    el.dataset.size = String(row.size);
    el.dataset.type = row.type;
    el.style.top = `${index * ROW_HEIGHT}px`;
    el.style.paddingLeft = `${0.4 + node.depth * 1.1}rem`;
    if (index === this.active) el.classList.add("active");
    if (row.deleted) el.classList.add("deleted");
    if (node.failures.length) el.classList.add("failed");

    const toggle = document.createElement("span");
    toggle.className = "toggle";
    toggle.setAttribute("aria-hidden", "true");
    toggle.textContent = node.children.length ? (open ? "▾" : "▸") : "";
    const name = document.createElement("span");
    name.className = "name";
    name.textContent = row.type === "symlink" ? `${node.name} → ${row.target ?? ""}` : node.name;
    name.title = row.path;
    el.append(toggle, name);
    const badge = changeBadge(row);
    if (badge) el.append(tag(badge, row.deleted ? "badge whiteout" : row.history?.some((c) => c.action === "deleted") ? "badge whiteout" : "badge"));
    if (node.failures.length) el.append(tag("✗ damaged", "badge failure"));
    if (row.dedupChunks) el.append(tag(`${row.dedupChunks}/${row.chunks} dedup`, "badge dedup"));
    const size = document.createElement("span");
    size.className = "size";
    size.textContent = row.type === "file" && !row.deleted ? formatBytes(row.size) : "";
    el.append(size);
    return el;
  }

  private moveTo(index: number): void {
    if (!this.visible.length) return;
    this.active = Math.max(0, Math.min(this.visible.length - 1, index));
    const top = this.active * ROW_HEIGHT;
    const view = this.element;
    if (top < view.scrollTop) view.scrollTop = top;
    else if (top + ROW_HEIGHT > view.scrollTop + view.clientHeight) view.scrollTop = top + ROW_HEIGHT - view.clientHeight;
    this.render();
    this.onSelect(this.visible[this.active]!);
  }

  private toggle(node: TreeNode, open = !node.expanded): void {
    if (!node.children.length || this.filter) return;
    node.expanded = open;
    this.refresh();
  }

  private key(e: KeyboardEvent): void {
    const node = this.visible[this.active];
    if (!node) return;
    const page = Math.max(1, Math.floor(this.element.clientHeight / ROW_HEIGHT) - 1);
    switch (e.key) {
      case "ArrowDown":
        this.moveTo(this.active + 1);
        break;
      case "ArrowUp":
        this.moveTo(this.active - 1);
        break;
      case "PageDown":
        this.moveTo(this.active + page);
        break;
      case "PageUp":
        this.moveTo(this.active - page);
        break;
      case "Home":
        this.moveTo(0);
        break;
      case "End":
        this.moveTo(this.visible.length - 1);
        break;
      case "ArrowRight":
        if (node.children.length && !node.expanded && !this.filter) this.toggle(node, true);
        else if (node.children.length) this.moveTo(this.active + 1);
        break;
      case "ArrowLeft":
        if (node.expanded && node.children.length && !this.filter) this.toggle(node, false);
        else if (node.parent) this.moveTo(this.visible.indexOf(node.parent));
        break;
      case "Enter":
      case " ":
        this.toggle(node);
        this.onSelect(node);
        break;
      default:
        return;
    }
    e.preventDefault();
  }

  private click(e: MouseEvent): void {
    const el = (e.target as HTMLElement).closest<HTMLElement>(".row");
    if (!el) return;
    const index = Number(el.id.slice("row-".length));
    const node = this.visible[index];
    if (!node) return;
    if ((e.target as HTMLElement).classList.contains("toggle") || index === this.active) this.toggle(node);
    this.active = index;
    this.render();
    this.onSelect(node);
  }
}

function tag(text: string, className: string): HTMLElement {
  const el = document.createElement("span");
  el.className = className;
  el.textContent = text;
  return el;
}
