/**
 * `strata mount IMAGE MOUNTPOINT`: the kernel's EROFS driver mounts the bootstrap with every blob
 * as an uncompressed device (read-only loop devices), as nydus-snapshotter's block mode does.
 * The device files live in a cache directory, named by blob id and reused by later mounts.
 */
import { StrataError } from "../../errors.js";
import { rafsKernels } from "../../kernels/index.js";
import { createNativeSha256, createSha256 } from "../../kernels/sha256.js";
import { requireSoundRafs, writeBlobDevices } from "../../nydus/devices.js";
import { openNydus, type NydusImage } from "../../nydus/image.js";
import { ociKernels } from "../../oci/kernels.js";
import { hex } from "../../oci/verify.js";
import type { ParsedArgs } from "../args.js";
import { Exit, positionals, type CliContext, type Command } from "../main.js";
import { lazyMountOptions, mountLazy } from "./mount-lazy.js";
import { REGISTRY_OPTIONS, registryOptions } from "./registry.js";
import { mib, needFiles } from "./shared.js";

export const mountCommand: Command = {
  summary: "mount a Nydus image with the kernel's EROFS driver over loop devices (Linux, root)",
  usage: "IMAGE MOUNTPOINT [--cache-dir DIR] [--lazy [--prefetch] [--foreground | --pid-file F]]   (IMAGE: oci:DIR[:TAG], oci-archive:FILE, docker-archive:FILE, or a bare bootstrap file)",
  options: {
    "cache-dir": { kind: "string", describe: "where blob device files and bootstraps are kept (default $XDG_CACHE_HOME/strata/devices, else /var/cache/strata/devices); with --lazy: the chunk cache (default .../strata/chunks)" },
    platform: { kind: "string", describe: "os/arch[/variant] to pick from an index" },
    "blobs-dir": { kind: "string", describe: "for a bare bootstrap: the directory holding its blobs" },
    json: { kind: "flag", describe: "print what was mounted as JSON" },
    ...REGISTRY_OPTIONS,
    ...lazyMountOptions,
  },
  run: (args, ctx) => (args.flags.has("lazy") ? mountLazy(args, ctx) : mountBlockDevices(args, ctx)),
};

async function mountBlockDevices(args: ParsedArgs, ctx: CliContext): Promise<number> {
  const [src, mountpoint] = positionals(args, 2, "IMAGE MOUNTPOINT");
  const kernel = ctx.ports.mount;
  if (!kernel) throw new StrataError("UNSUPPORTED", "kernel mounts need Linux and a runtime that can run losetup and mount (Node)");
  const files = needFiles(ctx);
  const cacheDir = args.values.get("cache-dir") ?? defaultCacheDir(ctx);
  const image = await openNydus(ctx.ports, src!, { kernels: ociKernels(ctx.ports), platform: args.values.get("platform"), blobsDir: args.values.get("blobs-dir"), registry: await registryOptions(args, ctx) });
  if (requireSoundRafs(image).version !== 6) throw new StrataError("UNSUPPORTED", `${src}: the kernel mounts RAFS v6 (EROFS) bootstraps only, this one is RAFS v5`);
  const bootDigest = hex((createNativeSha256(ctx.ports) ?? (await createSha256(ctx.ports))).digest(image.bootstrap));
  // Named by blob id and the fingerprint of the chunk records the device holds: shared by every
  // image whose bootstrap describes the blob's chunks the same way, never by others.
  const name = (blobId: string, fingerprint: string) => `${blobId}.${fingerprint}.dev`;
  const devices = await writeBlobDevices(image, cacheDir, files, await rafsKernels(ctx.ports), { name, reuse: true });
  const bootstrap = await writeBootstrap(image, `${cacheDir}/${bootDigest}.boot`, files);
  const made = await kernel.mount({ bootstrap, devices: devices.map((d) => d.path), mountpoint: mountpoint! });
  if (args.flags.has("json")) ctx.stdout(JSON.stringify({ image: src, ...made, bootstrap, devices }) + "\n");
  else {
    ctx.stdout(`mounted ${src} at ${made.mountpoint} (EROFS on ${made.bootstrapLoop})\n`);
    devices.forEach((d, i) => ctx.stdout(`  ${made.deviceLoops[i]}  ${d.path}  ${mib(d.size)}${d.reused ? " (cached)" : ""}\n`));
  }
  return Exit.OK;
}

/** $XDG_CACHE_HOME/strata/devices, else /var/cache/strata/devices (mounts run as root). */
function defaultCacheDir(ctx: CliContext): string {
  const xdg = ctx.ports.env?.("XDG_CACHE_HOME");
  return xdg ? `${xdg}/strata/devices` : "/var/cache/strata/devices";
}

/** The bootstrap file, named by its digest: kept when already there. */
async function writeBootstrap(image: NydusImage, path: string, { files, output }: ReturnType<typeof needFiles>): Promise<string> {
  if ((await files.stat(path))?.size === image.bootstrap.length) return path;
  const pending = await output.create(path);
  try {
    await pending.write(image.bootstrap);
    await pending.commit();
  } catch (e) {
    await pending.abort();
    throw e;
  }
  return path;
}
