// <strata-inspector>: a custom element (shadow DOM, no framework) that opens a container image
// from picked or dropped files or a registry, and shows its layers, flattened tree, chunks,
// dedup totals, verify results and file previews. The heavy work runs in worker.js next to it.
import type { ChunkRow, FailureRow, ImageSummary, Reply, Request, TreeRow } from "./protocol.js";
import { changeBadge, formatBytes, TreeView, type TreeNode } from "./tree.js";
import { STYLE } from "./style.js";

type Pending = { resolve(reply: Reply): void; progress?(reply: Extract<Reply, { type: "progress" }>): void };
/** A request before it is numbered (Omit distributed over the union). */
type Unnumbered<T> = T extends unknown ? Omit<T, "id"> : never;
type Ask = Unnumbered<Request>;

const TEMPLATE = `
<style>${STYLE}</style>
<header>
  <h1>strata inspector</h1>
  <div class="open">
    <label class="button" for="files">Open files…</label>
    <input id="files" type="file" multiple class="visually-hidden">
    <form class="registry" aria-label="Open from a registry">
      <input name="reference" type="text" placeholder="docker://registry.example/repo:tag" aria-label="Image reference" required>
      <input name="token" type="password" placeholder="bearer token (optional)" aria-label="Bearer token" autocomplete="off">
      <label class="check"><input name="insecure" type="checkbox"> plain HTTP</label>
      <button type="submit">Open</button>
    </form>
  </div>
  <div class="status-line">
    <span id="status" role="status" aria-live="polite">Drop an oci-archive, a docker-archive, or a Nydus bootstrap with its blobs here.</span>
    <progress id="progress" hidden></progress>
  </div>
</header>
<main>
  <section class="files" aria-label="Files">
    <div class="tree-bar">
      <input id="filter" type="search" placeholder="Filter paths" aria-label="Filter paths" disabled>
      <button id="expand" type="button" disabled>Expand all</button>
      <button id="verify" type="button" disabled>Verify</button>
    </div>
    <p id="stats" class="stats"></p>
    <div id="tree-slot"></div>
  </section>
  <section class="details" aria-label="Details">
    <details id="file-panel" open><summary>File</summary><div id="file"><p class="muted">Select a file in the tree.</p></div></details>
    <details id="verify-panel"><summary>Verify</summary><div id="verify-result"><p class="muted">Not run.</p></div></details>
    <details id="image-panel" open><summary>Image</summary><div id="image"></div></details>
  </section>
</main>`;

export class StrataInspector extends HTMLElement {
  private readonly root: ShadowRoot;
  private worker?: Worker;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly tree: TreeView;
  private summary?: ImageSummary;
  private selected?: TreeNode;

  constructor() {
    super();
    this.root = this.attachShadow({ mode: "open" });
    this.root.innerHTML = TEMPLATE;
    this.tree = new TreeView((node) => this.select(node));
    this.$("#tree-slot").replaceWith(this.tree.element);
    this.$<HTMLInputElement>("#files").addEventListener("change", (e) => {
      const input = e.target as HTMLInputElement;
      if (input.files?.length) void this.openFiles([...input.files]);
      input.value = "";
    });
    this.$<HTMLFormElement>(".registry").addEventListener("submit", (e) => {
      e.preventDefault();
      const form = new FormData(e.target as HTMLFormElement);
      void this.openRegistry(String(form.get("reference")), String(form.get("token") ?? "") || undefined, form.get("insecure") === "on");
    });
    let typing: ReturnType<typeof setTimeout> | undefined;
    const filter = this.$<HTMLInputElement>("#filter");
    filter.addEventListener("input", () => {
      clearTimeout(typing);
      typing = setTimeout(() => this.tree.setFilter(filter.value), 120);
    });
    this.$("#expand").addEventListener("click", () => this.tree.expandAll());
    this.$("#verify").addEventListener("click", () => void this.verify());
    this.addEventListener("dragover", (e) => {
      e.preventDefault();
      this.toggleAttribute("data-dragging", true);
    });
    this.addEventListener("dragleave", () => this.toggleAttribute("data-dragging", false));
    this.addEventListener("drop", (e) => {
      e.preventDefault();
      this.toggleAttribute("data-dragging", false);
      const files = [...(e.dataTransfer?.files ?? [])];
      if (files.length) void this.openFiles(files);
    });
  }

  disconnectedCallback(): void {
    this.worker?.terminate();
    this.settleAll("the inspector was removed from the page");
  }

