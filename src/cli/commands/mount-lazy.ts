/**
 * `strata mount --lazy IMAGE MOUNTPOINT`: the image served by strata itself over FUSE. Only the
 * bootstrap is read up front; each file read fetches, verifies and caches just the chunks it
 * touches, so programs start before the image is downloaded. Runs in the foreground until
 * unmounted (`strata umount`, SIGTERM), or detaches into a background process.
 */
import { StrataError } from "../../errors.js";
import { fuseSession } from "../../fuse/session.js";
import { nydusChunkSource } from "../../fuse/chunk-source.js";
import { rafsFs } from "../../fuse/rafs-fs.js";
import { rafsKernels } from "../../kernels/index.js";
import { openNydus, requireRafs } from "../../nydus/image.js";
import { ociKernels } from "../../oci/kernels.js";
import type { OptionSpec, ParsedArgs } from "../args.js";
import { Exit, positionals, type CliContext } from "../main.js";

/** The options `strata mount` takes for --lazy, beside its own. */
export const lazyMountOptions: Record<string, OptionSpec> = {
  lazy: { kind: "flag", describe: "serve the image over FUSE, fetching chunks as they are read (Linux, root, /dev/fuse)" },
  prefetch: { kind: "flag", describe: "with --lazy: fetch the bootstrap's prefetch table in the background" },
  foreground: { kind: "flag", describe: "with --lazy: serve from this process until unmounted (default: detach)" },
  "pid-file": { kind: "string", describe: "with --lazy: write the serving process's pid here (removed on unmount)" },
  "read-timeout": { kind: "string", describe: "with --lazy: seconds after which an unanswered read fails with EIO (default 60)" },
};

export async function mountLazy(args: ParsedArgs, ctx: CliContext): Promise<number> {
  const [src, mountpoint] = positionals(args, 2, "IMAGE MOUNTPOINT");
  const fuse = ctx.ports.fuse;
  if (!fuse) throw new StrataError("UNSUPPORTED", "lazy mounts need Linux, /dev/fuse and a runtime that can serve FUSE (Node)");
  const readTimeout = Number(args.values.get("read-timeout") ?? 60);
  if (!(readTimeout > 0)) throw new StrataError("INVALID_ARGUMENT", `--read-timeout must be a positive number of seconds, not ${args.values.get("read-timeout")}`);

  if (!args.flags.has("foreground")) {
    const pid = await fuse.background(daemonArgs(args), mountpoint!);
    ctx.stdout(`mounted ${src} at ${mountpoint} (lazy, served by pid ${pid})\n`);
    return Exit.OK;
  }

  const image = await openNydus(ctx.ports, src!, { kernels: ociKernels(ctx.ports), platform: args.values.get("platform"), blobsDir: args.values.get("blobs-dir") });
  const rafs = requireRafs(image);
  const chunks = nydusChunkSource(image, rafs, await rafsKernels(ctx.ports));
  const fs = rafsFs(rafs, chunks);
  const report = (e: unknown) => ctx.stderr(`strata: ${mountpoint}: ${e instanceof Error ? e.message : String(e)}\n`);
  const session = fuseSession(fs, { readTimeoutMs: readTimeout * 1000, onError: report });
  const served = await fuse.serve(mountpoint!, session, { source: src!, pidFile: args.values.get("pid-file"), onError: report });
  ctx.stderr(`strata: serving ${src} at ${mountpoint}\n`);
  if (args.flags.has("prefetch")) void prefetch(rafs.prefetch, fs, report);
  await served.closed;
  return Exit.OK;
}

const PREFETCH_PIECE = 4 << 20;

/** Reads every file the prefetch table names (directories: everything under them), one at a time. */
async function prefetch(paths: readonly string[], fs: ReturnType<typeof rafsFs>, report: (e: unknown) => void): Promise<void> {
  const seen = new Set<number>();
  const visit = async (node: number): Promise<void> => {
    if (seen.has(node)) return;
    seen.add(node);
    const attr = fs.getattr(node);
    if (!attr) return;
    if ((attr.mode & 0o170000) === 0o100000) for (let at = 0; at < attr.size; at += PREFETCH_PIECE) await fs.read(node, at, PREFETCH_PIECE);
    for (const entry of fs.readdir(node)) await visit(entry.node);
  };
  for (const path of paths) {
    let node: number | undefined = 1;
    for (const name of path.split("/").filter(Boolean)) node = node === undefined ? undefined : fs.lookup(node, name);
    if (node === undefined) continue;
    await visit(node).catch(report);
  }
}

/** The same mount, to be served in the foreground by the detached process. */
function daemonArgs(args: ParsedArgs): string[] {
  const out = ["mount", ...args.positionals, "--foreground"];
  for (const flag of args.flags) if (flag !== "json") out.push(`--${flag}`);
  for (const [name, value] of args.values) out.push(`--${name}=${value}`);
  return out;
}
