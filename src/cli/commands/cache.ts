/** `strata cache gc`: garbage collection for the directory of converted layers (`convert --cache-dir`). */
import { collectGarbage } from "../../convert/layer-cache.js";
import { parseSize } from "../../convert/options.js";
import { StrataError } from "../../errors.js";
import { Exit, positionals, type CliContext, type Command } from "../main.js";
import type { ParsedArgs } from "../args.js";
import { mib, needFiles } from "./shared.js";

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** 30d, 12h, 90m, 45s, 2w; a bare number is days. */
export function parseDuration(text: string): number {
  const m = /^([0-9]+(?:\.[0-9]+)?)\s*([smhdw]?)$/i.exec(text.trim());
  if (!m) throw new StrataError("INVALID_ARGUMENT", `cannot read duration ${JSON.stringify(text)} (e.g. 30d, 12h, 90m)`, { duration: text });
  return Number(m[1]) * UNIT_MS[(m[2] || "d").toLowerCase()]!;
}

/** --cache-dir, else $STRATA_CACHE_DIR. */
export function cacheDirOf(args: ParsedArgs, ctx: CliContext): string | undefined {
  const dir = args.values.get("cache-dir") ?? ctx.ports.env?.("STRATA_CACHE_DIR");
  return dir === undefined || dir === "" ? undefined : dir.replace(/\/+$/, "") || "/";
}

export const cacheCommand: Command = {
  summary: "manage the cache of converted layers (gc)",
  usage: "gc [--cache-dir DIR] [--max-age D] [--max-size S]   (DIR defaults to $STRATA_CACHE_DIR)",
  options: {
    "cache-dir": { kind: "string", describe: "the cache directory (default $STRATA_CACHE_DIR)" },
    "max-age": { kind: "string", describe: "remove entries unused for longer (30d, 12h, 90m; a bare number is days)" },
    "max-size": { kind: "string", describe: "then remove the least recently used until blobs and records fit (500M, 2G)" },
    json: { kind: "flag", describe: "print the result as JSON" },
  },
  async run(args, ctx) {
    const [action] = positionals(args, 1, "gc");
    if (action !== "gc") throw new StrataError("INVALID_ARGUMENT", `unknown cache action ${JSON.stringify(action)} (gc)`, { action });
    const dir = cacheDirOf(args, ctx);
    if (!dir) throw new StrataError("INVALID_ARGUMENT", "no cache directory: give --cache-dir or set STRATA_CACHE_DIR");
    const { files } = needFiles(ctx);
    const dirs = ctx.ports.cacheDir;
    if (!dirs) throw new StrataError("UNSUPPORTED", "this runtime cannot list or remove cache files");
    const maxAgeMs = args.values.has("max-age") ? parseDuration(args.values.get("max-age")!) : undefined;
    const maxBytes = args.values.has("max-size") ? parseSize(args.values.get("max-size")!) : undefined;
    const result = await collectGarbage(dir, files, dirs, { maxAgeMs, maxBytes, now: Date.now() });
    if (args.flags.has("json")) ctx.stdout(JSON.stringify({ dir, ...result }) + "\n");
    else ctx.stdout(`${dir}: kept ${result.entries.kept} layers (${mib(result.bytes.kept)}), removed ${result.entries.removed} (${mib(result.bytes.removed)})\n`);
    return Exit.OK;
  },
};
