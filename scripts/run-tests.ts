// Runs every test suite of every workspace package in one node:test run, with one summary.
// Usage: node scripts/run-tests.ts [--unit | --integration] [extra node --test flags]
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join, relative } from "node:path";

const root = join(import.meta.dirname, "..");
const args = process.argv.slice(2);
const only = args.includes("--unit")
  ? "unit"
  : args.includes("--integration")
    ? "integration"
    : "all";
const passThrough = args.filter((a) => a !== "--unit" && a !== "--integration");

function testFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    if (entry === "node_modules" || entry === "fixtures") continue;
    if (statSync(path).isDirectory()) out.push(...testFiles(path));
    else if (/\.test\.ts$/.test(entry)) out.push(path);
  }
  return out;
}

const { workspaces } = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as {
  workspaces: string[];
};
const files = [".", ...workspaces]
  .flatMap((ws) => testFiles(join(root, ws, "test")))
  .filter((f) => {
    const integration = f.endsWith(".integration.test.ts");
    return only === "all" || (only === "integration") === integration;
  })
  .sort(
    (a, b) =>
      Number(a.endsWith(".integration.test.ts")) - Number(b.endsWith(".integration.test.ts")),
  );

if (files.length === 0) {
  console.error("run-tests: no test files found");
  process.exit(1);
}
console.log(`run-tests: ${files.length} test files (${only}) on Node ${process.version}`);
for (const f of files) console.log(`  ${relative(root, f)}`);

const result = spawnSync(
  process.execPath,
  [
    "--test",
    "--test-reporter=spec",
    "--test-timeout=600000",
    // node:test runs availableParallelism() - 1 files at once: one on a 2-core machine. Most
    // integration files wait on processes (API servers, Redis, timers) more than they compute, so
    // two at once keeps the cores busy; tests wait on events, so they hold under the shared load.
    `--test-concurrency=${Math.max(2, availableParallelism() - 1)}`,
    "--disable-warning=ExperimentalWarning",
    ...passThrough,
    ...files,
  ],
  { cwd: root, stdio: "inherit" },
);
process.exit(result.status ?? 1);
