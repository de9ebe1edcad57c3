/**
 * OCI image layouts: a directory (`oci:DIR`) or a tar of one (`oci-archive:FILE`). Both are a
 * blob store plus oci-layout and index.json; images are picked by tag, digest and platform.
 */
import { StrataError } from "../errors.js";
import type { FilesPort } from "../ports.js";
import { ArchiveIndex } from "./archive.js";
import { fileRange } from "./blob.js";
import type { OciKernels } from "./decompress.js";
import { parseIndex, parseJson, selectFromLayout, type BlobStore, type Selection } from "./image.js";
import type { Image, ImageIndexManifest } from "./types.js";

function blobPath(digest: string): string {
  // Digests reaching here were validated by parseDescriptor or the reference parser.
  const [algorithm, hex] = digest.split(":");
  return `blobs/${algorithm}/${hex}`;
}

function checkLayout(bytes: Uint8Array, where: string): void {
  const layout = parseJson(bytes, `${where}/oci-layout`);
  if (typeof layout.imageLayoutVersion !== "string" || !layout.imageLayoutVersion.startsWith("1.")) {
    throw new StrataError("BAD_MANIFEST", `${where}/oci-layout has imageLayoutVersion ${JSON.stringify(layout.imageLayoutVersion)}, expected 1.x`);
  }
}

export function directoryStore(files: FilesPort, dir: string): BlobStore {
  return {
    name: `oci:${dir}`,
    async blob(digest) {
      const path = `${dir}/${blobPath(digest)}`;
      const st = await files.stat(path);
      if (st?.kind !== "file") throw new StrataError("NOT_FOUND", `blob ${digest} is not in oci:${dir}`, { digest, path });
      return fileRange(files, path, 0, st.size);
    },
  };
}

export function archiveStore(archive: ArchiveIndex, name = `oci-archive:${archive.path}`): BlobStore {
  return {
    name,
    async blob(digest) {
      const member = blobPath(digest);
      if (!archive.has(member)) throw new StrataError("NOT_FOUND", `blob ${digest} is not in ${name}`, { digest, member });
      return archive.member(member);
    },
  };
}

export interface LayoutOptions extends Selection {
  kernels: OciKernels;
}

/** The top-level index of a layout directory. */
export async function readLayoutIndex(files: FilesPort, dir: string): Promise<ImageIndexManifest> {
  checkLayout(await files.readFile(`${dir}/oci-layout`), `oci:${dir}`);
  return parseIndex(await files.readFile(`${dir}/index.json`), `oci:${dir}/index.json`);
}

export async function openOciLayout(files: FilesPort, dir: string, options: LayoutOptions): Promise<Image> {
  const store = directoryStore(files, dir);
  return selectFromLayout(store, options.kernels, await readLayoutIndex(files, dir), options);
}

export async function openOciArchive(files: FilesPort, file: string, options: LayoutOptions): Promise<Image> {
  const archive = await ArchiveIndex.open(files, file);
  const store = archiveStore(archive);
  const small = async (member: string) => {
    const range = archive.member(member);
    if (range.size > 8 << 20) throw new StrataError("BAD_MANIFEST", `${member} in ${store.name} is too large`);
    return range.read(0, range.size);
  };
  checkLayout(await small("oci-layout"), store.name);
  const index = parseIndex(await small("index.json"), `${store.name}/index.json`);
  return selectFromLayout(store, options.kernels, index, options);
}
