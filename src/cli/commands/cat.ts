/** `strata cat IMAGE PATH`: one file of a Nydus image, fetching only the chunks it needs. */
import { StrataError } from "../../errors.js";
import { rafsKernels } from "../../kernels/index.js";
import { openLazy } from "../../lazy/image.js";
import { openNydus } from "../../nydus/image.js";
import { ociKernels } from "../../oci/kernels.js";
import { Exit, positionals, type Command } from "../main.js";
import { REGISTRY_OPTIONS, registryOptions } from "./registry.js";

/** Bytes read and written per step, so a large file streams through bounded memory. */
const WINDOW = 8 << 20;

export const catCommand: Command = {
  summary: "write a file of a Nydus image to stdout, fetching only the chunks it needs",
  usage: "IMAGE PATH   (IMAGE: oci:DIR[:TAG], docker://HOST/REPO[:TAG|@DIGEST], oci-archive:FILE, docker-archive:FILE, or a bare bootstrap file)",
  options: {
    offset: { kind: "string", describe: "first byte to write (default 0)" },
    length: { kind: "string", describe: "bytes to write (default: to the end of the file)" },
    stats: { kind: "flag", describe: "print requests, bytes fetched and cache hits to stderr" },
    "cache-dir": { kind: "string", describe: "a chunk cache directory kept across runs (shared safely by several processes)" },
    platform: { kind: "string", describe: "os/arch[/variant] to pick from an index" },
    "blobs-dir": { kind: "string", describe: "for a bare bootstrap: the directory holding its blobs" },
    json: { kind: "flag", describe: "print --stats (and errors) as JSON" },
    ...REGISTRY_OPTIONS,
  },
  async run(args, ctx) {
    const [src, path] = positionals(args, 2, "IMAGE PATH");
    const { ports } = ctx;
    if (!ctx.stdoutBytes) throw new StrataError("UNSUPPORTED", "this runtime's stdout takes text only");
    const offset = byteCount(args.values.get("offset"), "--offset") ?? 0;
    const length = byteCount(args.values.get("length"), "--length") ?? Infinity;
    const cacheDir = args.values.get("cache-dir");
    if (cacheDir !== undefined && !ports.chunkCache) throw new StrataError("UNSUPPORTED", "this runtime has no files for --cache-dir");

    const image = await openNydus(ports, src!, {
      kernels: ociKernels(ports),
      platform: args.values.get("platform"),
      blobsDir: args.values.get("blobs-dir"),
      registry: await registryOptions(args, ctx),
      lazyBlobs: true,
    });
    const lazy = openLazy(image, { kernels: await rafsKernels(ports), diskCache: cacheDir === undefined ? undefined : await ports.chunkCache!(cacheDir) });
    const file = lazy.resolve(path!);
    if (!file.inode.chunks) throw new StrataError("INVALID_ARGUMENT", `${file.path} is not a regular file`, { path: file.path });
    const end = Math.min(file.inode.size, offset + length);
    for (let at = Math.min(offset, end); at < end; at += WINDOW) {
      await ctx.stdoutBytes(await lazy.readInode(file.inode, file.path, at, Math.min(WINDOW, end - at)));
    }

    if (args.flags.has("stats")) {
      const stats = { ...lazy.stats(), bootstrapBytes: image.bootstrap.length, bootstrapLayerBytes: bootstrapLayerSize(image) };
      if (args.flags.has("json")) ctx.stderr(JSON.stringify({ stats }) + "\n");
      else {
        ctx.stderr(
          `${stats.requests} chunk requests, ${stats.bytesFetched} bytes fetched (${stats.chunksFetched} chunks), ` +
            `cache hits: ${stats.memoryHits} memory, ${stats.diskHits} disk; bootstrap layer ${stats.bootstrapLayerBytes ?? "-"} bytes\n`,
        );
      }
    }
    return Exit.OK;
  },
};

function byteCount(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n)) throw new StrataError("INVALID_ARGUMENT", `${name} must be a byte count, not ${JSON.stringify(value)}`, { [name]: value });
  return n;
}

function bootstrapLayerSize(image: { oci?: { bootstrapLayer: { index: number }; layerSizes: ReadonlyMap<number, number> } }): number | undefined {
  const oci = image.oci;
  return oci ? oci.layerSizes.get(oci.bootstrapLayer.index) : undefined;
}
