// The durable job queue: BullMQ on Redis, with crash recovery.
import { DEFAULT_REDIS_PREFIX } from "@jobchannel/protocol";
import { DelayedError, Queue, UnrecoverableError, Worker, type Job } from "bullmq";
import type { Cluster, Redis } from "ioredis";
import type { Logger } from "pino";
import {
  FailJob,
  HandBackJob,
  LockLost,
  ShutdownAbort,
  type JobQueue,
  type Processor,
  type QueueHooks,
  type QueuedJob,
} from "./queue.ts";
import { openRedis } from "./redis-connection.ts";

/** Options of {@link BullMQQueue}. */
export interface BullMQQueueOptions {
  redisUrl: string;
  /** The job types this process serves; one BullMQ queue each. */
  types: readonly string[];
  /** Jobs run at once per job type. @default 4 */
  concurrency?: number;
  /** First retry delay, doubled each retry. @default 1000 */
  retryDelayMs?: number;
  /** Lock lifetime of a running job; renewed every half of it while the process lives. @default 30000 */
  lockDurationMs?: number;
  /** How often the stalled-job check runs. @default 30000 */
  stalledIntervalMs?: number;
  /** Restarts after a process died before the job fails. @default 1 */
  maxStalledCount?: number;
  /**
   * Prefix of jobchannel's keys. BullMQ's keys of a job type live under `<prefix>{<type>}:queue`,
   * in the hash slot of the channel's job state, so its scripts run on a Redis Cluster.
   * @default "jobchannel:"
   */
  prefix?: string;
  logger: Logger;
}

/** How long handing jobs back at shutdown may take before the queue stops regardless. */
const HAND_BACK_MS = 5000;

/** Resolves after `ms`, without keeping the process alive. */
function after(ms: number): Promise<"timeout"> {
  return new Promise((resolve) => setTimeout(() => resolve("timeout"), ms).unref());
}

/**
 * BullMQ's key prefix for a job type: `<prefix>{<type>}:queue`. The hash tag is the channel's own,
 * as in the job-state keys, so every key of a BullMQ script shares one Redis Cluster slot.
 * (Before: `<prefix>queue` for every type, without a hash tag; see the README's upgrade note.)
 */
export function bullPrefix(prefix: string, type: string): string {
  return `${prefix}{${type}}:queue`;
}

/** BullMQ's queue name for a job type. */
export function queueName(type: string): string {
  return type;
}

export class BullMQQueue implements JobQueue {
  readonly durable = true;
  readonly #options: Required<Omit<BullMQQueueOptions, "logger">>;
  readonly #log: Logger;
  readonly #connection: Redis | Cluster;
  readonly #queues = new Map<string, Queue>();
  readonly #workers: Worker[] = [];
  readonly #running = new Map<AbortController, string>();
  // Errors thrown by our processor: their outcome is already published, unlike BullMQ's own failures.
  readonly #handled = new WeakSet<Error>();
  #closing = false;

