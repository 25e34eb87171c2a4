// Rewrites the Faults and Hostile-input tables of docs/reliability.md from the JSON lines the
// suites recorded (test-results/reliability/*.jsonl, or JOBCHANNEL_RELIABILITY_DIR), leaving the
// rest of the document alone. Exits 1 when a scenario lost a final update or a process crashed.
// Usage: node scripts/reliability-report.ts [--doc <path>]
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import {
  failures,
  parseFaults,
  parseHostile,
  renderFaults,
  renderHostile,
  replaceRegion,
} from "./reliability-tables.ts";

const root = join(import.meta.dirname, "..");
const { values } = parseArgs({
  options: { doc: { type: "string", default: join(root, "docs", "reliability.md") } },
});
const dir = process.env.JOBCHANNEL_RELIABILITY_DIR ?? join(root, "test-results", "reliability");
const profile = process.env.JOBCHANNEL_RELIABILITY_PROFILE ?? "reduced";

function read(file: string): string {
  const path = join(dir, file);
  return existsSync(path) ? readFileSync(path, "utf8") : "";
}

const faults = parseFaults(read("faults.jsonl"), join(dir, "faults.jsonl"));
const hostile = parseHostile(read("hostile.jsonl"), join(dir, "hostile.jsonl"));
const context = { profile, generatedAt: new Date() };

let doc = readFileSync(values.doc!, "utf8");
doc = replaceRegion(doc, "faults", renderFaults(faults, context));
doc = replaceRegion(doc, "hostile", renderHostile(hostile, context));
writeFileSync(values.doc!, doc);
console.log(
  `reliability-report: ${faults.length} fault and ${hostile.length} hostile-input records from ${dir} (${profile} profile) written into ${values.doc}`,
);

const failed = failures(faults, hostile);
if (failed.length > 0) {
  console.error(`reliability-report: what must be 0 is not:\n  ${failed.join("\n  ")}`);
  process.exit(1);
}
