/**
 * Records annotations on a manifest's descriptor in an OCI layout's index.json. The manifest
 * itself is untouched, so the image keeps its digest; index.json is replaced atomically.
 */
import { StrataError } from "../errors.js";
import type { FilesPort, OutputPort } from "../ports.js";
import type { ImageIndexManifest } from "./types.js";

const utf8 = new TextEncoder();

/** The descriptors of `dir`/index.json naming `digest`, or NOT_FOUND: call before doing work that ends in annotate. */
export async function layoutDescriptorsOf(files: FilesPort, dir: string, digest: string): Promise<ImageIndexManifest> {
  const path = `${dir}/index.json`;
  let index: ImageIndexManifest;
  try {
    index = JSON.parse(new TextDecoder().decode(await files.readFile(path))) as ImageIndexManifest;
  } catch (e) {
    throw new StrataError("BAD_MANIFEST", `${path} is not an OCI index`, { path }, { cause: e });
  }
  if (!Array.isArray(index?.manifests) || !index.manifests.some((d) => d?.digest === digest)) {
    throw new StrataError("NOT_FOUND", `${path} lists no descriptor for ${digest} to annotate (an index nested in the layout cannot be annotated without changing its digest)`, { path, digest });
  }
  return index;
}

/** Adds `annotations` to every index.json descriptor of `digest` and writes the index back atomically. */
export async function annotateLayoutManifest(files: FilesPort, output: OutputPort, dir: string, digest: string, annotations: Record<string, string>): Promise<void> {
  const index = await layoutDescriptorsOf(files, dir, digest);
  for (const d of index.manifests) if (d.digest === digest) d.annotations = { ...d.annotations, ...annotations };
  const pending = await output.create(`${dir}/index.json`);
  try {
    await pending.write(utf8.encode(JSON.stringify(index)));
    await pending.commit();
  } catch (e) {
    await pending.abort();
    throw e;
  }
}
