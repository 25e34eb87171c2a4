// One channel's jobs keyed by jobId: merges snapshots and live updates, drops stale ones by seq,
// and keeps a cached newest-first list so that UIs can compare it by identity.
import { isTerminalStatus, type JobUpdate } from "@jobchannel/protocol";

/** A job as the client holds it, with the order in which this client first saw it. */
export interface JobEntry<T extends JobUpdate = JobUpdate> {
  readonly job: T;
  /** Larger for jobs seen later; unique within one client. */
  readonly ordinal: number;
}

/**
 * True when `incoming` may replace `held`: an update whose `seq` is not greater than the held one's
 * is stale (a snapshot entry older than a live update already applied, or a duplicate). Updates
 * without `seq` (a raw `PUBLISH`) cannot be ordered and are always taken.
 */
export function isNewer(held: JobUpdate | undefined, incoming: JobUpdate): boolean {
  if (held?.seq === undefined || incoming.seq === undefined) return true;
  return incoming.seq > held.seq;
}

export class JobMap<T extends JobUpdate = JobUpdate> {
  readonly #entries = new Map<string, JobEntry<T>>();
  readonly #maxJobs: number;
  readonly #nextOrdinal: () => number;
  #entriesCache: readonly JobEntry<T>[] | undefined;
  #jobsCache: readonly T[] | undefined;

  /**
   * @param maxJobs most jobs kept; past it the oldest finished jobs go first, then the oldest.
   * @param nextOrdinal a counter shared by all maps of one client, so lists of several channels
   *   can be merged in the order the jobs were first seen.
   */
  constructor(maxJobs: number, nextOrdinal: () => number) {
    this.#maxJobs = maxJobs;
    this.#nextOrdinal = nextOrdinal;
  }

  get size(): number {
    return this.#entries.size;
  }

  get(jobId: string): T | undefined {
    return this.#entries.get(jobId)?.job;
  }

  /**
   * Applies one update; returns false when it was stale. An update with `seq` is the job's whole
   * state as the publisher SDK stored it, so it replaces the held one: fields the publisher dropped
   * go. An update without `seq` (a raw `PUBLISH`, which may send only what changed) is merged: the
   * fields it carries replace the held ones and the rest are kept.
   */
  apply(update: T): boolean {
    const held = this.#entries.get(update.jobId);
    if (!isNewer(held?.job, update)) return false;
    const job = held && update.seq === undefined ? ({ ...held.job, ...update } as T) : update;
    this.#entries.set(update.jobId, { job, ordinal: held?.ordinal ?? this.#nextOrdinal() });
    this.#entriesCache = undefined;
    this.#jobsCache = undefined;
    if (!held) this.#evict(update.jobId);
    return true;
  }

  /** Applies updates in order (a snapshot, oldest first); returns true if any was taken. */
  applyAll(updates: readonly T[]): boolean {
    let changed = false;
    for (const update of updates) changed = this.apply(update) || changed;
    return changed;
  }

  /** Entries, newest first; the same array until the map changes. */
  entries(): readonly JobEntry<T>[] {
    this.#entriesCache ??= [...this.#entries.values()].reverse();
    return this.#entriesCache;
  }

  /** Jobs, newest first; the same array until the map changes. */
  jobs(): readonly T[] {
    this.#jobsCache ??= this.entries().map((e) => e.job);
    return this.#jobsCache;
  }

  /** Makes room after `added` was inserted, never evicting `added` itself. */
  #evict(added: string): void {
    if (this.#maxJobs <= 0 || this.#entries.size <= this.#maxJobs) return;
    // Map order is insertion order, so the first terminal job found is the oldest finished one.
    let oldest: string | undefined;
    for (const [jobId, entry] of this.#entries) {
      if (jobId === added) continue;
      oldest ??= jobId;
      if (isTerminalStatus(entry.job.status)) {
        this.#entries.delete(jobId);
        return;
      }
    }
    if (oldest !== undefined) this.#entries.delete(oldest);
  }
}

/** Merges newest-first entry lists of several channels into one newest-first job list. */
export function mergeNewestFirst<T extends JobUpdate>(
  lists: readonly (readonly JobEntry<T>[])[],
): T[] {
  if (lists.length === 1) return lists[0]!.map((e) => e.job);
  const all = lists.flat();
  all.sort((a, b) => b.ordinal - a.ordinal);
  return all.map((e) => e.job);
}
