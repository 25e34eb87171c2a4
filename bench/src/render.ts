// Writes RESULTS.md, the plots and latest.json again from a run's JSON (by default
// bench/results/latest.json), without measuring: for a change to the report's layout or text.
// Usage: node bench/src/render.ts [run.json]
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { BenchResult } from "./result-types.ts";
import { writeResults } from "./results-file.ts";

const source = process.argv[2] ?? fileURLToPath(new URL("../results/latest.json", import.meta.url));
const written = await writeResults(JSON.parse(readFileSync(source, "utf8")) as BenchResult);
process.stderr.write(`render: wrote ${written.join(", ")} from ${source}\n`);
