/** `strata dedup IMAGE...`: duplicate content across images, and what registries store and clients pull. */
import { analyzeDedup, type DedupReport } from "../../dedup/analyze.js";
import { StrataError } from "../../errors.js";
import { Exit, type Command } from "../main.js";

const mb = (bytes: number) => (bytes / 1e6).toFixed(2);
const size = (bytes: number) => (bytes >= 1 << 20 ? `${bytes >> 20} MiB` : `${bytes >> 10} KiB`);

export const dedupCommand: Command = {
  summary: "measure duplicate content across OCI images, and registry and pull bytes as OCI and as strata images",
  usage: "IMAGE...   (oci:DIR[:TAG], oci-archive:FILE[:TAG], docker-archive:FILE[:TAG]; pulled in the order given)",
  options: {
    "content-only": { kind: "flag", describe: "skip the conversions that measure strata's storage" },
    json: { kind: "flag", describe: "print the report as JSON" },
  },
  async run(args, ctx) {
    if (args.positionals.length === 0) throw new StrataError("INVALID_ARGUMENT", "expected IMAGE...");
    const report = await analyzeDedup(ctx.ports, args.positionals, { strata: !args.flags.has("content-only") });
    ctx.stdout(args.flags.has("json") ? JSON.stringify(report) + "\n" : table(report));
    return Exit.OK;
  },
};

function table(report: DedupReport): string {
  const lines: string[] = [];
  report.images.forEach((name, i) => lines.push(`image ${i + 1}: ${name} (${mb(report.imageBytes[i]!)} MB of files)`));
  lines.push("", "content (MB)          total   unique  ratio   new per image, in order");
  for (const row of report.content) {
    const label = row.method === "file" ? "whole files" : row.method === "fixed" ? `fixed ${size(row.chunkSize!)}` : `FastCDC avg ${size(row.chunkSize!)}`;
    const ratio = row.uniqueBytes > 0 ? (row.totalBytes / row.uniqueBytes).toFixed(2) : "-";
    lines.push(`${label.padEnd(20)} ${mb(row.totalBytes).padStart(7)} ${mb(row.uniqueBytes).padStart(8)} ${ratio.padStart(6)}   ${row.newBytes.map(mb).join(" ")}`);
  }
  lines.push("", "storage (MB)        registry   pulled per image, in order (total)");
  for (const row of report.storage) {
    const pulled = row.transferBytes.reduce((a, b) => a + b, 0);
    lines.push(`${row.format.padEnd(18)} ${mb(row.registryBytes).padStart(9)}   ${row.transferBytes.map(mb).join(" ")} (${mb(pulled)})`);
  }
  return lines.join("\n") + "\n";
}
