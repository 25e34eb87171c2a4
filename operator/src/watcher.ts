// List+watch that never goes silently stale: restarts with jittered backoff, relists on 410 and on silence.
import type { Logger } from "pino";
import { apiMessageOf, OperatorErrorCode, statusCodeOf } from "./errors.ts";
import { withTimeout } from "./timeout.ts";

/** A watch event type as the API server sends it. */
export type WatchEventType = "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK" | "ERROR";

/** A running watch request. */
export interface WatchHandle {
  abort(): void;
}

/** Where a watcher lists and watches one kind of object. */
export interface ListWatchSource {
  /** A full list and the resourceVersion it was read at; the request is aborted when `signal` fires. */
  list(signal: AbortSignal): Promise<{ items: unknown[]; resourceVersion: string }>;
  /**
   * Opens a watch from `resourceVersion`. `onEvent` receives each event; `onDone` is called once
   * when the watch ends, with the error if it failed (null for a clean close by the server).
   */
  watch(
    resourceVersion: string,
    onEvent: (type: WatchEventType, object: unknown) => void,
    onDone: (error: unknown) => void,
  ): Promise<WatchHandle>;
}

/** What a watcher feeds: the store. */
export interface WatchSink {
  /** The complete current set after a (re)list; replaces everything known before. */
  replace(items: readonly unknown[]): void;
  /** One added or modified object. */
  upsert(object: unknown): void;
  /** One deleted object. */
  remove(object: unknown): void;
}

/** Why the watcher restarted a watch or relisted (the `reason` label of its metrics). */
export type RestartReason = "error" | "expired" | "silent" | "initial" | "sink";

/** Observations the watcher reports. */
export interface WatcherMetrics {
  restarted(watcher: string, reason: RestartReason): void;
  relisted(watcher: string, reason: RestartReason): void;
}

/** Options of {@link Watcher}. */
export interface WatcherOptions {
  /** Names the watcher in logs and metrics, e.g. `jobchannels`. */
  readonly name: string;
  readonly source: ListWatchSource;
  readonly sink: WatchSink;
  readonly logger: Logger;
  readonly metrics?: WatcherMetrics;
  /** First delay after a failure. @default 500 */
  readonly initialBackoffMs?: number;
  /** Longest delay after repeated failures. @default 30000 */
  readonly maxBackoffMs?: number;
  /**
   * Relist when no event (bookmarks included) arrived for this long, across watch reconnects: a
   * safety net for events a broken watch may have missed. @default 300000
   */
  readonly silenceMs?: number;
  /** A list that has not answered after this long counts as failed. @default 60000 */
  readonly listTimeoutMs?: number;
  /** Consecutive watch failures after which the next attempt relists instead of resuming. @default 3 */
  readonly relistAfterFailures?: number;
  /** Random source in [0, 1), for jitter. @default Math.random */
  readonly random?: () => number;
}

/**
 * The one place that handles broken watches (client-node's own informer stops on a non-410 error).
 * Lists, then watches from the list's resourceVersion; a clean close resumes at once; a failure
 * resumes after a jittered exponential backoff; a 410 Gone, repeated failures or a watch silent
 * for longer than `silenceMs` relist, so the store is never left behind.
 */
export class Watcher {
  readonly #o: Required<Omit<WatcherOptions, "metrics">> & { metrics?: WatcherMetrics };
  #stopped = false;
  #synced = false;
  #resourceVersion = "";
  #relistReason: RestartReason | undefined = "initial";
  #failures = 0;
  #lastActivity = 0;
  #handle: WatchHandle | undefined;
  #wake: (() => void) | undefined;
  #loop: Promise<void> | undefined;

