// Writes a run into the repository: bench/RESULTS.md (the generated part, then the hand-written
// earlier measurements kept from the file as it was), the SVG plots and bench/results/latest.json,
// all formatted as the repository's Prettier settings want, so `npm run lint` stays green.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { BenchResult } from "./result-types.ts";
import { EARLIER_MARKER, renderResults } from "./results.ts";
import { plotCpu, plotLatency } from "./svg.ts";

const benchDir = fileURLToPath(new URL("..", import.meta.url));

/** Writes the files; returns the paths written. */
export async function writeResults(result: BenchResult): Promise<string[]> {
  const file = join(benchDir, "RESULTS.md");
  const plots = join(benchDir, "plots");
  const json = join(benchDir, "results", "latest.json");
  mkdirSync(plots, { recursive: true });
  writeFileSync(join(plots, "p99-vs-rate.svg"), plotLatency(result));
  writeFileSync(join(plots, "cpu-per-delivery-vs-rate.svg"), plotCpu(result));
  const previous = existsSync(file) ? readFileSync(file, "utf8") : "";
  const kept = previous.includes(EARLIER_MARKER)
    ? previous.slice(previous.indexOf(EARLIER_MARKER))
    : EARLIER_MARKER + "\n";
  const prettier = await import("prettier");
  const options = (await prettier.resolveConfig(file)) ?? {};
  writeFileSync(
    json,
    await prettier.format(JSON.stringify(result, null, 2), { ...options, parser: "json" }),
  );
  writeFileSync(
    file,
    await prettier.format(renderResults(result) + "\n" + kept, { ...options, parser: "markdown" }),
  );
  return [file, plots, json];
}
