// Reconnect delays: exponential backoff with full jitter, so a relay restart is not met by every
// client at the same instant.

/** Reconnect timing. */
export interface BackoffOptions {
  /** Upper bound of the first delay, in milliseconds. @default 500 */
  initialMs?: number;
  /** Largest delay, in milliseconds. @default 30000 */
  maxMs?: number;
  /** A connection open at least this long counts as healthy and resets the backoff. @default 5000 */
  stableAfterMs?: number;
  /** Source of randomness in [0, 1), replaceable in tests. @default Math.random */
  random?: () => number;
}

/** Backoff settings with every default applied. */
export type ResolvedBackoff = Required<BackoffOptions>;

export function resolveBackoff(options: BackoffOptions = {}): ResolvedBackoff {
  return {
    initialMs: options.initialMs ?? 500,
    maxMs: options.maxMs ?? 30_000,
    stableAfterMs: options.stableAfterMs ?? 5_000,
    random: options.random ?? Math.random,
  };
}

/**
 * The delay before reconnect attempt `attempt` (0 for the first): a uniformly random value between
 * 0 and min(maxMs, initialMs * 2^attempt) ("full jitter").
 */
export function backoffDelay(attempt: number, backoff: ResolvedBackoff): number {
  const ceiling = Math.min(
    backoff.maxMs,
    backoff.initialMs * 2 ** Math.min(Math.max(attempt, 0), 30),
  );
  return Math.floor(backoff.random() * ceiling);
}
