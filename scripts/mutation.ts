// Runs StrykerJS on protocol/, state/ and the relay's hub, send queue and auth (one config each in
// scripts/mutation/), then rewrites the mutation region of docs/reliability.md from the reports.
// Usage: node scripts/mutation.ts [--report-only] [package ...]
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { replaceRegion } from "./reliability-tables.ts";

export const PACKAGES = ["protocol", "state", "relay"] as const;

/** A surviving mutant judged equivalent (no test can tell it from the original), with why. */
export interface Equivalent {
  readonly package: string;
  readonly file: string;
  readonly line: number;
  readonly mutator: string;
  readonly replacement?: string;
  readonly reason: string;
}

/** One mutant as the mutation-testing-report-schema JSON holds it. */
export interface ReportMutant {
  readonly mutatorName: string;
  readonly replacement?: string;
  readonly status: string;
  readonly location: { readonly start: { readonly line: number; readonly column: number } };
}

export interface Report {
  readonly files: Record<string, { readonly mutants: readonly ReportMutant[] }>;
}

/** Counts of one module (or one package, summed). */
export interface Counts {
  mutants: number;
  killed: number;
  survived: number;
  timeout: number;
  noCoverage: number;
  equivalent: number;
}

/** A mutant no test killed (survived or not covered), with its reason when it is equivalent. */
export interface Survivor {
  readonly package: string;
  readonly file: string;
  readonly line: number;
  readonly mutator: string;
  readonly replacement: string;
  readonly status: string;
  readonly reason?: string;
}

const empty = (): Counts => ({
  mutants: 0,
  killed: 0,
  survived: 0,
  timeout: 0,
  noCoverage: 0,
  equivalent: 0,
});

/**
 * Stryker's score: killed and timed-out mutants over every valid one. Mutants that do not compile
 * or cannot run are not counted, as Stryker does; an equivalent mutant is left out of both sides.
 */
export function score(c: Counts): number {
  const detected = c.killed + c.timeout;
  const valid = detected + c.survived + c.noCoverage - c.equivalent;
  return valid === 0 ? 100 : (100 * detected) / valid;
}

/** Stryker's own score: killed and timed-out mutants over all valid ones, equivalent or not. */
export function rawScore(c: Counts): number {
  return score({ ...c, equivalent: 0 });
}

/** Whether a survivor is the equivalent mutant an entry describes. */
function matches(e: Equivalent, s: Omit<Survivor, "reason">): boolean {
  return (
    e.package === s.package &&
    e.file === s.file &&
    e.line === s.line &&
    e.mutator === s.mutator &&
    (e.replacement === undefined || e.replacement === s.replacement)
  );
}

/** Per-module counts and the survivors of one package's report. */
export function summarise(
  pkg: string,
  report: Report,
  equivalents: readonly Equivalent[],
): { modules: Map<string, Counts>; survivors: Survivor[] } {
  const modules = new Map<string, Counts>();
  const survivors: Survivor[] = [];
  for (const [file, { mutants }] of Object.entries(report.files).sort(([a], [b]) =>
    a.localeCompare(b),
  )) {
    const c = empty();
    for (const m of mutants) {
      switch (m.status) {
        case "Killed":
          c.killed += 1;
          break;
        case "Timeout":
          c.timeout += 1;
          break;
        case "Survived":
        case "NoCoverage": {
          if (m.status === "Survived") c.survived += 1;
          else c.noCoverage += 1;
          const s = {
            package: pkg,
            file,
            line: m.location.start.line,
            mutator: m.mutatorName,
            replacement: (m.replacement ?? "").replace(/\s+/g, " ").slice(0, 60),
            status: m.status,
          };
          const reason = equivalents.find((e) => matches(e, s))?.reason;
          if (reason !== undefined) c.equivalent += 1;
          survivors.push(reason === undefined ? s : { ...s, reason });
          break;
        }
        default:
          continue; // CompileError, RuntimeError, Ignored: not valid mutants
      }
      c.mutants += 1;
    }
    modules.set(`${pkg}/${file}`, c);
  }
  return { modules, survivors };
}

function add(into: Counts, c: Counts): void {
  for (const key of Object.keys(into) as (keyof Counts)[]) into[key] += c[key];
}

const pct = (n: number) => `${n.toFixed(1)} %`;

