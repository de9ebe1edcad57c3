/**
 * Transport names as skopeo and umoci spell them: `oci:DIR[:TAG]`, `oci:DIR@sha256:HEX`,
 * `oci-archive:FILE[:TAG|@sha256:HEX]`, `docker-archive:FILE[:REF|:@INDEX]`. As in
 * containers/image, the path ends at the first ':' after the transport.
 */
import { StrataError } from "../errors.js";

export type ImageReference =
  | { transport: "oci" | "oci-archive"; path: string; tag?: string; digest?: string }
  | { transport: "docker-archive"; path: string; tag?: string; index?: number };

const DIGEST = /^sha256:[0-9a-f]{64}$/;

export function isDigest(value: string): boolean {
  return DIGEST.test(value);
}

function bad(reference: string, why: string): StrataError {
  return new StrataError("BAD_REFERENCE", `cannot parse image reference ${JSON.stringify(reference)}: ${why}`, { reference });
}

export function parseReference(reference: string): ImageReference {
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
