// The seed and run counts of the property-based hostile-input suites, and tallies of their refusals.

/** `JOBCHANNEL_RELIABILITY_PROFILE=full` (make reliability) or the reduced profile of make test. */
export type ReliabilityProfile = "reduced" | "full";

/** The profile of this run. @default "reduced" */
export function reliabilityProfile(): ReliabilityProfile {
  return process.env.JOBCHANNEL_RELIABILITY_PROFILE === "full" ? "full" : "reduced";
}

/**
 * The fast-check seed of this run: JOBCHANNEL_FUZZ_SEED, else the UTC date as YYYYMMDD, so a
 * day's runs repeat each other and a failure can be replayed by setting the variable. Printed once
 * per call with `label`.
 */
export function fuzzSeed(label: string): number {
  const raw = process.env.JOBCHANNEL_FUZZ_SEED;
  let seed: number;
  if (raw !== undefined && raw.trim() !== "") {
    seed = Number(raw);
    if (!Number.isSafeInteger(seed))
      throw new Error(`JOBCHANNEL_FUZZ_SEED="${raw}" is not an integer`);
  } else {
    seed = Number(new Date().toISOString().slice(0, 10).replaceAll("-", ""));
  }
  console.log(
    `fuzz: ${label}: seed ${seed} (replay with JOBCHANNEL_FUZZ_SEED=${seed}), profile ${reliabilityProfile()}`,
  );
  return seed;
}

/** `reduced` runs under make test, `full` under JOBCHANNEL_RELIABILITY_PROFILE=full. */
export function fuzzRuns(reduced: number, full: number): number {
  return reliabilityProfile() === "full" ? full : reduced;
}

/** Cases and refusals by documented code, counted as a surface's cases run. */
export class RefusalTally {
  cases = 0;
  readonly refusals: Record<string, number> = {};

  /** Counts one case refused with `code` (a close code, HTTP status or error code). */
  refused(code: string | number): void {
    this.cases++;
    const key = String(code);
    this.refusals[key] = (this.refusals[key] ?? 0) + 1;
  }

  /** Counts one case that was accepted (a valid input among the generated ones). */
  accepted(): void {
    this.cases++;
  }
}

/** The p-th percentile (0-100) of `values` by nearest rank; NaN when empty. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1]!;
}
