// Retry delays for the work queue: per-key exponential backoff combined with a global token bucket.

/** Options of {@link RateLimiter}. */
export interface RateLimiterOptions {
  /** First retry delay of a key. @default 5 */
  readonly baseDelayMs?: number;
  /** Longest retry delay of a key. @default 300000 */
  readonly maxDelayMs?: number;
  /** Retries per second across all keys. @default 10 */
  readonly ratePerSecond?: number;
  /** Retries allowed at once before the rate applies. @default 100 */
  readonly burst?: number;
  /** Clock, for tests. @default Date.now */
  readonly now?: () => number;
}

/**
 * controller-runtime's default limiter shape: the delay of a retry is the larger of the key's own
 * exponential backoff (base * 2^failures, capped) and the wait for a token from a bucket shared by
 * all keys, so a storm of failures cannot hammer the API server.
 */
export class RateLimiter {
  readonly #base: number;
  readonly #max: number;
  readonly #rate: number;
  readonly #burst: number;
  readonly #now: () => number;
  readonly #failures = new Map<string, number>();
  #tokens: number;
  #last: number;

  constructor(options: RateLimiterOptions = {}) {
    this.#base = options.baseDelayMs ?? 5;
    this.#max = options.maxDelayMs ?? 300_000;
    this.#rate = options.ratePerSecond ?? 10;
    this.#burst = options.burst ?? 100;
    this.#now = options.now ?? Date.now;
    this.#tokens = this.#burst;
    this.#last = this.#now();
  }

  /** The delay before retrying `key`, counting one more failure of it. */
  when(key: string): number {
    const failures = this.#failures.get(key) ?? 0;
    this.#failures.set(key, failures + 1);
    const backoff = Math.min(this.#max, this.#base * 2 ** Math.min(failures, 62));
    return Math.max(backoff, this.#reserve());
  }

  /** How many times `key` failed since it was last forgotten. */
  failures(key: string): number {
    return this.#failures.get(key) ?? 0;
  }

  /** Resets the backoff of `key` after a success. */
  forget(key: string): void {
    this.#failures.delete(key);
  }

  /** Takes one token, possibly going into debt; returns how long until that token exists. */
  #reserve(): number {
    const now = this.#now();
    this.#tokens = Math.min(this.#burst, this.#tokens + ((now - this.#last) / 1000) * this.#rate);
    this.#last = now;
    this.#tokens -= 1;
    return this.#tokens >= 0 ? 0 : Math.ceil((-this.#tokens / this.#rate) * 1000);
  }
}
