// Figures the fault and hostile-input suites report, one JSON line each, for docs/reliability.md.
// `make reliability` (scripts/reliability-report.ts) reads them back and writes the tables.
import { appendFileSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";

/** One row of the "Faults" table: a scenario run with faults injected, and what users saw. */
export interface FaultFigures {
  /** What was broken, e.g. "relay SIGKILL mid-fan-out". */
  scenario: string;
  /** The load it ran under, e.g. "200 jobs, 50 subscribers". */
  load: string;
  /** How many faults were injected (kills, partitions, restarts...). */
  faultsInjected: number;
  /** Updates the workers published. */
  updatesPublished: number;
  /** Jobs whose final update reached the subscribers. */
  finalUpdatesDelivered: number;
  /** Final updates that never reached a subscriber; must be 0. */
  lost: number;
  /** Updates a subscriber was shown twice (same job and seq). */
  duplicatesShown: number;
  /** From the last fault to every subscriber caught up, in seconds; null when not measured. */
  recoverySeconds: number | null;
}

/** One row of the "Hostile input" table: cases thrown at one surface. */
export interface HostileFigures {
  /** The surface attacked, e.g. "relay: client frames". */
  surface: string;
  /** Cases tried. */
  cases: number;
  /** Refusals by documented code (close code, HTTP status or error code), with counts. */
  refusals: Record<string, number>;
  /** Processes that crashed; must be 0. */
  crashes: number;
  /** The fast-check seed of the run, when generated. */
  seed?: number;
  /** The canary client's p99 in ms while the cases ran, when one was kept. */
  canaryP99Ms?: number;
}

/** Where the lines go: JOBCHANNEL_RELIABILITY_DIR, or test-results/reliability at the repository root. */
export function reliabilityDir(): string {
  return (
    process.env.JOBCHANNEL_RELIABILITY_DIR ??
    join(import.meta.dirname, "..", "..", "test-results", "reliability")
  );
}

function append(file: string, record: object): void {
  const path = join(reliabilityDir(), file);
  mkdirSync(dirname(path), { recursive: true });
  appendFileSync(path, `${JSON.stringify({ ...record, at: new Date().toISOString() })}\n`);
}

/** Records a fault scenario's figures (faults.jsonl) and prints them. */
export function recordFaults(figures: FaultFigures): void {
  console.log(`reliability: ${JSON.stringify(figures)}`);
  append("faults.jsonl", figures);
}

/** Records a hostile-input surface's figures (hostile.jsonl) and prints them. */
export function recordHostile(figures: HostileFigures): void {
  console.log(`reliability: ${JSON.stringify(figures)}`);
  append("hostile.jsonl", figures);
}