  constructor(options: BullMQQueueOptions) {
    this.#options = {
      concurrency: 4,
      retryDelayMs: 1000,
      lockDurationMs: 30_000,
      stalledIntervalMs: 30_000,
      maxStalledCount: 1,
      prefix: DEFAULT_REDIS_PREFIX,
      ...options,
    };
    this.#log = options.logger;
    // BullMQ needs commands to wait through reconnects rather than fail after a few retries.
    this.#connection = openRedis(options.redisUrl, {
      maxRetriesPerRequest: null,
      lazyConnect: false,
    });
    this.#connection.on("error", (e: Error) =>
      this.#log.warn({ err: e.message }, "queue redis error"),
    );
    for (const type of options.types) {
      const queue = new Queue(queueName(type), {
        connection: this.#connection,
        prefix: this.#bullPrefix(type),
      });
      queue.on("error", (e: Error) => this.#log.warn({ err: e.message, type }, "queue error"));
      this.#queues.set(type, queue);
    }
  }

  #bullPrefix(type: string): string {
    return bullPrefix(this.#options.prefix, type);
  }

  async enqueue(job: QueuedJob): Promise<void> {
    const queue = this.#queues.get(job.type);
    if (!queue || this.#closing) throw new Error(`no open queue for job type ${job.type}`);
    await queue.add(job.type, job, {
      jobId: job.jobId,
      attempts: job.attempts,
      backoff: { type: "exponential", delay: this.#options.retryDelayMs },
      // The job state lives in the job-state store; BullMQ keeps only a bounded trail for debugging.
      removeOnComplete: { age: 3600, count: 1000 },
      removeOnFail: { age: 86_400, count: 1000 },
    });
  }

  async start(processor: Processor, hooks: QueueHooks): Promise<void> {
    const o = this.#options;
    for (const type of this.#queues.keys()) {
      // Three declared parameters make BullMQ pass its lock-loss signal.
      const process = async (
        job: Job<QueuedJob>,
        token?: string,
        signal?: AbortSignal,
      ): Promise<unknown> => this.#process(processor, job, token, signal);
      const worker = new Worker<QueuedJob>(queueName(type), process, {
        connection: this.#connection,
        prefix: this.#bullPrefix(type),
        concurrency: o.concurrency,
        lockDuration: o.lockDurationMs,
        stalledInterval: o.stalledIntervalMs,
        maxStalledCount: o.maxStalledCount,
        removeOnComplete: { age: 3600, count: 1000 },
        removeOnFail: { age: 86_400, count: 1000 },
      });
      worker.on("error", (e: Error) =>
        this.#log.warn({ err: e.message, type }, "queue worker error"),
      );
      // BullMQ only reports a lock it failed to renew (a blocked event loop, a Redis outage);
      // the run must stop, since the stalled-job check may hand the job to another process.
      worker.on("lockRenewalFailed", (jobIds: string[]) => {
        for (const jobId of jobIds) {
          this.#log.warn({ jobId, channel: type }, "job lock lost: cancelling its run here");
          this.cancel(jobId, new LockLost(jobId));
        }
      });
      worker.on("stalled", (jobId: string) =>
        this.#log.warn(
          { jobId, channel: type },
          "job stalled: its process stopped; moved back to wait",
        ),
      );
      worker.on("failed", (job: Job<QueuedJob> | undefined, error: Error) => {
        if (!job || this.#handled.has(error)) return;
        // BullMQ failed it without running our processor: it stalled more often than allowed.
        const reason = `the worker process running this job stopped ${job.stalledCounter} time(s), more than the limit of ${o.maxStalledCount} (${error.message})`;
        hooks
          .lost(job.data, reason, "worker_lost")
          .catch((e: unknown) =>
            this.#log.error(
              { jobId: job.id, err: (e as Error).message },
              "publishing a lost job failed",
            ),
          );
      });
      this.#workers.push(worker);
    }
    await Promise.all(this.#workers.map((w) => w.waitUntilReady()));
  }

  async #process(
    processor: Processor,
    job: Job<QueuedJob>,
    token: string | undefined,
    lockSignal: AbortSignal | undefined,
  ): Promise<unknown> {
    const controller = new AbortController();
    this.#running.set(controller, job.id ?? "");
    const signal = lockSignal
      ? AbortSignal.any([lockSignal, controller.signal])
      : controller.signal;
    try {
      return await processor({
        job: job.data,
        attempt: job.attemptsMade + 1,
        maxAttempts: job.opts.attempts ?? 1,
        restarts: job.stalledCounter,
        signal,
      });
    } catch (e) {
      if (e instanceof HandBackJob) {
        // Back to the queue at once for another process, without using up an attempt.
        await job.moveToDelayed(Date.now(), token);
        throw this.#mark(new DelayedError());
      }
      if (e instanceof FailJob) throw this.#mark(new UnrecoverableError(e.message));
      throw this.#mark(e instanceof Error ? e : new Error(String(e)));
    } finally {
      this.#running.delete(controller);
    }
  }

  #mark(error: Error): Error {
    this.#handled.add(error);
    return error;
  }

  cancel(jobId: string, reason: Error): boolean {
    let found = false;
    for (const [controller, id] of this.#running) {
      if (id !== jobId) continue;
      controller.abort(reason);
      found = true;
    }
    return found;
  }

  async isReady(): Promise<boolean> {
    if (this.#closing || this.#connection.status !== "ready") return false;
    try {
      return (await this.#connection.ping()) === "PONG";
    } catch {
      return false;
    }
  }

  async close(graceMs: number): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    const closed = Promise.all(this.#workers.map((w) => w.close())).then(() => "closed" as const);
    if ((await Promise.race([closed, after(graceMs)])) !== "closed") {
      this.#log.warn(
        { running: this.#running.size },
        "shutdown grace period over: handing running jobs back",
      );
      for (const controller of this.#running.keys()) controller.abort(new ShutdownAbort());
      // Handing back needs Redis; if it is gone, stop anyway: the jobs' locks expire and they stall back.
      if ((await Promise.race([closed, after(HAND_BACK_MS)])) !== "closed") {
        this.#log.error(
          "jobs could not be handed back in time; leaving them to the stalled-job check",
        );
        await Promise.all(this.#workers.map((w) => w.close(true).catch(() => undefined)));
      }
    }
    await Promise.race([
      Promise.all([...this.#queues.values()].map((q) => q.close())),
      after(HAND_BACK_MS),
    ]);
    await Promise.race([this.#connection.quit().catch(() => undefined), after(1000)]);
    this.#connection.disconnect();
  }
}