  /** Opens an oci-archive or docker-archive tar, or a Nydus bootstrap with its blob files. */
  async openFiles(files: File[]): Promise<void> {
    await this.open({ type: "open-files", files }, files.map((f) => f.name).join(", "));
  }

  /** Opens docker://HOST/REPO[:TAG|@DIGEST] (the registry must allow this origin: docs/INSPECTOR.md). */
  async openRegistry(reference: string, token?: string, insecure = false): Promise<void> {
    await this.open({ type: "open-registry", reference, token, insecure }, reference);
  }

  /** Verifies the open image and marks every damaged path in the tree. */
  async verify(): Promise<void> {
    if (!this.summary) return;
    this.state("verifying", "Verifying…");
    this.$<HTMLButtonElement>("#verify").disabled = true;
    const progress = this.$<HTMLProgressElement>("#progress");
    progress.hidden = false;
    progress.removeAttribute("value");
    const reply = await this.ask({ type: "verify" }, (p) => {
      progress.max = Math.max(1, p.total);
      progress.value = p.done;
      this.status(`Verifying: ${p.phase} ${p.done}/${p.total}`);
    });
    progress.hidden = true;
    this.$<HTMLButtonElement>("#verify").disabled = false;
    if (reply.type !== "verified") return this.fail(reply);
    this.showVerify(reply.ok, reply.failures, reply.checked);
    this.state(reply.ok ? "verified" : "damaged", reply.ok ? `Verified: ${reply.checked}.` : `Verify found ${reply.failures.length} problem(s): ${reply.checked}.`);
    this.dispatchEvent(new CustomEvent("strata-verified", { detail: { ok: reply.ok, failures: reply.failures } }));
  }

  private async open(request: Ask, what: string): Promise<void> {
    this.state("opening", `Opening ${what}…`);
    const progress = this.$<HTMLProgressElement>("#progress");
    progress.hidden = false;
    progress.removeAttribute("value");
    const reply = await this.ask(request, (p) => {
      progress.max = Math.max(1, p.total);
      progress.value = p.done;
      this.status(`Opening ${what}: ${p.phase} ${p.done}/${p.total}`);
    });
    progress.hidden = true;
    if (reply.type !== "opened") return this.fail(reply);
    this.summary = reply.image;
    this.selected = undefined;
    this.tree.setRows(reply.rows);
    for (const id of ["#filter", "#expand", "#verify"]) this.$<HTMLInputElement>(id).disabled = false;
    this.$<HTMLInputElement>("#filter").value = "";
    const { stats } = reply.image;
    const stat = this.$("#stats");
    stat.textContent = `${stats.entries} entries · ${stats.files} files · ${stats.dirs} directories · ${formatBytes(stats.bytes)}`;
    Object.assign(stat.dataset, { entries: stats.entries, files: stats.files, dirs: stats.dirs, bytes: stats.bytes });
    this.showImage(reply.image, reply.rows);
    this.$("#file").replaceChildren(el("p", "Select a file in the tree.", "muted"));
    this.$("#verify-result").replaceChildren(el("p", "Not run.", "muted"));
    this.state("ready", `Opened ${reply.image.name} (${reply.image.kind === "nydus" ? "Nydus" : "OCI"}).`);
    this.dispatchEvent(new CustomEvent("strata-opened", { detail: reply.image }));
  }

