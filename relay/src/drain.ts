// The drain's schedule: connections shuffled, then closed in batches spread with jitter over a
// window, so clients do not all reconnect to the other replicas at the same instant.

/** One batch per 100 ms of the window, at most one per item. */
const BATCH_MS = 100;

/**
 * Calls `close` on every item, in shuffled batches spread over `ms` (each batch at a random
 * moment in the first half of its slot). Returns the timers, to clear when done early.
 */
export function closeInBatches<T>(
  items: readonly T[],
  ms: number,
  close: (item: T) => void,
): NodeJS.Timeout[] {
  const shuffled = [...items];
  for (let i = shuffled.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!];
  }
  const batches = Math.max(1, Math.min(shuffled.length, Math.ceil(ms / BATCH_MS)));
  const slot = ms / batches;
  const timers: NodeJS.Timeout[] = [];
  for (let b = 0; b < batches; b++) {
    const batch = shuffled.filter((_, i) => i % batches === b);
    const at = b * slot + Math.random() * slot * 0.5;
    timers.push(setTimeout(() => batch.forEach(close), at));
  }
  return timers;
}
