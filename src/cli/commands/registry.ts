/** The docker:// options commands share, and the registry destination they build from them. */
import { StrataError } from "../../errors.js";
import { createStreamingSha256 } from "../../kernels/sha256.js";
import type { RegistryReference } from "../../oci/reference.js";
import { dockerConfigAuths, parseCreds, type Credentials } from "../../registry/auth.js";
import { registryClient, type RegistryOptions } from "../../registry/client.js";
import { RegistrySink } from "../../registry/push.js";
import type { OptionSpec, ParsedArgs } from "../args.js";
import type { CliContext } from "../main.js";

export const REGISTRY_OPTIONS: Record<string, OptionSpec> = {
  insecure: { kind: "flag", describe: "docker://: plain HTTP instead of HTTPS (loopback registries too)" },
  creds: { kind: "string", describe: "docker://: USER:PASSWORD (else the Docker config.json's auths)" },
  authfile: { kind: "string", describe: "docker://: a Docker config.json (default $DOCKER_CONFIG/config.json, ~/.docker/config.json)" },
  "registry-mirror": { kind: "list", describe: "docker://: a mirror URL tried before the registry for pulls (repeatable)" },
  jobs: { kind: "string", describe: "docker://: concurrent blob transfers and range reads (default 4)" },
};

/** RegistryOptions from the command line, reading the Docker auth file where the runtime has files. */
export async function registryOptions(args: ParsedArgs, ctx: CliContext): Promise<RegistryOptions> {
  const jobs = args.values.get("jobs");
  if (jobs !== undefined && !/^[1-9][0-9]{0,2}$/.test(jobs)) throw new StrataError("INVALID_ARGUMENT", `--jobs must be 1..999, got ${jobs}`);
  return {
    insecure: args.flags.has("insecure"),
    creds: args.values.has("creds") ? parseCreds(args.values.get("creds")!) : undefined,
    auths: await authFile(args.values.get("authfile"), ctx),
    mirrors: args.lists.get("registry-mirror") ?? [],
    jobs: jobs === undefined ? undefined : Number(jobs),
  };
}

async function authFile(explicit: string | undefined, ctx: CliContext): Promise<Map<string, Credentials> | undefined> {
  const { files, env } = ctx.ports;
  if (!files) return undefined;
  if (explicit !== undefined) return dockerConfigAuths(await files.readFile(explicit), explicit);
  const dir = env?.("DOCKER_CONFIG") ?? (env?.("HOME") ? `${env("HOME")}/.docker` : undefined);
  if (!dir) return undefined;
  const path = `${dir}/config.json`;
  if ((await files.stat(path))?.kind !== "file") return undefined;
  return dockerConfigAuths(await files.readFile(path), path);
}

/** A registry repository to push to, named by a tag (a digest cannot be pushed to). */
export function registrySink(ctx: CliContext, ref: RegistryReference, options: RegistryOptions): RegistrySink {
  if (ref.digest) throw new StrataError("INVALID_ARGUMENT", `a destination is named by a tag, not a digest: docker://${ref.registry}/${ref.repository}@${ref.digest}`);
  return new RegistrySink(registryClient(ctx.ports, ref.registry, options), ref.repository, { sha256: () => createStreamingSha256(ctx.ports) });
}
