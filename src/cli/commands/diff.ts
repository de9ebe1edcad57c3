/** `strata diff ROOTFS IMAGE`: what changed in an unpacked directory; exit 1 when anything did. */
import { ociDiffImage, diffTree, type DiffImage, type Difference } from "../../diff/diff.js";
import { StrataError } from "../../errors.js";
import { rafsKernels } from "../../kernels/index.js";
import { ociKernels } from "../../oci/kernels.js";
import { openImage } from "../../oci/open.js";
import { openNydus, requireRafs } from "../../nydus/image.js";
import { Annotation } from "../../rafs/layout.js";
import { Exit, positionals, type CliContext, type Command } from "../main.js";
import { cliEvents, eventsOption } from "./events.js";

const MARK: Record<Difference["change"], string> = { added: "A", removed: "D", modified: "M", changed: "C" };

export const diffCommand: Command = {
  summary: "compare an unpacked directory with an image: added, removed, modified and changed paths",
  usage: "ROOTFS IMAGE   (IMAGE: a Nydus image — oci:DIR[:TAG], oci-archive:FILE, docker-archive:FILE, a bare bootstrap — or a plain OCI image)",
  options: {
    quick: { kind: "flag", describe: "compare metadata and sizes only (same-size content edits go unnoticed)" },
    platform: { kind: "string", describe: "os/arch[/variant] to pick from an index" },
    "blobs-dir": { kind: "string", describe: "for a bare bootstrap: the directory holding its blobs" },
    events: eventsOption,
    json: { kind: "flag", describe: "print the report as JSON" },
  },
  async run(args, ctx) {
    const [rootfs, src] = positionals(args, 2, "ROOTFS IMAGE") as [string, string];
    const tree = ctx.ports.tree;
    if (!tree) throw new StrataError("UNSUPPORTED", "this runtime cannot read directory trees");
    const events = cliEvents(args, ctx);
    const quick = args.flags.has("quick");
    const image = await diffImage(ctx, src, args.values.get("platform"), args.values.get("blobs-dir"), quick);
    const report = await events.run((sink) => diffTree(tree, rootfs, image, { quick, events: sink }));
    const out = events.ctx;
    if (args.flags.has("json")) {
      out.stdout(JSON.stringify(report) + "\n");
    } else {
      if (!report.xattrs) out.stderr("warning: xattrs not compared (they need getfattr, from the attr package, and leave to run it)\n");
      for (const d of report.differences) out.stdout(`${MARK[d.change]} ${d.path}${describe(d)}\n`);
    }
    return report.identical ? Exit.OK : Exit.CHECK_FAILED;
  },
};

/** The image's tree and digester: a Nydus image's bootstrap, or a plain OCI image flattened and hashed. */
async function diffImage(ctx: CliContext, src: string, platform: string | undefined, blobsDir: string | undefined, quick: boolean): Promise<DiffImage> {
  const { ports } = ctx;
  const kernels = ociKernels(ports);
  const rafs = await rafsKernels(ports);
  // A bare bootstrap, or an index openImage cannot pick from (merged platforms: openNydus picks the Nydus manifest).
  const oci = /^(oci|oci-archive|docker-archive):/.test(src) ? await openImage(ports, src, { kernels, platform }).catch(() => undefined) : undefined;
  const lastLayer = oci && (await oci.manifest()).layers.at(-1);
  if (oci && lastLayer?.annotations?.[Annotation.NYDUS_BOOTSTRAP] !== "true") return ociDiffImage(oci, rafs.hasher("blake3"), quick);
  const image = requireRafs(await openNydus(ports, src, { kernels, platform, blobsDir }));
  return { root: image.root, hasher: rafs.hasher(image.digester) };
}

function describe(d: Difference): string {
  if (d.fields.length === 0) return "";
  const parts = d.fields.map((f) => {
    if (f === "content") return d.chunks ? `content (chunks ${d.chunks.join(",")})` : "content";
    return `${f} ${show(d.image?.[f])} → ${show(d.disk?.[f])}`;
  });
  return `  (${parts.join(", ")})`;
}

function show(value: unknown): string {
  return Array.isArray(value) ? `[${value.join(",")}]` : String(value);
}