/** The region's Markdown: one table (package rows in bold above their modules), then survivors. */
export function render(
  results: readonly { pkg: string; modules: Map<string, Counts>; survivors: Survivor[] }[],
  context: { date: string; node: string; stryker: string },
): string {
  const lines = [
    `Measured ${context.date} by \`make mutation\` (StrykerJS ${context.stryker}, TAP runner driving \`node --test\` on Node ${context.node}, concurrency 1, \`perTest\` coverage). "Stryker score" = (killed + timeout) / mutants, as Stryker reports it; "score" = (killed + timeout) / (mutants - equivalent): the mutants listed below as equivalent are left out of it, every other unkilled mutant counts against it. Target: 80 % per package.`,
    "",
    "| package / module | mutants | killed | survived | timeout | no coverage | equivalent | Stryker score | score |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
  ];
  for (const { pkg, modules } of results) {
    const total = empty();
    for (const c of modules.values()) add(total, c);
    const row = (name: string, c: Counts, bold: boolean) => {
      const b = (s: string | number) => (bold ? `**${s}**` : String(s));
      return `| ${b(name)} | ${b(c.mutants)} | ${b(c.killed)} | ${b(c.survived)} | ${b(c.timeout)} | ${b(c.noCoverage)} | ${b(c.equivalent)} | ${b(pct(rawScore(c)))} | ${b(pct(score(c)))} |`;
    };
    lines.push(row(pkg, total, true));
    for (const [name, c] of modules) lines.push(row(name, c, false));
  }
  const all = results.flatMap((r) => r.survivors);
  const equivalent = all.filter((s) => s.reason !== undefined);
  const open = all.filter((s) => s.reason === undefined);
  const where = (s: Survivor) =>
    `\`${s.package}/${s.file}:${s.line}\` ${s.mutator}${s.replacement ? ` → \`${s.replacement.replace(/`/g, "'")}\`` : ""}`;
  lines.push(
    "",
    `Equivalent mutants (${equivalent.length}), each with why no test can kill it:`,
    "",
  );
  if (equivalent.length === 0) lines.push("- none");
  for (const s of equivalent) lines.push(`- ${where(s)}: ${s.reason}`);
  lines.push(
    "",
    `Mutants neither killed nor judged equivalent (${open.length}); they count against the score:`,
    "",
  );
  if (open.length === 0) lines.push("- none");
  for (const s of open) lines.push(`- ${where(s)} (${s.status})`);
  return lines.join("\n");
}

function main(): void {
  const root = join(import.meta.dirname, "..");
  const args = process.argv.slice(2);
  const reportOnly = args.includes("--report-only");
  const chosen = args.filter((a) => !a.startsWith("--"));
  const packages = chosen.length > 0 ? chosen : [...PACKAGES];
  const bin = join(root, "node_modules", ".bin");
  for (const pkg of reportOnly ? [] : packages) {
    console.log(`mutation: ${pkg}`);
    // The TAP runner starts `node` from PATH: the workspace's Node 24 must come first.
    const run = spawnSync(
      join(bin, "stryker"),
      ["run", join(root, "scripts", "mutation", `${pkg}.json`)],
      {
        cwd: join(root, pkg),
        stdio: "inherit",
        env: { ...process.env, PATH: `${bin}:${process.env.PATH ?? ""}` },
      },
    );
    if (run.status !== 0) {
      console.error(`mutation: stryker failed on ${pkg} (exit ${run.status ?? run.signal})`);
      process.exit(1);
    }
  }
  const equivalents = JSON.parse(
    readFileSync(join(root, "scripts", "mutation", "equivalent.json"), "utf8"),
  ) as Equivalent[];
  const results = [];
  for (const pkg of PACKAGES) {
    const file = join(root, "test-results", "mutation", `${pkg}.json`);
    if (!existsSync(file)) {
      console.error(`mutation: no report for ${pkg} (${file}); run make mutation`);
      process.exit(1);
    }
    const report = JSON.parse(readFileSync(file, "utf8")) as Report;
    results.push({ pkg, ...summarise(pkg, report, equivalents) });
  }
  const stryker = (
    JSON.parse(
      readFileSync(join(root, "node_modules/@stryker-mutator/core/package.json"), "utf8"),
    ) as { version: string }
  ).version;
  const doc = join(root, "docs", "reliability.md");
  const region = render(results, {
    date: new Date().toISOString().slice(0, 10),
    node: process.versions.node,
    stryker,
  });
  writeFileSync(doc, replaceRegion(readFileSync(doc, "utf8"), "mutation", region));
  let below = false;
  for (const { pkg, modules } of results) {
    const total = empty();
    for (const c of modules.values()) add(total, c);
    console.log(`mutation: ${pkg} ${pct(score(total))}`);
    below ||= score(total) < 80;
  }
  console.log("mutation: docs/reliability.md (mutation region) rewritten");
  if (below) {
    console.error("mutation: a package is below the 80 % target");
    process.exit(1);
  }
}

if (import.meta.main) main();
