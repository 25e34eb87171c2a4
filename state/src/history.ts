// Retention settings of a channel's job state (history.maxJobs, history.ttlSeconds).

/** How much job state a channel keeps for snapshots. */
export interface History {
  /**
   * Most jobs kept. Finished jobs go first, least recently updated first, then running ones; the
   * job just published is kept. 0 = unbounded. @default 1000
   */
  maxJobs: number;
  /** Seconds a job is kept after its last update. 0 = forever. @default 86400 */
  ttlSeconds: number;
}

export const DEFAULT_HISTORY: Readonly<History> = Object.freeze({
  maxJobs: 1000,
  ttlSeconds: 86400,
});

/** The oldest last-update time (Unix ms) still retained at `now`. */
export function retainedSince(history: History, now: number): number {
  return history.ttlSeconds > 0 ? now - history.ttlSeconds * 1000 : 0;
}
