// Workers that take keys from the queue, run the reconciler, and turn its outcome into requeues and metrics.
import type { Logger } from "pino";
import { apiMessageOf, OperatorErrorCode } from "./errors.ts";
import type { WorkQueue } from "./queue.ts";
import { isTerminalError, type Reconciler } from "./reconcile.ts";

/** How one reconcile ended, as controller_runtime_reconcile_total's `result` label. */
export type ReconcileOutcome = "success" | "error" | "requeue" | "requeue_after";

/** Observations the runner reports (the controller_runtime_* metrics). */
export interface RunnerMetrics {
  reconciled(outcome: ReconcileOutcome, seconds: number, terminal: boolean): void;
  /** Workers currently inside a reconcile. */
  active(delta: number): void;
}

/** Options of {@link Runner}. */
export interface RunnerOptions {
  readonly queue: WorkQueue;
  readonly reconciler: Reconciler;
  readonly logger: Logger;
  readonly metrics?: RunnerMetrics;
  /** Reconciles running at once (never two for one key). @default 2 */
  readonly workers?: number;
}

/** The delay of a reconcile that returned `requeue: true`. */
export const REQUEUE_DELAY_MS = 1000;

/** Runs reconciles until stopped. */
export class Runner {
  readonly #options: RunnerOptions;
  #loops: Promise<void>[] = [];

  constructor(options: RunnerOptions) {
    this.#options = options;
  }

  /** Starts the worker loops. */
  start(): void {
    const count = Math.max(1, this.#options.workers ?? 2);
    this.#loops = Array.from({ length: count }, () => this.#loop());
  }

  /** Shuts the queue down and resolves when every reconcile in flight has finished. */
  async stop(): Promise<void> {
    this.#options.queue.shutDown();
    await Promise.all(this.#loops);
  }

  async #loop(): Promise<void> {
    const { queue } = this.#options;
    for (;;) {
      const key = await queue.get();
      if (key === undefined) return;
      try {
        await this.#reconcileOne(key);
      } finally {
        queue.done(key);
      }
    }
  }

  async #reconcileOne(key: string): Promise<void> {
    const { queue, reconciler, metrics } = this.#options;
    const logger = this.#options.logger.child({ key });
    const started = performance.now();
    const seconds = (): number => (performance.now() - started) / 1000;
    metrics?.active(1);
    try {
      const result = await reconciler.reconcile({ key });
      if (result.requeueAfterMs !== undefined && result.requeueAfterMs > 0) {
        queue.forget(key);
        queue.addAfter(key, result.requeueAfterMs);
        metrics?.reconciled("requeue_after", seconds(), false);
      } else if (result.requeue) {
        // Asked for, not a failure: a fixed delay, and the key's failure backoff starts over.
        queue.forget(key);
        queue.addAfter(key, REQUEUE_DELAY_MS);
        metrics?.reconciled("requeue", seconds(), false);
      } else {
        queue.forget(key);
        metrics?.reconciled("success", seconds(), false);
      }
      logger.debug({ ms: Math.round(seconds() * 1000) }, "reconciled");
    } catch (error) {
      if (isTerminalError(error)) {
        queue.forget(key);
        metrics?.reconciled("error", seconds(), true);
        logger.warn({ code: error.code, err: error.message }, "reconcile failed, not retried");
        return;
      }
      const delayMs = queue.addRateLimited(key);
      metrics?.reconciled("error", seconds(), false);
      logger.warn(
        {
          code: codeOf(error),
          err: apiMessageOf(error),
          retries: queue.retries(key),
          retryInMs: delayMs,
        },
        "reconcile failed, retrying",
      );
    } finally {
      metrics?.active(-1);
    }
  }
}

/** The error's own code, else `kube_api`: what fails inside a reconcile is an API call. */
function codeOf(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : OperatorErrorCode.KubeApi;
}
