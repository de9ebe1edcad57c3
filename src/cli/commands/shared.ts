/** Helpers the command files share. */
import { ERROR_CODES, StrataError, type ErrorCode } from "../../errors.js";
import { ociKernels } from "../../oci/kernels.js";
import { openImage } from "../../oci/open.js";
import { Annotation } from "../../rafs/layout.js";
import type { RegistryOptions } from "../../registry/client.js";
import type { CliContext } from "../main.js";

/** The file ports, or UNSUPPORTED on runtimes without local files. */
export function needFiles(ctx: CliContext) {
  const { files, output } = ctx.ports;
  if (!files || !output) throw new StrataError("UNSUPPORTED", "this runtime has no local files for image layouts");
  return { files, output };
}

export function mib(bytes: number): string {
  return `${(bytes / 1048576).toFixed(2)} MiB`;
}

/** Whether SRC names a Nydus image: a bare bootstrap file, or a manifest whose last layer is a Nydus bootstrap. */
export async function isNydusSource(ctx: CliContext, src: string, platform: string | undefined, registry?: RegistryOptions): Promise<boolean> {
  if (!/^(oci|oci-archive|docker-archive|docker):/.test(src)) return true;
  const image = await openImage(ctx.ports, src, { kernels: ociKernels(ctx.ports), platform, registry }).catch(() => undefined);
  if (!image) return src.startsWith("oci:"); // a merged-platform index: openNydus picks the Nydus manifest
  const last = (await image.manifest()).layers.at(-1);
  return last?.annotations?.[Annotation.NYDUS_BOOTSTRAP] === "true";
}

/** Errors that mean the content failed a check (a chunk or layer digest, an unsafe path: exit 1) rather than could not be read (exit 3). */
export const CHECK_FAILURES: ReadonlySet<ErrorCode> = new Set(["DIGEST_MISMATCH", "UNSAFE_PATH", "CORRUPT_DATA", "CHECKSUM_MISMATCH"]);

/** Prints a failed check as runCli prints errors (JSON on stdout with --json, else a line on stderr). */
export function reportFailure(e: StrataError, json: boolean, ctx: CliContext): void {
  if (json) ctx.stdout(JSON.stringify({ error: { code: e.code, message: e.message, details: e.details } }) + "\n");
  else ctx.stderr(`strata: ${e.message} [${e.code}: ${ERROR_CODES[e.code]}]\n`);
}
