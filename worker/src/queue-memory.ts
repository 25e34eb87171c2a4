// The in-process job queue for the one-process local stack (no REDIS_URL): nothing survives the process.
import {
  HandBackJob,
  RetryJob,
  ShutdownAbort,
  backoffMs,
  type JobQueue,
  type Processor,
  type QueueHooks,
  type QueuedJob,
} from "./queue.ts";

/** Options of {@link MemoryQueue}. */
export interface MemoryQueueOptions {
  /** Jobs run at once. @default 4 */
  concurrency?: number;
  /** First retry delay, doubled each retry. @default 1000 */
  retryDelayMs?: number;
}

interface Waiting {
  job: QueuedJob;
  attempt: number;
}

export class MemoryQueue implements JobQueue {
  readonly durable = false;
  readonly #concurrency: number;
  readonly #retryDelayMs: number;
  readonly #waiting: Waiting[] = [];
  readonly #retrying = new Map<NodeJS.Timeout, Waiting>();
  readonly #running = new Map<AbortController, Promise<void>>();
  readonly #byJob = new Map<string, AbortController>();
  #processor: Processor | undefined;
  #hooks: QueueHooks | undefined;
  #closing = false;

  constructor(options: MemoryQueueOptions = {}) {
    this.#concurrency = options.concurrency ?? 4;
    this.#retryDelayMs = options.retryDelayMs ?? 1000;
  }

  async enqueue(job: QueuedJob): Promise<void> {
    if (this.#closing) throw new Error("the queue is closed");
    this.#waiting.push({ job, attempt: 1 });
    this.#pump();
  }

  async start(processor: Processor, hooks: QueueHooks): Promise<void> {
    this.#processor = processor;
    this.#hooks = hooks;
    this.#pump();
  }

  cancel(jobId: string, reason: Error): boolean {
    const controller = this.#byJob.get(jobId);
    controller?.abort(reason);
    return controller !== undefined;
  }

  async isReady(): Promise<boolean> {
    return !this.#closing;
  }

  async close(graceMs: number): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    // Jobs that have not started cannot move to another process: they fail with a reason.
    const unstarted = [...this.#waiting.splice(0), ...this.#retrying.values()];
    for (const timer of this.#retrying.keys()) clearTimeout(timer);
    this.#retrying.clear();
    const running = [...this.#running.values()];
    let timer: NodeJS.Timeout | undefined;
    const graceOver = new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs)));
    await Promise.race([Promise.all(running), graceOver]);
    clearTimeout(timer);
    for (const controller of this.#running.keys()) controller.abort(new ShutdownAbort());
    await Promise.all(this.#running.values());
    for (const { job } of unstarted) {
      await this.#hooks?.lost(job, "the worker shut down before the job started", "shut_down");
    }
  }

  #pump(): void {
    const processor = this.#processor;
    if (!processor || this.#closing) return;
    while (this.#running.size < this.#concurrency && this.#waiting.length > 0) {
      const next = this.#waiting.shift()!;
      const controller = new AbortController();
      this.#byJob.set(next.job.jobId, controller);
      const run = this.#run(processor, next, controller).finally(() => {
        this.#running.delete(controller);
        this.#byJob.delete(next.job.jobId);
        this.#pump();
      });
      this.#running.set(controller, run);
    }
  }

  async #run(processor: Processor, waiting: Waiting, controller: AbortController): Promise<void> {
    const { job, attempt } = waiting;
    try {
      await processor({
        job,
        attempt,
        maxAttempts: job.attempts,
        restarts: 0,
        signal: controller.signal,
      });
    } catch (e) {
      // The runner published the outcome; only a retry needs the queue's help.
      if (e instanceof RetryJob && !this.#closing) {
        const retry = { job, attempt: attempt + 1 };
        const timer = setTimeout(
          () => {
            this.#retrying.delete(timer);
            this.#waiting.push(retry);
            this.#pump();
          },
          backoffMs(this.#retryDelayMs, attempt),
        );
        this.#retrying.set(timer, retry);
      } else if (e instanceof RetryJob || e instanceof HandBackJob) {
        await this.#hooks?.lost(
          job,
          "the worker shut down before the job could be retried",
          "shut_down",
        );
      }
    }
  }
}
