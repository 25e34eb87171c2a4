// A wall clock with sub-millisecond resolution that agrees across processes: performance.now()
// anchored to the instant Date.now() ticks over, rather than to performance.timeOrigin (which may
// be off by milliseconds, differently in each process).

function anchor(): number {
  const first = Date.now();
  let now = first;
  // Spin (at most a few ms) until the millisecond changes: that instant is exactly `now`.
  while (now === first) now = Date.now();
  return now - performance.now();
}

const offset = anchor();

/** Unix milliseconds, fractional. */
export function preciseNow(): number {
  return offset + performance.now();
}