  private ask(request: Ask, progress?: Pending["progress"]): Promise<Reply> {
    const worker = (this.worker ??= this.startWorker());
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.pending.set(id, { resolve, progress });
      worker.postMessage({ ...request, id } as Request);
    });
  }

  private startWorker(): Worker {
    const url = this.getAttribute("worker-src") ?? new URL("./worker.js", import.meta.url).href;
    const worker = new Worker(url, { type: "module", name: "strata-inspector" });
    worker.onmessage = (e: MessageEvent<Reply>) => {
      const reply = e.data;
      const waiting = this.pending.get(reply.id);
      if (!waiting) return;
      if (reply.type === "progress") return waiting.progress?.(reply);
      this.pending.delete(reply.id);
      waiting.resolve(reply);
    };
    // A worker that failed to load answers nothing: settle everything that waits on it.
    worker.onerror = (e) => this.settleAll(`the worker failed: ${e.message || "could not load worker.js"}`);
    return worker;
  }

  /** Answers every open request with an error and forgets the worker (and the image it held). */
  private settleAll(message: string): void {
    for (const [id, waiting] of this.pending) waiting.resolve({ id, type: "error", message });
    this.pending.clear();
    this.worker = undefined;
  }

  private fail(reply: Reply): void {
    const message = reply.type === "error" ? `${reply.code ? `${reply.code}: ` : ""}${reply.message}` : `unexpected answer ${reply.type}`;
    this.$<HTMLProgressElement>("#progress").hidden = true;
    this.state("error", message);
    this.dispatchEvent(new CustomEvent("strata-error", { detail: { message } }));
  }

  private state(state: string, message: string): void {
    this.dataset.state = state;
    this.status(message);
  }

  private status(message: string): void {
    const status = this.$("#status");
    status.textContent = message;
    status.classList.toggle("error", this.dataset.state === "error" || this.dataset.state === "damaged");
  }

  private showImage(image: ImageSummary, rows: readonly TreeRow[]): void {
    const box = this.$("#image");
    const parts: Node[] = [el("p", `${image.kind === "nydus" ? "Nydus RAFS" : "OCI"} image · ${image.name}`)];
    if (image.layers.length) {
      parts.push(
        table(
          ["#", "size", image.kind === "oci" ? "changes" : "role", "media type", "digest"],
          image.layers.map((l) => [String(l.index), formatBytes(l.size), image.kind === "oci" ? layerChanges(rows, l.index) : (l.role ?? ""), l.mediaType, short(l.digest)]),
          "Layers",
        ),
      );
    }
    if (image.bootstrap) {
      const b = image.bootstrap;
      parts.push(el("p", `RAFS v${b.version} · bootstrap ${formatBytes(b.size)} · ${formatBytes(b.chunkSize)} chunks · ${b.compressor} · ${b.digester}`));
    }
    if (image.dedup) {
      const d = image.dedup;
      const dedup = el("div", "", "dedup");
      dedup.append(
        el("h2", "Deduplication"),
        el("p", `${d.references} chunk references, ${d.distinct} distinct · ${d.deduplicated} chunks shared, saving ${formatBytes(d.deduplicatedBytes)} · ${formatBytes(d.compressedBytes)} stored for ${formatBytes(d.uncompressedBytes)}`),
      );
      parts.push(dedup);
    }
    if (image.blobs?.length) {
      parts.push(
        table(
          ["blob", "stored", "uncompressed", "chunks used"],
          image.blobs.map((b) => [short(b.blobId), formatBytes(b.storedSize ?? b.compressedSize), formatBytes(b.uncompressedSize), `${b.chunksUsed}/${b.chunkCount}`]),
          "Blobs",
        ),
      );
    }
    if (image.manifest) parts.push(jsonBlock("Manifest", image.manifest));
    if (image.config) parts.push(jsonBlock("Config", image.config));
    box.replaceChildren(...parts);
  }

  private async select(node: TreeNode): Promise<void> {
    this.selected = node;
    const { row } = node;
    const box = this.$("#file");
    const facts: [string, string][] = [
      ["path", row.path],
      ["type", row.type],
      ["size", row.type === "file" && !row.deleted ? `${formatBytes(row.size)} (${row.size} bytes)` : "—"],
      ["mode", row.deleted ? "—" : row.mode.toString(8).padStart(4, "0")],
    ];
    if (row.target !== undefined) facts.push(["target", row.target]);
    if (row.linkTo !== undefined) facts.push(["hardlink to", row.linkTo]);
    if (row.deleted) facts.push(["status", changeBadge(row)]);
    const list = el("dl");
    for (const [k, v] of facts) list.append(el("dt", k), el("dd", v));
    const parts: Node[] = [list];
    if (row.history?.length) {
      const history = el("ol", "", "history");
      history.setAttribute("aria-label", "Layer history");
      for (const c of row.history) history.append(el("li", `layer ${c.layer}: ${c.action}`, c.action === "deleted" ? "whiteout" : ""));
      parts.push(el("h2", "Layers"), history);
    }
    if (node.failures.length) parts.push(el("h2", "Verify failures"), ...node.failures.map((m) => el("p", m, "failure")));
    box.replaceChildren(...parts);
    if (row.type !== "file" || row.deleted) return;
    // Arrowing through the tree selects every row on the way: read only where the cursor rests.
    await new Promise((settle) => setTimeout(settle, 150));
    if (this.selected !== node) return;
    if (row.chunks) {
      const reply = await this.ask({ type: "chunks", path: row.path });
      if (this.selected !== node) return;
      if (reply.type === "chunks") box.append(chunkTable(reply.chunks));
    }
    const preview = el("pre", "Reading…", "preview");
    preview.tabIndex = 0;
    preview.setAttribute("aria-label", `Preview of ${row.path}`);
    box.append(el("h2", "Preview"), preview);
    const reply = await this.ask({ type: "preview", path: row.path });
    if (this.selected !== node) return;
    if (reply.type === "preview") {
      preview.textContent = reply.text ?? reply.hex ?? "";
      preview.classList.toggle("binary", reply.text === undefined);
      const shown = reply.bytes < reply.size ? `first ${formatBytes(reply.bytes)} of ${formatBytes(reply.size)}` : `${formatBytes(reply.size)}`;
      preview.before(el("p", `${reply.text === undefined ? "binary, hex of the start" : "text"} · ${shown}`, "muted"));
    } else if (reply.type === "error") {
      preview.textContent = reply.message;
      preview.classList.add("failure");
    }
  }

  private showVerify(ok: boolean, failures: readonly FailureRow[], checked: string): void {
    const marks = new Map<string, string[]>();
    const mark = (path: string, message: string) => marks.set(path, [...(marks.get(path) ?? []), message]);
    const layerPaths = (layer: number) => [...this.allRows()].filter((r) => r.history?.some((c) => c.layer === layer && c.action !== "deleted")).map((r) => r.path);
    for (const f of failures) {
      if (f.path !== undefined) mark(f.path, f.message);
      else if (f.layer !== undefined && this.summary?.kind === "oci") for (const p of layerPaths(f.layer)) mark(p, f.message);
    }
    this.tree.setFailures(marks);
    const box = this.$("#verify-result");
    const items = failures.map((f) => {
      const item = el("li", `${f.check}: ${f.message}`, "failure");
      if (f.path !== undefined) {
        const go = el("button", `show ${f.path}`);
        go.type = "button";
        go.addEventListener("click", () => this.tree.reveal(f.path!));
        item.append(" ", go);
      }
      return item;
    });
    const list = el("ul", "", "failures");
    list.append(...items);
    box.replaceChildren(el("p", ok ? `✓ sound: ${checked}` : `✗ ${failures.length} failure(s): ${checked}`, ok ? "ok" : "failure"), ...(items.length ? [list] : []));
    this.$<HTMLDetailsElement>("#verify-panel").open = true;
  }

  private *allRows(): Iterable<TreeRow> {
    const stack = this.tree.nodeAt("/") ? [this.tree.nodeAt("/")!] : [];
    while (stack.length) {
      const n = stack.pop()!;
      yield n.row;
      stack.push(...n.children);
    }
  }

  private $<T extends HTMLElement = HTMLElement>(selector: string): T {
    return this.root.querySelector<T>(selector)!;
  }
}

