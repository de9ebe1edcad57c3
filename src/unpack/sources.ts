/** What unpack and export read: a Nydus image through the RAFS reader, or a flattened OCI image. */
import { StrataError } from "../errors.js";
import type { Inode } from "../fs/inode.js";
import { blobSet, requireRafs, type NydusImage } from "../nydus/image.js";
import { chunks } from "../oci/blob.js";
import { flatten } from "../oci/flatten.js";
import type { Image } from "../oci/types.js";
import { readFileStream, type RafsKernels } from "../rafs/read.js";
import { readTar } from "../tar/reader.js";
import type { UnpackSource } from "./unpack.js";

/**
 * A Nydus image's tree; every chunk is checked against its digest as it is read. A bootstrap
 * with structural problems is refused (BAD_BOOTSTRAP): `strata verify` says what is wrong.
 */
export function nydusSource(image: NydusImage, kernels: RafsKernels): UnpackSource {
  const rafs = requireRafs(image);
  const problem = image.bootstrapProblems[0];
  if (problem) throw new StrataError("BAD_BOOTSTRAP", `${image.name}: the bootstrap is damaged: ${problem.message}`, { ...problem });
  const blobs = blobSet(image, kernels);
  return {
    root: rafs.root,
    async contents(files, write) {
      for (const [inode, path] of files) await write(inode, chunks(readFileStream(rafs, `/${path.join("/")}`, blobs, kernels)));
    },
  };
}

/**
 * An OCI image's merged tree. The layers are read twice: once to merge them, then again for the
 * contents of the files that survived the merge (each layer's digest is checked both times).
 */
export async function ociSource(image: Image): Promise<UnpackSource> {
  const root = await flatten(image);
  const layers = await image.layers();
  return {
    root,
    async contents(files, write) {
      const byLayer = new Map<number, Map<number, Inode>>();
      for (const inode of files.keys()) {
        if (!inode.data) throw new StrataError("NOT_FOUND", `${files.get(inode)!.join("/")} has no content in any layer`);
        const offsets = byLayer.get(inode.data.layer) ?? new Map<number, Inode>();
        offsets.set(inode.data.offset, inode);
        byLayer.set(inode.data.layer, offsets);
      }
      for (const [index, layer] of layers.entries()) {
        const offsets = byLayer.get(index);
        if (!offsets) continue;
        for await (const entry of readTar(layer.uncompressed())) {
          const inode = entry.type === "file" ? offsets.get(entry.offset) : undefined;
          if (inode) await write(inode, entry.body());
        }
      }
    },
  };
}
