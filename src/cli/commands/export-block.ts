/**
 * `strata export --block IMAGE FILE [--verity]`: a Nydus image as one EROFS disk image (metadata
 * and data in one device) for `mount -t erofs -o loop,ro`, optionally followed by a dm-verity
 * hash area (superblock at offset = data size, then the tree) for `veritysetup open`, or with the
 * hash area in a file of its own (`--hash-file`, as systemd's `<image>.verity`).
 */
import { isStrataError, StrataError } from "../../errors.js";
import { rafsKernels } from "../../kernels/index.js";
import { createNativeSha256, createSha256 } from "../../kernels/sha256.js";
import { requireSoundRafs } from "../../nydus/devices.js";
import { blobSet, openNydus, type NydusImage } from "../../nydus/image.js";
import { annotateLayoutManifest, layoutDescriptorsOf } from "../../oci/annotate.js";
import { parseReference } from "../../oci/reference.js";
import { Annotation } from "../../rafs/layout.js";
import { ociKernels } from "../../oci/kernels.js";
import { hex } from "../../oci/verify.js";
import { blockImage, planBlockImage } from "../../rafs/block-image.js";
import { parseSalt, VerityBuilder, type VerityTree } from "../../verity.js";
import type { FilesPort, PendingFile } from "../../ports.js";
import type { OptionSpec } from "../args.js";
import { Exit, positionals, type CliContext, type Command } from "../main.js";
import { CHECK_FAILURES, mib, needFiles, reportFailure } from "./shared.js";
import { REGISTRY_OPTIONS, registryOptions } from "./registry.js";

/** The options only `export --block` has (`strata export` takes them too and hands over on --block). */
export const BLOCK_OPTIONS: Record<string, OptionSpec> = {
  block: { kind: "flag", describe: "one EROFS disk image (mount -t erofs -o loop,ro) instead of an OCI image: strata export --block IMAGE FILE" },
  verity: { kind: "flag", describe: "with --block: append a dm-verity hash area (SHA-256, 4 KiB blocks) at offset = data size and print its root hash" },
  salt: { kind: "string", describe: "with --block: verity salt in hex ('-' for none); default: SHA-256 of the image's bootstrap" },
  "hash-file": { kind: "string", describe: "with --block: write the verity hash area to this file (hash offset 0) instead of appending it" },
  "root-hash-file": { kind: "string", describe: "with --block: also write the verity root hash (hex) to this file" },
  annotate: { kind: "flag", describe: "with --verity and an oci:DIR source: record the root hash and salt on the manifest's descriptor in DIR/index.json (the manifest digest does not change)" },
};

