/**
 * `--events FILE|-` for convert, verify and diff: the run's events as NDJSON (src/events.ts),
 * every event delivered (block policy). FILE is written under a temporary name and appears when
 * the command has finished (also when a check failed; not when it crashed). With `-` the events
 * own stdout: the command's summary or --json report goes to stderr instead.
 */
import { isStrataError, StrataError } from "../../errors.js";
import { EventBus, ndjsonSubscriber, type EventSink, type Subscriber } from "../../events.js";
import type { PendingFile } from "../../ports.js";
import type { OptionSpec, ParsedArgs } from "../args.js";
import type { CliContext } from "../main.js";
import { needFiles } from "./shared.js";

export const eventsOption: OptionSpec = { kind: "string", describe: "write events as NDJSON to FILE, or - for stdout (the summary then goes to stderr)" };

export interface CliEvents {
  /** The context the command prints through: stdout is stderr when events go to stdout. */
  ctx: CliContext;
  /** Runs the work with the event sink (undefined without --events) and finishes the stream. */
  run<T>(work: (events: EventSink | undefined) => Promise<T>): Promise<T>;
}

/** `progress` (a terminal's progress line) sees the events too, on a drop policy: it never slows the run. */
export function cliEvents(args: ParsedArgs, ctx: CliContext, progress?: Subscriber): CliEvents {
  const target = args.values.get("events");
  if (target === undefined && !progress) return { ctx, run: (work) => work(undefined) };
  const toStdout = target === "-";
  return {
    ctx: toStdout ? { ...ctx, stdout: ctx.stderr } : ctx,
    async run(work) {
      const bus = new EventBus();
      if (progress) bus.subscribe(progress, { policy: "drop", capacity: 64 });
      if (target === undefined) {
        const result = await work(bus);
        await bus.close();
        return result;
      }
      const file = toStdout ? undefined : await createEventsFile(ctx, target);
      const encoder = new TextEncoder();
      bus.subscribe(ndjsonSubscriber(file ? (lines) => file.write(encoder.encode(lines)) : (lines) => ctx.stdout(lines)));
      try {
        const result = await work(bus);
        await bus.close();
        await file?.commit();
        return result;
      } catch (e) {
        await file?.abort();
        throw e;
      }
    },
  };
}

async function createEventsFile(ctx: CliContext, path: string): Promise<PendingFile> {
  try {
    return await needFiles(ctx).output.create(path);
  } catch (e) {
    if (isStrataError(e)) throw e;
    throw new StrataError("IO", `cannot write events to ${path}: ${(e as Error).message}`, { path });
  }
}
