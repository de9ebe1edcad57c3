// A security scanner on strata's event stream (docs/EVENTS.md): flags setuid and setgid files,
// and files holding a chunk whose digest is on a deny list.
//
// In-process:  bus.subscribe(scanner.subscriber, { policy: "block" })
// As a pipe:   strata convert oci:in oci:out --events - | tsx examples/security-scanner.ts DENYLIST
//              (DENYLIST: one hex chunk digest per line; exit 1 when anything was flagged)
import { createInterface } from "node:readline";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { StrataEvent, Subscriber } from "../src/events.js";

export interface Finding {
  path: string;
  reason: "setuid" | "setgid" | "denied-chunk";
  /** denied-chunk: the chunk's index in the file and its digest. */
  chunk?: number;
  digest?: string;
}

export interface Scanner {
  subscriber: Subscriber;
  findings: Finding[];
}

const S_ISUID = 0o4000;
const S_ISGID = 0o2000;

export function securityScanner(deniedDigests: Iterable<string>): Scanner {
  const denied = new Set([...deniedDigests].map((d) => d.trim().toLowerCase()).filter(Boolean));
  const findings: Finding[] = [];
  const subscriber = (event: StrataEvent) => {
    // Directories are left alone: setgid on a directory only makes new entries inherit its group.
    if (event.type === "file" && event.kind === "file") {
      if (event.mode & S_ISUID) findings.push({ path: event.path, reason: "setuid" });
      if (event.mode & S_ISGID) findings.push({ path: event.path, reason: "setgid" });
    }
    if (event.type === "chunk" && denied.has(event.digest)) findings.push({ path: event.path, reason: "denied-chunk", chunk: event.index, digest: event.digest });
  };
  return { subscriber, findings };
}

/** Reads NDJSON events from stdin, prints one line per finding. */
async function main(denyListPath: string): Promise<number> {
  const scanner = securityScanner(readFileSync(denyListPath, "utf8").split("\n"));
  for await (const line of createInterface({ input: process.stdin, crlfDelay: Infinity })) {
    if (line.trim() !== "") await scanner.subscriber(JSON.parse(line) as StrataEvent);
  }
  for (const f of scanner.findings) console.log(`${f.reason} ${f.path}${f.digest ? ` chunk ${f.chunk} ${f.digest}` : ""}`);
  return scanner.findings.length > 0 ? 1 : 0;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const denyList = process.argv[2];
  if (!denyList) {
    console.error("usage: security-scanner.ts DENYLIST < events.ndjson");
    process.exitCode = 2;
  } else {
    process.exitCode = await main(denyList);
  }
}
