// The work queue: keys deduplicated, never handed out twice at once, retried with backoff.
import { RateLimiter } from "./rate-limit.ts";

/** Observations the queue reports (the workqueue_* metrics). */
export interface QueueMetrics {
  depth(value: number): void;
  added(): void;
  retried(): void;
  /** Seconds a key waited in the queue before a worker took it. */
  queued(seconds: number): void;
  /** Seconds a worker held a key. */
  worked(seconds: number): void;
}

const noMetrics: QueueMetrics = {
  depth: () => {},
  added: () => {},
  retried: () => {},
  queued: () => {},
  worked: () => {},
};

/** Options of {@link WorkQueue}. */
export interface WorkQueueOptions {
  /** @default a RateLimiter with its defaults */
  readonly limiter?: RateLimiter;
  readonly metrics?: QueueMetrics;
}

/**
 * client-go's workqueue semantics: a key added while it waits is stored once; a key added while a
 * worker holds it is queued again only when that worker calls `done`, so one key is never
 * reconciled twice at the same time and the later event is not lost.
 */
export class WorkQueue {
  readonly #queue: string[] = [];
  /** Keys waiting to be handed out, with when they were added. */
  readonly #dirty = new Map<string, number>();
  /** Keys a worker holds, with when it took them. */
  readonly #processing = new Map<string, number>();
  /** Delayed adds: key -> [due time, timer]. */
  readonly #delayed = new Map<string, { due: number; timer: NodeJS.Timeout }>();
  readonly #waiters: ((key: string | undefined) => void)[] = [];
  readonly #limiter: RateLimiter;
  readonly #metrics: QueueMetrics;
  #shuttingDown = false;

  constructor(options: WorkQueueOptions = {}) {
    this.#limiter = options.limiter ?? new RateLimiter();
    this.#metrics = options.metrics ?? noMetrics;
  }

  /** Keys waiting (not counting held or delayed ones). */
  get length(): number {
    return this.#queue.length;
  }

  /** Whether a worker holds `key` right now. */
  isProcessing(key: string): boolean {
    return this.#processing.has(key);
  }

  /** Queues `key` unless it already waits. */
  add(key: string): void {
    if (this.#shuttingDown || this.#dirty.has(key)) return;
    this.#metrics.added();
    this.#dirty.set(key, performance.now());
    if (this.#processing.has(key)) return;
    this.#push(key);
  }

  /** Queues `key` after `delayMs`; of several pending delays for one key the earliest stands. */
  addAfter(key: string, delayMs: number): void {
    if (this.#shuttingDown) return;
    if (delayMs <= 0) {
      this.add(key);
      return;
    }
    const due = Date.now() + delayMs;
    const pending = this.#delayed.get(key);
    if (pending && pending.due <= due) return;
    if (pending) clearTimeout(pending.timer);
    const timer = setTimeout(() => {
      this.#delayed.delete(key);
      this.add(key);
    }, delayMs);
    timer.unref();
    this.#delayed.set(key, { due, timer });
  }

  /** Queues `key` after its backoff delay: for a failed reconcile. Returns the delay. */
  addRateLimited(key: string): number {
    const delay = this.#limiter.when(key);
    this.#metrics.retried();
    this.addAfter(key, delay);
    return delay;
  }

  /** Resets `key`'s backoff: its reconcile succeeded, or retrying cannot help. */
  forget(key: string): void {
    this.#limiter.forget(key);
  }

  /** Failed reconciles of `key` since it was last forgotten. */
  retries(key: string): number {
    return this.#limiter.failures(key);
  }

  /** The next key to work on, held until `done(key)`; `undefined` once the queue shuts down. */
  get(): Promise<string | undefined> {
    const key = this.#queue.shift();
    if (key !== undefined) return Promise.resolve(this.#take(key));
    if (this.#shuttingDown) return Promise.resolve(undefined);
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /** Releases `key`; if it was added meanwhile, it is queued again now. */
  done(key: string): void {
    const since = this.#processing.get(key);
    if (since !== undefined) this.#metrics.worked((performance.now() - since) / 1000);
    this.#processing.delete(key);
    if (this.#dirty.has(key) && !this.#shuttingDown) this.#push(key);
  }

  /** Stops handing out keys: waiting `get()` calls resolve with undefined; delayed adds are dropped. */
  shutDown(): void {
    this.#shuttingDown = true;
    for (const { timer } of this.#delayed.values()) clearTimeout(timer);
    this.#delayed.clear();
    for (const waiter of this.#waiters.splice(0)) waiter(undefined);
  }

  #take(key: string): string {
    const added = this.#dirty.get(key);
    this.#dirty.delete(key);
    if (added !== undefined) this.#metrics.queued((performance.now() - added) / 1000);
    this.#processing.set(key, performance.now());
    this.#metrics.depth(this.#queue.length);
    return key;
  }

  #push(key: string): void {
    const waiter = this.#waiters.shift();
    if (waiter) {
      waiter(this.#take(key));
      return;
    }
    this.#queue.push(key);
    this.#metrics.depth(this.#queue.length);
  }
}
