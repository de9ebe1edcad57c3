// Preloaded (node --import) into a process a bench spawns: appends its peak RSS in MiB (all its
// threads) to the file named by STRATA_BENCH_RSS_FILE when it exits.
import { appendFileSync } from "node:fs";

const file = process.env.STRATA_BENCH_RSS_FILE;
if (file) process.on("exit", () => appendFileSync(file, `${Math.round(process.resourceUsage().maxRSS / 1024)}\n`));
