import { StrataError } from "../errors.js";

/** How one option is read from the command line. */
export interface OptionSpec {
  /** "flag" takes no value; "string" takes one; "list" may repeat. */
  kind: "flag" | "string" | "list";
  describe: string;
}

export interface ParsedArgs {
  positionals: string[];
  flags: Set<string>;
  values: Map<string, string>;
  lists: Map<string, string[]>;
}

/**
 * Parses `--name value`, `--name=value` and bare flags against a spec; anything unknown is a
 * usage error (exit code 2), never silently ignored.
 */
export function parseArgs(argv: readonly string[], spec: Readonly<Record<string, OptionSpec>>): ParsedArgs {
  const out: ParsedArgs = { positionals: [], flags: new Set(), values: new Map(), lists: new Map() };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--") {
      out.positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith("--") || arg === "-") {
      out.positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf("=");
    const name = arg.slice(2, eq < 0 ? undefined : eq);
    const option = spec[name];
    if (!option) throw new StrataError("INVALID_ARGUMENT", `unknown option --${name}`, { option: name });
    if (option.kind === "flag") {
      if (eq >= 0) throw new StrataError("INVALID_ARGUMENT", `--${name} takes no value`, { option: name });
      out.flags.add(name);
      continue;
    }
    let value: string | undefined;
    if (eq >= 0) value = arg.slice(eq + 1);
    else value = argv[++i];
    if (value === undefined) throw new StrataError("INVALID_ARGUMENT", `--${name} needs a value`, { option: name });
    if (option.kind === "list") out.lists.set(name, [...(out.lists.get(name) ?? []), value]);
    else out.values.set(name, value);
  }
  return out;
}

/** The help text for a command's options. */
export function describeOptions(spec: Readonly<Record<string, OptionSpec>>): string {
  return Object.entries(spec)
    .map(([name, o]) => `  --${name}${o.kind === "flag" ? "" : " VALUE"}`.padEnd(30) + o.describe)
    .join("\n");
}
