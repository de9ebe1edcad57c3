/**
 * `strata mount --lazy IMAGE MOUNTPOINT`: the image served by strata itself over FUSE. Only the
 * bootstrap is read up front; each file read fetches, verifies and caches just the chunks it
 * touches, so programs start before the image is downloaded. Runs in the foreground until
 * unmounted (`strata umount`, SIGTERM), or detaches into a background process.
 */
import { StrataError } from "../../errors.js";
import { fuseSession } from "../../fuse/session.js";
import { rafsFs } from "../../fuse/rafs-fs.js";
import { rafsKernels } from "../../kernels/index.js";
import { openLazy } from "../../lazy/image.js";
import { openNydus } from "../../nydus/image.js";
import { ociKernels } from "../../oci/kernels.js";
import type { OptionSpec, ParsedArgs } from "../args.js";
import { Exit, positionals, type CliContext } from "../main.js";
import { registryOptions } from "./registry.js";

/** The options `strata mount` takes for --lazy, beside its own (--cache-dir, --platform, the registry options). */
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

  const image = await openNydus(ctx.ports, src!, {
    kernels: ociKernels(ctx.ports),
    platform: args.values.get("platform"),
    blobsDir: args.values.get("blobs-dir"),
    registry: await registryOptions(args, ctx),
    lazyBlobs: true,
  });
  const cacheDir = args.values.get("cache-dir") ?? defaultChunkCache(ctx);
  const diskCache = ctx.ports.chunkCache ? await ctx.ports.chunkCache(cacheDir) : undefined;
  const lazy = openLazy(image, { kernels: await rafsKernels(ctx.ports), diskCache });
  const report = (e: unknown) => ctx.stderr(`strata: ${mountpoint}: ${e instanceof Error ? e.message : String(e)}\n`);
  const session = fuseSession(rafsFs(lazy.rafs, lazy), { readTimeoutMs: readTimeout * 1000, onError: report });
  const served = await fuse.serve(mountpoint!, session, { source: src!, pidFile: args.values.get("pid-file"), onError: report });
  ctx.stderr(`strata: serving ${src} at ${mountpoint}\n`);
  if (args.flags.has("prefetch")) {
    lazy.warm().then((w) => ctx.stderr(`strata: prefetched ${w.files} files (${w.chunks} chunks, ${w.bytes} bytes)\n`), report);
  }
  await served.closed;
  // What the mount cost: benches and users read it from the server's stderr.
  const bootstrapLayerBytes = image.oci?.layerSizes.get(image.oci.bootstrapLayer.index);
  ctx.stderr(`strata: unmounted ${mountpoint}; ${JSON.stringify({ stats: lazy.stats(), bootstrapLayerBytes })}\n`);
  return Exit.OK;
}

/** $XDG_CACHE_HOME/strata/chunks, else /var/cache/strata/chunks (mounts run as root): shared by every lazy mount. */
function defaultChunkCache(ctx: CliContext): string {
  const xdg = ctx.ports.env?.("XDG_CACHE_HOME");
  return xdg ? `${xdg}/strata/chunks` : "/var/cache/strata/chunks";
}

/** The same mount, to be served in the foreground by the detached process. */
function daemonArgs(args: ParsedArgs): string[] {
  const out = ["mount", ...args.positionals, "--foreground"];
  for (const flag of args.flags) if (flag !== "json") out.push(`--${flag}`);
  for (const [name, value] of args.values) out.push(`--${name}=${value}`);
  for (const [name, values] of args.lists) for (const value of values) out.push(`--${name}=${value}`);
  return out;
}
