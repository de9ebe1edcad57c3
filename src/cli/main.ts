import { ERROR_CODES, StrataError, isStrataError, type ErrorCode } from "../errors.js";
import type { Ports } from "../ports.js";
import { describeOptions, parseArgs, type OptionSpec, type ParsedArgs } from "./args.js";

/** What a command needs from the process running it: output streams and the ports. */
export interface CliContext {
  ports: Ports;
  stdout(text: string): void;
  /** Raw bytes to stdout (file contents), resolved once written; absent where stdout is text only. */
  stdoutBytes?(bytes: Uint8Array): Promise<void>;
  stderr(text: string): void;
  /** Whether stderr is a terminal (progress lines are drawn only there). */
  isTTY: boolean;
}

/** Exit codes shared by every command. */
export const Exit = { OK: 0, CHECK_FAILED: 1, USAGE: 2, UNREADABLE: 3 } as const;

export interface Command {
  summary: string;
  usage: string;
  options: Record<string, OptionSpec>;
  run(args: ParsedArgs, ctx: CliContext): Promise<number>;
}

/** Error codes that mean the user asked for something impossible (exit 2) rather than bad input (exit 3). */
const USAGE_CODES: ReadonlySet<ErrorCode> = new Set(["INVALID_ARGUMENT", "BAD_REFERENCE"]);

export async function runCli(argv: readonly string[], commands: Record<string, Command>, ctx: CliContext): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === "help" || name === "--help" || name === "-h") {
    ctx.stdout(overview(commands));
    return name ? Exit.OK : Exit.USAGE;
  }
  const command = commands[name];
  if (!command) {
    ctx.stderr(`strata: unknown command '${name}'\n\n${overview(commands)}`);
    return Exit.USAGE;
  }
  if (rest.includes("--help")) {
    ctx.stdout(`usage: strata ${name} ${command.usage}\n\n${command.summary}\n\n${describeOptions(command.options)}\n`);
    return Exit.OK;
  }
  const json = rest.includes("--json");
  try {
    return await command.run(parseArgs(rest, command.options), ctx);
  } catch (e) {
    if (!isStrataError(e)) throw e;
    report(e, json, ctx);
    return USAGE_CODES.has(e.code) ? Exit.USAGE : Exit.UNREADABLE;
  }
}

function report(e: StrataError, json: boolean, ctx: CliContext): void {
  if (json) ctx.stdout(JSON.stringify({ error: { code: e.code, message: e.message, details: e.details } }) + "\n");
  else ctx.stderr(`strata: ${e.message} [${e.code}: ${ERROR_CODES[e.code]}]\n`);
}

function overview(commands: Record<string, Command>): string {
  const lines = Object.entries(commands).map(([n, c]) => `  ${n.padEnd(10)} ${c.summary}`);
  return `usage: strata COMMAND [ARGS] [--json]\n\ncommands:\n${lines.join("\n")}\n\nstrata COMMAND --help shows a command's options.\n`;
}

/** Throws a usage error unless exactly `n` positionals were given. */
export function positionals(args: ParsedArgs, n: number, usage: string): string[] {
  if (args.positionals.length !== n) throw new StrataError("INVALID_ARGUMENT", `expected ${usage}`);
  return args.positionals;
}