export const exportBlockCommand: Command = {
  summary: "export a Nydus image as one EROFS disk image (mount -t erofs -o loop,ro), optionally with a dm-verity hash tree",
  usage: "IMAGE FILE [--verity [--salt HEX] [--hash-file F] [--root-hash-file F]]   (IMAGE: oci:DIR[:TAG], oci-archive:FILE, docker-archive:FILE, or a bare bootstrap file)",
  options: {
    ...BLOCK_OPTIONS,
    platform: { kind: "string", describe: "os/arch[/variant] to pick from an index" },
    "blobs-dir": { kind: "string", describe: "for a bare bootstrap: the directory holding its blobs" },
    json: { kind: "flag", describe: "print the summary as JSON" },
    ...REGISTRY_OPTIONS,
  },
  async run(args, ctx) {
    const [src, file] = positionals(args, 2, "IMAGE FILE");
    const salt = args.values.get("salt");
    const hashFile = args.values.get("hash-file");
    const rootHashFile = args.values.get("root-hash-file");
    const verity = args.flags.has("verity") || hashFile !== undefined || rootHashFile !== undefined;
    const json = args.flags.has("json");
    const { output } = needFiles(ctx);
    const { ports } = ctx;
    const started = performance.now();
    const image = await openNydus(ports, src!, { kernels: ociKernels(ports), platform: args.values.get("platform"), blobsDir: args.values.get("blobs-dir"), registry: await registryOptions(args, ctx) });
    const plan = planBlockImage(image.bootstrap, requireSoundRafs(image));
    // Where --annotate will write, checked before the work: an oci: layout listing the manifest.
    const annotate = args.flags.has("annotate") ? await annotationTarget(ctx, src!, image, verity) : undefined;
    const sha256 = createNativeSha256(ports) ?? (await createSha256(ports));
    const tree = verity ? new VerityBuilder(sha256, salt === undefined ? sha256.digest(image.bootstrap) : parseSalt(salt)) : undefined;
    const kernels = await rafsKernels(ports);
    const blobs = blobSet(image, kernels);
    const pending = await output.create(file!);
    const extra: PendingFile[] = [];
    let result: VerityTree | undefined;
    try {
      for await (const piece of blockImage(plan, blobs, { codec: (i) => kernels.codec(i.compressor), hasher: (i) => kernels.hasher(i.digester) })) {
        tree?.update(piece);
        await pending.write(piece);
      }
      if (tree) {
        result = tree.finish();
        const create = async (path: string) => {
          const f = await output.create(path);
          extra.push(f);
          return f;
        };
        await (hashFile === undefined ? pending : await create(hashFile)).write(result.hashArea);
        if (rootHashFile !== undefined) await (await create(rootHashFile)).write(new TextEncoder().encode(hex(result.rootHash) + "\n"));
      }
      // The image last: a present image has its hash files beside it.
      for (const f of extra) await f.commit();
      await pending.commit();
    } catch (e) {
      await Promise.all([pending, ...extra].map((f) => f.abort()));
      if (!isStrataError(e) || !CHECK_FAILURES.has(e.code)) throw e;
      reportFailure(e, json, ctx);
      return Exit.CHECK_FAILED;
    }
    if (annotate && result) {
      await annotateLayoutManifest(annotate.files, output, annotate.dir, annotate.digest, {
        [Annotation.VERITY_ROOT_HASH]: hex(result.rootHash),
        [Annotation.VERITY_SALT]: hex(result.salt),
      });
    }
    const seconds = (performance.now() - started) / 1000;
    const summary = {
      image: src,
      file,
      size: plan.size + (hashFile === undefined ? (result?.hashArea.length ?? 0) : 0),
      dataSize: plan.size,
      metadataSize: plan.metadata.length,
      blobs: plan.devices.map((d) => ({ blobId: d.info.blobId, offset: d.offset, size: d.size })),
      verity: result && {
        rootHash: hex(result.rootHash),
        salt: hex(result.salt),
        hashFile: hashFile ?? file,
        hashOffset: hashFile === undefined ? plan.size : 0,
        dataBlocks: result.dataBlocks,
        hashAlgorithm: "sha256",
        dataBlockSize: 4096,
        hashBlockSize: 4096,
      },
      annotated: annotate ? { index: `${annotate.dir}/index.json`, manifest: annotate.digest } : undefined,
      seconds,
    };
    if (json) ctx.stdout(JSON.stringify(summary) + "\n");
    else {
      ctx.stdout(`exported ${src} → ${file} in ${seconds.toFixed(2)} s: ${mib(plan.size)} EROFS (metadata ${mib(plan.metadata.length)}, ${plan.devices.length} blobs)\n`);
      if (summary.verity) {
        const v = summary.verity;
        ctx.stdout(`  verity root hash ${v.rootHash}\n  salt ${v.salt || "-"}, hash area in ${v.hashFile} at offset ${v.hashOffset}\n  veritysetup verify ${file} ${v.hashFile} ${v.rootHash} --hash-offset=${v.hashOffset}\n`);
      }
    }
    return Exit.OK;
  },
};

/** The layout, manifest digest and files port --annotate needs; usage errors when it cannot apply. */
async function annotationTarget(ctx: CliContext, src: string, image: NydusImage, verity: boolean): Promise<{ files: FilesPort; dir: string; digest: string }> {
  if (!verity) throw new StrataError("INVALID_ARGUMENT", "--annotate records the verity root hash: it needs --verity");
  const ref = parseReference(src);
  if (ref.transport !== "oci" || !image.oci) throw new StrataError("INVALID_ARGUMENT", `--annotate writes to an OCI layout's index.json: the source must be oci:DIR[:TAG], got ${src}`, { source: src });
  const { files } = needFiles(ctx);
  const digest = await image.oci.image.digest();
  await layoutDescriptorsOf(files, ref.path, digest);
  return { files, dir: ref.path, digest };
}
