// V8 flags of the `strata` command (bin/strata.js sets them before loading anything else).
import { setFlagsFromString } from "node:v8";

/**
 * V8 doubles its young generation whenever many objects survive a scavenge, as a conversion's
 * file tree and module loading do, up to 16 MiB semi-spaces (32 MiB committed for good). At growth
 * factor 1 it stays at 1 MiB: 30-35 MiB less peak RSS converting corpus base and app-v1, for
 * ~0.1 s more CPU in scavenges (0-4% of the wall time; docs/BENCHMARKS.md). V8 reads the flag at each resize, so setting it at run time works
 * (--max-semi-space-size would have to be on the command line); V8 11-13 have it.
 */
export const CLI_V8_FLAGS: readonly string[] = Number(process.versions.v8.split(".")[0]) <= 13 ? ["--semi-space-growth-factor=1"] : [];

/**
 * Sets `flags` for the whole process. Node resets V8's flags when it starts a worker thread, so
 * threads that start workers set them again from there (the codec pool's workers do).
 */
export function setV8Flags(flags: readonly string[]): void {
  for (const flag of flags) setFlagsFromString(flag);
}
