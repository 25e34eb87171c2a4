// Bounded waiting on conditions and events, instead of sleeps.
import type { EventEmitter } from "node:events";

/** Options of {@link waitFor}. */
export interface WaitOptions {
  /** Give up after this many milliseconds. @default 10000 */
  timeoutMs?: number;
  /** Poll interval. @default 20 */
  intervalMs?: number;
  /** Names what is awaited, for the timeout error. */
  what?: string;
}

/** Polls `check` until it returns a value other than undefined/false, or throws on timeout. */
export async function waitFor<T>(
  check: () => T | undefined | false | Promise<T | undefined | false>,
  options: WaitOptions = {},
): Promise<T> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
    } catch (e) {
      lastError = e;
    }
    if (Date.now() > deadline) {
      const why = lastError instanceof Error ? ` (last error: ${lastError.message})` : "";
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${options.what ?? "condition"}${why}`,
      );
    }
    await new Promise((r) => setTimeout(r, options.intervalMs ?? 20));
  }
}

/** Resolves with the arguments of the next `event` that satisfies `filter`, or rejects on timeout. */
export function nextEvent<T extends unknown[]>(
  emitter: EventEmitter,
  event: string,
  filter: (...args: T) => boolean = () => true,
  timeoutMs = 10_000,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      emitter.off(event, listener);
      reject(new Error(`timed out after ${timeoutMs} ms waiting for '${event}'`));
    }, timeoutMs);
    const listener = (...args: unknown[]): void => {
      if (!filter(...(args as T))) return;
      clearTimeout(timer);
      emitter.off(event, listener);
      resolve(args as T);
    };
    emitter.on(event, listener);
  });
}