function el<K extends keyof HTMLElementTagNameMap>(tag: K, text = "", className = ""): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (text) e.textContent = text;
  if (className) e.className = className;
  return e;
}

const short = (digest: string) => (digest.length > 23 ? `${digest.slice(0, 19)}…` : digest);

function table(head: string[], rows: string[][], caption: string): HTMLElement {
  const wrap = el("div", "", "table-wrap");
  const t = el("table");
  t.append(el("caption", caption));
  const tr = el("tr");
  tr.append(...head.map((h) => el("th", h)));
  t.append(tr);
  for (const r of rows) {
    const line = el("tr");
    line.append(...r.map((c) => el("td", c)));
    t.append(line);
  }
  wrap.append(t);
  return wrap;
}

function chunkTable(chunks: readonly ChunkRow[]): HTMLElement {
  return table(
    ["#", "blob", "chunk", "stored", "size", "file offset", "dedup"],
    chunks.map((c, i) => [String(i), short(c.blobId), String(c.index), c.compressed ? formatBytes(c.compressedSize) : `${formatBytes(c.compressedSize)} (raw)`, formatBytes(c.uncompressedSize), String(c.fileOffset), c.deduplicated ? "shared" : "—"]),
    `${chunks.length} chunks`,
  );
}

function layerChanges(rows: readonly TreeRow[], layer: number): string {
  const count = { added: 0, replaced: 0, deleted: 0 };
  for (const r of rows) for (const c of r.history ?? []) if (c.layer === layer && c.action !== "opaque") count[c.action]++;
  return `+${count.added} ~${count.replaced} −${count.deleted}`;
}

function jsonBlock(title: string, value: unknown): HTMLElement {
  const d = el("details");
  const pre = el("pre", JSON.stringify(value, null, 2), "json");
  pre.tabIndex = 0;
  d.append(el("summary", title), pre);
  return d;
}

if (!customElements.get("strata-inspector")) customElements.define("strata-inspector", StrataInspector);

declare global {
  interface HTMLElementTagNameMap {
    "strata-inspector": StrataInspector;
  }
}
