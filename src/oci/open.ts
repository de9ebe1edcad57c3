/** Opens an image by transport name through the runtime's FilesPort (or, for docker://, its fetch). */
import { StrataError } from "../errors.js";
import type { Ports } from "../ports.js";
import type { RegistryOptions } from "../registry/client.js";
import { openRegistry } from "../registry/store.js";
import type { OciKernels } from "./decompress.js";
import { openDockerArchive } from "./docker-archive.js";
import { openOciArchive, openOciLayout } from "./layout.js";
import { parseReference, type ImageReference } from "./reference.js";
import type { Image } from "./types.js";

export interface OpenOptions {
  /** os/arch[/variant] picked from multi-platform indexes; default linux/amd64. */
  platform?: string;
  kernels: OciKernels;
  /** For docker:// references: TLS, credentials, mirrors, retries. */
  registry?: RegistryOptions;
}

export async function openImage(ports: Ports, reference: string | ImageReference, options: OpenOptions): Promise<Image> {
  const ref = typeof reference === "string" ? parseReference(reference) : reference;
  if (ref.transport === "docker") return (await openRegistry(ports, ref, options)).image;
  const files = ports.files;
  if (!files) throw new StrataError("INVALID_ARGUMENT", `opening ${ref.transport}:${ref.path} needs a files port from the runtime`);
  switch (ref.transport) {
    case "oci":
      return openOciLayout(files, ref.path, { ...options, tag: ref.tag, digest: ref.digest });
    case "oci-archive":
      return openOciArchive(files, ref.path, { ...options, tag: ref.tag, digest: ref.digest });
    case "docker-archive":
      return openDockerArchive(files, ref.path, { kernels: options.kernels, tag: ref.tag, index: ref.index });
  }
}
