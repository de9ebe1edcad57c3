/**
 * Transport names as skopeo and umoci spell them: `oci:DIR[:TAG]`, `oci:DIR@sha256:HEX`,
 * `oci-archive:FILE[:TAG|@sha256:HEX]`, `docker-archive:FILE[:REF|:@INDEX]`, `docker://HOST/REPO[:TAG]`. As in
 * containers/image, the path ends at the first ':' after the transport.
 */
import { StrataError } from "../errors.js";

export type ImageReference =
  | { transport: "oci" | "oci-archive"; path: string; tag?: string; digest?: string }
  | { transport: "docker-archive"; path: string; tag?: string; index?: number }
  | RegistryReference;

/** `docker://HOST[:PORT]/REPO[:TAG][@DIGEST]`: the tag is "latest" unless a tag or digest is given. */
export interface RegistryReference {
  transport: "docker";
  /** host or host:port, as written. */
  registry: string;
  repository: string;
  tag?: string;
  digest?: string;
}

const DIGEST = /^sha256:[0-9a-f]{64}$/;

export function isDigest(value: string): boolean {
  return DIGEST.test(value);
}

function bad(reference: string, why: string): StrataError {
  return new StrataError("BAD_REFERENCE", `cannot parse image reference ${JSON.stringify(reference)}: ${why}`, { reference });
}

const REGISTRY_HOST = /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[0-9a-fA-F:]+\])(?::[0-9]{1,5})?$/;
const REPOSITORY = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

/** Parses `docker://HOST[:PORT]/REPO[:TAG][@DIGEST]` (the registry host is always explicit). */
export function parseRegistryReference(reference: string): RegistryReference {
  if (!reference.startsWith("docker://")) throw bad(reference, "expected docker://HOST/REPO[:TAG|@DIGEST]");
  const rest = reference.slice("docker://".length);
  const slash = rest.indexOf("/");
  if (slash < 0) throw bad(reference, "expected a registry host, then /REPOSITORY");
  const registry = rest.slice(0, slash);
  if (!REGISTRY_HOST.test(registry)) throw bad(reference, `${JSON.stringify(registry)} is not a registry host[:port]`);
  let name = rest.slice(slash + 1);
  let digest: string | undefined;
  const at = name.indexOf("@");
  if (at >= 0) {
    digest = name.slice(at + 1);
    if (!isDigest(digest)) throw bad(reference, "a digest is sha256: and 64 lowercase hex digits");
    name = name.slice(0, at);
  }
  let tag: string | undefined;
  const colon = name.lastIndexOf(":");
  if (colon >= 0) {
    tag = name.slice(colon + 1);
    if (!TAG.test(tag)) throw bad(reference, `${JSON.stringify(tag)} is not a valid tag`);
    name = name.slice(0, colon);
  }
  if (!REPOSITORY.test(name)) throw bad(reference, `${JSON.stringify(name)} is not a repository name (lowercase components separated by /)`);
  if (tag === undefined && digest === undefined) tag = "latest";
  return { transport: "docker", registry, repository: name, ...(tag !== undefined ? { tag } : {}), ...(digest !== undefined ? { digest } : {}) };
}

export function parseReference(reference: string): ImageReference {
  if (reference.startsWith("docker://")) return parseRegistryReference(reference);
  const colon = reference.indexOf(":");
  if (colon < 0) throw bad(reference, "expected TRANSPORT:PATH (oci:, oci-archive: or docker-archive:)");
  const transport = reference.slice(0, colon);
  const rest = reference.slice(colon + 1);
  if (transport !== "oci" && transport !== "oci-archive" && transport !== "docker-archive") {
    throw bad(reference, `unknown transport ${JSON.stringify(transport)}`);
  }
  const at = rest.indexOf("@sha256:");
  if (at >= 0 && transport !== "docker-archive") {
    const digest = rest.slice(at + 1);
    if (!isDigest(digest)) throw bad(reference, "a digest is sha256: and 64 lowercase hex digits");
    return { transport, path: nonEmpty(rest.slice(0, at), reference), digest };
  }
  const sep = rest.indexOf(":");
  const path = nonEmpty(sep < 0 ? rest : rest.slice(0, sep), reference);
  if (sep < 0) return { transport, path };
  const tag = rest.slice(sep + 1);
  if (tag === "") throw bad(reference, "empty tag after ':'");
  if (transport === "docker-archive" && tag.startsWith("@")) {
    if (!/^@[0-9]{1,6}$/.test(tag)) throw bad(reference, "a docker-archive index is @ and a number");
    return { transport, path, index: Number(tag.slice(1)) };
  }
  return { transport, path, tag };
}

function nonEmpty(path: string, reference: string): string {
  if (path === "") throw bad(reference, "empty path");
  return path;
}
