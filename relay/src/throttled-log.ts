// Logs a recurring problem at most once per interval, with how many were suppressed in between:
// a flood of bad Redis payloads must not turn into a flood of log lines.
import type { Logger } from "pino";

export class ThrottledLog {
  readonly #logger: Logger;
  readonly #intervalMs: number;
  readonly #last = new Map<string, { at: number; suppressed: number }>();

  /** @param intervalMs least time between two lines of one kind, ms. @default 10000 */
  constructor(logger: Logger, intervalMs = 10_000) {
    this.#logger = logger;
    this.#intervalMs = intervalMs;
  }

  /** Logs `msg` at warn level unless a line of this `kind` went out less than the interval ago. */
  warn(kind: string, fields: Record<string, unknown>, msg: string): void {
    const now = Date.now();
    const last = this.#last.get(kind);
    if (last && now - last.at < this.#intervalMs) {
      last.suppressed++;
      return;
    }
    this.#logger.warn({ ...fields, suppressed: last?.suppressed ?? 0 }, msg);
    this.#last.set(kind, { at: now, suppressed: 0 });
  }
}