  constructor(options: WatcherOptions) {
    this.#o = {
      initialBackoffMs: 500,
      maxBackoffMs: 30_000,
      silenceMs: 300_000,
      relistAfterFailures: 3,
      listTimeoutMs: 60_000,
      random: Math.random,
      ...options,
    };
  }

  /** Whether the first list has been delivered to the sink. */
  get synced(): boolean {
    return this.#synced;
  }

  /** Starts listing and watching in the background. */
  start(): void {
    this.#loop ??= this.#run();
  }

  /** Stops the watch; resolves when the loop has ended. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#handle?.abort();
    this.#wake?.();
    await this.#loop;
  }

  /** The delay before the next attempt: exponential in consecutive failures, with full jitter in its upper half. */
  backoffMs(failures: number): number {
    if (failures <= 0) return 0;
    const ceiling = Math.min(
      this.#o.maxBackoffMs,
      this.#o.initialBackoffMs * 2 ** Math.min(failures - 1, 30),
    );
    return Math.round(ceiling / 2 + (ceiling / 2) * this.#o.random());
  }

  async #run(): Promise<void> {
    const log = this.#o.logger.child({ watcher: this.#o.name });
    while (!this.#stopped) {
      await this.#sleep(this.backoffMs(this.#failures));
      if (this.#stopped) break;
      if (this.#relistReason !== undefined) {
        const reason = this.#relistReason;
        try {
          // The signal aborts the request itself; the race is a backstop for a source that ignores it.
          const { items, resourceVersion } = await withTimeout(
            this.#o.source.list(AbortSignal.timeout(this.#o.listTimeoutMs)),
            this.#o.listTimeoutMs + 1000,
            "list",
          );
          if (this.#stopped) break;
          this.#o.sink.replace(items);
          this.#resourceVersion = resourceVersion;
          this.#relistReason = undefined;
          this.#failures = 0;
          this.#lastActivity = Date.now();
          this.#synced = true;
          this.#o.metrics?.relisted(this.#o.name, reason);
          log.info({ reason, items: items.length, resourceVersion }, "listed");
        } catch (error) {
          this.#failures += 1;
          this.#o.metrics?.restarted(this.#o.name, "error");
          log.warn(
            {
              code: OperatorErrorCode.WatchFailed,
              err: apiMessageOf(error),
              failures: this.#failures,
            },
            "list failed",
          );
          continue;
        }
      }
      const outcome = await this.#watchOnce();
      if (this.#stopped) break;
      if (outcome === "closed") continue;
      this.#o.metrics?.restarted(this.#o.name, outcome.reason);
      if (outcome.reason === "sink") {
        // The cache may have missed the event that failed: only a relist makes it whole again.
        this.#relistReason = "sink";
        log.error(
          { code: OperatorErrorCode.WatchFailed, err: apiMessageOf(outcome.error) },
          "applying a watch event failed; relisting",
        );
      } else if (outcome.reason === "error") {
        this.#failures += 1;
        if (this.#failures >= this.#o.relistAfterFailures) this.#relistReason = "error";
        log.warn(
          {
            code: OperatorErrorCode.WatchFailed,
            err: apiMessageOf(outcome.error),
            failures: this.#failures,
          },
          "watch failed",
        );
      } else {
        this.#relistReason = outcome.reason;
        log.info({ reason: outcome.reason }, "relisting");
      }
    }
  }

  /** One watch request, until it ends; says how it ended. */
  async #watchOnce(): Promise<"closed" | { reason: RestartReason; error?: unknown }> {
    let expired = false;
    let silent = false;
    let failure: unknown;
    let sinkFailure: unknown;
    let events = 0;
    const opened = Date.now();
    const ended = new Promise<unknown>((resolve) => {
      const onEvent = (type: WatchEventType, object: unknown): void => {
        this.#lastActivity = Date.now();
        events += 1;
        if (type === "ERROR") {
          // A Status object: 410 means our resourceVersion is too old to resume from.
          if (statusCodeOf(object) === 410) expired = true;
          else failure = new Error(`watch error event: ${apiMessageOf({ body: object })}`);
          this.#handle?.abort();
          return;
        }
        if (sinkFailure !== undefined) return;
        try {
          if (type === "ADDED" || type === "MODIFIED") this.#o.sink.upsert(object);
          else if (type === "DELETED") this.#o.sink.remove(object);
        } catch (error) {
          sinkFailure = error;
          this.#handle?.abort();
          return;
        }
        const rv = resourceVersionOf(object);
        if (rv) this.#resourceVersion = rv;
        this.#failures = 0;
      };
      this.#o.source
        .watch(this.#resourceVersion, onEvent, resolve)
        .then((handle) => {
          this.#handle = handle;
          if (this.#stopped) handle.abort();
        })
        .catch(resolve);
    });
    const checkEvery = Math.max(10, Math.min(this.#o.silenceMs / 4, 10_000));
    const timer = setInterval(() => {
      if (Date.now() - this.#lastActivity > this.#o.silenceMs) {
        silent = true;
        this.#handle?.abort();
      }
    }, checkEvery);
    timer.unref();
    const error = await ended;
    clearInterval(timer);
    this.#handle = undefined;
    if (sinkFailure !== undefined) return { reason: "sink", error: sinkFailure };
    if (expired || statusCodeOf(error) === 410) return { reason: "expired" };
    if (silent) return { reason: "silent" };
    if (failure) return { reason: "error", error: failure };
    if (error && !isInactivityTimeout(error) && !isAbort(error)) return { reason: "error", error };
    // A server that closes every watch at once would otherwise be polled in a tight loop.
    if (events === 0 && Date.now() - opened < MIN_CLEAN_WATCH_MS) {
      return { reason: "error", error: new Error("watch closed before any event") };
    }
    return "closed";
  }

  #sleep(ms: number): Promise<void> {
    if (ms <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.#wake = done;
    });
  }
}

/** A watch that ends cleanly sooner than this without events counts as a failure. */
const MIN_CLEAN_WATCH_MS = 1000;

function resourceVersionOf(object: unknown): string | undefined {
  const rv = (object as { metadata?: { resourceVersion?: unknown } } | null)?.metadata
    ?.resourceVersion;
  return typeof rv === "string" ? rv : undefined;
}

/** client-node ends a watch that received nothing for a while with a TimeoutError: a normal close. */
function isInactivityTimeout(error: unknown): boolean {
  return error instanceof Error && error.name === "TimeoutError";
}

function isAbort(error: unknown): boolean {
  return error instanceof Error && error.name === "AbortError";
}
