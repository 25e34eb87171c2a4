// Moves jobs through queued -> processing -> completed | failed, publishing each step with the job's whole state.
import type { JobUpdate } from "@jobchannel/protocol";
import type { Logger } from "pino";
import { v4 as uuidv4 } from "uuid";
import { UnrecoverableError, WorkerError, WorkerErrorCode } from "./errors.ts";
import type { AnyJobDefinition, JobContext } from "./job.ts";
import { discardUpload, openUpload, type BlobStore, type StoredUpload } from "./blob-store.ts";
import { MemoryBlobStore } from "./blob-store-memory.ts";
import type { WorkerMetrics } from "./metrics.ts";
import type { Publisher, UpdateFields } from "./publisher.ts";
import {
  FailJob,
  HandBackJob,
  RetryJob,
  ShutdownAbort,
  backoffMs,
  type Delivery,
  type JobQueue,
  type QueuedJob,
} from "./queue.ts";

/** Fields of an update the runner owns; a job's custom fields never carry them forward. */
const RUNNER_FIELDS = new Set([
  "jobId",
  "status",
  "progress",
  "timestamp",
  "seq",
  "channel",
  "userId",
  "error",
  "errorCode",
  "result",
  "attempt",
  "restarts",
  "retryInMs",
  "lastError",
  "handedBack",
]);

/** Custom fields of a stored update, without the ones the runner owns. */
export function customFields(
  update: Readonly<Record<string, unknown>> | undefined,
): Record<string, unknown> {
  const fields: Record<string, unknown> = {};
  if (!update) return fields;
  for (const [key, value] of Object.entries(update))
    if (!RUNNER_FIELDS.has(key)) fields[key] = value;
  return fields;
}

/** Options of {@link Runner}. */
export interface RunnerOptions {
  publisher: Publisher;
  queue: JobQueue;
  jobTypes: readonly AnyJobDefinition[];
  logger: Logger;
  metrics: WorkerMetrics;
  /** @default 3 */
  attempts?: number;
  /** @default 600000 */
  timeoutMs?: number;
  /** @default 1000 */
  retryDelayMs?: number;
  /** Where uploads wait for their job (stored by the router before submit). @default an in-process store */
  blobs?: BlobStore;
}

/** A validated request, ready to become a job. */
export interface Submission {
  readonly type: string;
  readonly userId: string | undefined;
  readonly input: unknown;
  /** The upload, already in the runner's blob store. */
  readonly file?: StoredUpload;
}

class TimeoutAbort extends Error {
  constructor(ms: number) {
    super(`the job ran longer than its timeout of ${ms} ms`);
    this.name = "TimeoutAbort";
  }
}

function abortion(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => {
    if (signal.aborted) reject(signal.reason);
    else signal.addEventListener("abort", () => reject(signal.reason), { once: true });
  });
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

// Every terminal update must reach subscribers: retry through a Redis blip before giving up.
const PUBLISH_TRIES = 5;

export class Runner {
  readonly #publisher: Publisher;
  readonly #queue: JobQueue;
  readonly #types: ReadonlyMap<string, AnyJobDefinition>;
  readonly #log: Logger;
  readonly #metrics: WorkerMetrics;
  readonly #attempts: number;
  readonly #timeoutMs: number;
  readonly #retryDelayMs: number;
  readonly #blobs: BlobStore;

  constructor(options: RunnerOptions) {
    this.#publisher = options.publisher;
    this.#queue = options.queue;
    this.#types = new Map(options.jobTypes.map((t) => [t.name, t]));
    this.#log = options.logger;
    this.#metrics = options.metrics;
    this.#attempts = options.attempts ?? 3;
    this.#timeoutMs = options.timeoutMs ?? 600_000;
    this.#retryDelayMs = options.retryDelayMs ?? 1000;
    this.#blobs = options.blobs ?? new MemoryBlobStore();
  }

  /** Starts the queue's consumers. */
  start(): Promise<void> {
    return this.#queue.start((d) => this.process(d), {
      lost: (job, reason, code) => this.lost(job, reason, code),
    });
  }

  /** Accepts a job: publishes `queued`, then queues it. Resolves with the new job's id. */
  async submit(submission: Submission): Promise<string> {
    const type = this.#types.get(submission.type);
    if (!type)
      throw new WorkerError(WorkerErrorCode.UnknownJobType, `no job type ${submission.type}`, {
        status: 404,
      });
    const jobId = uuidv4();
    const fields = type.fields ? type.fields(submission.input, submission.file) : {};
    const job: QueuedJob = {
      jobId,
      type: type.name,
      ...(submission.userId === undefined ? {} : { userId: submission.userId }),
      input: submission.input,
      ...(submission.file ? { file: submission.file } : {}),
      fields,
      attempts: type.attempts ?? this.#attempts,
      acceptedAt: Date.now(),
    };
    // `queued` goes out before the job can start, so no subscriber sees it after `processing`.
    await this.#publish(job, { status: "queued", progress: 0, ...fields });
    this.#metrics.countStatus(job.type, "queued");
    try {
      await this.#queue.enqueue(job);
    } catch (e) {
      this.#log.error({ jobId, channel: job.type, err: message(e) }, "enqueue failed");
      await this.#fail(
        job,
        "the job could not be queued: the queue is unavailable",
        WorkerErrorCode.Unavailable,
        fields,
      );
      throw new WorkerError(
        WorkerErrorCode.Unavailable,
        "the job queue is unavailable; try again",
        { status: 503, cause: e },
      );
    }
    this.#log.info({ jobId, channel: job.type, userId: job.userId }, "job accepted");
    return jobId;
  }

  /** Publishes the `failed` update of a job that will not run again (it stalled too often, or a shutdown). */
  async lost(job: QueuedJob, reason: string, code: "worker_lost" | "shut_down"): Promise<void> {
    const stored = await this.#publisher.store.get(job.type, job.jobId).catch(() => undefined);
    if (stored && (stored.status === "completed" || stored.status === "failed")) return;
    this.#log.warn({ jobId: job.jobId, channel: job.type, reason }, "job lost");
    await this.#fail(job, reason, code, { ...job.fields, ...customFields(stored) });
    await discardUpload(this.#blobs, job.file, this.#log);
  }

  /** Runs one delivery of a job (the queue's processor). */
  async process(delivery: Delivery): Promise<unknown> {
    const { job, attempt } = delivery;
    const log = this.#log.child({ jobId: job.jobId, channel: job.type });
    const type = this.#types.get(job.type);
    if (!type) {
      await this.#fail(
        job,
        `this worker does not serve job type ${job.type}`,
        WorkerErrorCode.JobFailed,
        job.fields,
      );
      throw new FailJob(`unknown job type ${job.type}`);
    }
    // Carry custom fields forward from the stored state: a retry in another process keeps them.
    const stored = await this.#publisher.store.get(job.type, job.jobId);
    const fields: Record<string, unknown> = { ...job.fields, ...customFields(stored) };
    const started = performance.now();
    const runInfo = { attempt, ...(delivery.restarts > 0 ? { restarts: delivery.restarts } : {}) };
    await this.#publish(job, { status: "processing", progress: 0, ...fields, ...runInfo });
    this.#metrics.countStatus(job.type, "processing");
    log.info({ attempt, restarts: delivery.restarts }, "job started");

    const timeoutMs = type.timeoutMs ?? this.#timeoutMs;
    const timeout = new AbortController();
    const timer = setTimeout(() => timeout.abort(new TimeoutAbort(timeoutMs)), timeoutMs);
    const signal = AbortSignal.any([delivery.signal, timeout.signal]);
    const seconds = (): number => (performance.now() - started) / 1000;
    try {
      const file = await openUpload(this.#blobs, job.file);
      if (job.file && !file) {
        throw new UnrecoverableError(
          `the upload ${job.file.filename} is no longer stored (it expired or was lost); submit the job again`,
          WorkerErrorCode.InputLost,
        );
      }
      const context = this.#context(job, type, fields, runInfo, file, signal, log);
      // The abort listener goes first, so an abort wins over a handler that settles on the same abort.
      const aborted = abortion(signal);
      aborted.catch(() => undefined);
      const result = await Promise.race([aborted, type.handler(context)]);
      signal.throwIfAborted();
      await this.#complete(job, fields, runInfo, result);
      this.#metrics.duration.observe({ channel: job.type, status: "completed" }, seconds());
      log.info({ attempt, seconds: seconds() }, "job completed");
      await discardUpload(this.#blobs, job.file, this.#log);
      return result ?? null;
    } catch (e) {
      return await this.#failed(delivery, fields, runInfo, e, seconds(), log);
    } finally {
      clearTimeout(timer);
    }
  }

  #context(
    job: QueuedJob,
    type: AnyJobDefinition,
    fields: Record<string, unknown>,
    runInfo: Record<string, unknown>,
    file: JobContext<unknown>["file"],
    signal: AbortSignal,
    log: Logger,
  ): JobContext<unknown> {
    let lastPercent = -1;
    let lastAt = 0;
    let chain: Promise<unknown> = Promise.resolve();
    return {
      jobId: job.jobId,
      channel: type.name,
      userId: job.userId,
      input: job.input,
      file,
      attempt: runInfo.attempt as number,
      signal,
      log,
      progress: async (percent, more) => {
        if (signal.aborted) throw signal.reason;
        if (more) Object.assign(fields, customFields(more));
        const pct = Math.min(100, Math.max(0, Number.isFinite(percent) ? percent : 0));
        const now = Date.now();
        if (Math.floor(pct) <= lastPercent && now - lastAt < 250) return;
        lastPercent = Math.floor(pct);
        lastAt = now;
        const progress = Math.round(pct * 100) / 100;
        chain = chain.then(() =>
          this.#publish(job, { status: "processing", progress, ...fields, ...runInfo }),
        );
        await chain;
      },
    };
  }

  async #complete(
    job: QueuedJob,
    fields: Record<string, unknown>,
    runInfo: Record<string, unknown>,
    result: unknown,
  ): Promise<void> {
    try {
      await this.#publishSure(job, {
        status: "completed",
        progress: 100,
        ...fields,
        ...runInfo,
        result: result ?? null,
      });
    } catch (e) {
      if (
        e instanceof WorkerError &&
        (e.code === WorkerErrorCode.UpdateTooLarge || e.code === WorkerErrorCode.InvalidUpdate)
      ) {
        throw new UnrecoverableError(`the job's result cannot be published: ${e.message}`, e.code);
      }
      throw e;
    }
    this.#metrics.countStatus(job.type, "completed");
  }

  async #failed(
    delivery: Delivery,
    fields: Record<string, unknown>,
    runInfo: Record<string, unknown>,
    e: unknown,
    seconds: number,
    log: Logger,
  ): Promise<never> {
    const { job, attempt, maxAttempts } = delivery;
    const reason = delivery.signal.aborted ? delivery.signal.reason : undefined;
    if (reason instanceof ShutdownAbort) {
      if (this.#queue.durable) {
        log.warn({ attempt }, "job handed back at shutdown");
        await this.#publish(job, {
          status: "queued",
          ...fields,
          ...runInfo,
          handedBack: true,
        }).catch(() => undefined);
        throw new HandBackJob();
      }
      await this.#fail(
        job,
        "the worker shut down before the job finished",
        WorkerErrorCode.ShutDown,
        fields,
        runInfo,
      );
      throw new FailJob("shut down");
    }
    if (delivery.signal.aborted) {
      // The queue took the job away (its lock was lost): whoever holds it now publishes.
      log.warn({ attempt, err: message(reason) }, "job lost its lock; another worker owns it now");
      throw new RetryJob(`lock lost: ${message(reason)}`);
    }
    const timedOut = e instanceof TimeoutAbort;
    const code =
      e instanceof UnrecoverableError
        ? e.code
        : timedOut
          ? WorkerErrorCode.JobTimeout
          : WorkerErrorCode.JobFailed;
    const final = e instanceof UnrecoverableError || attempt >= maxAttempts;
    if (final) {
      this.#metrics.duration.observe({ channel: job.type, status: "failed" }, seconds);
      log.warn({ attempt, err: message(e), code }, "job failed");
      await this.#fail(job, message(e), code, fields, runInfo);
      await discardUpload(this.#blobs, job.file, this.#log);
      throw new FailJob(message(e));
    }
    const retryInMs = backoffMs(this.#retryDelayMs, attempt);
    this.#metrics.duration.observe({ channel: job.type, status: "retried" }, seconds);
    this.#metrics.retries.inc({ channel: job.type });
    log.warn({ attempt, err: message(e), retryInMs }, "job attempt failed; retrying");
    await this.#publish(job, {
      status: "queued",
      ...fields,
      ...runInfo,
      lastError: message(e),
      retryInMs,
    });
    throw new RetryJob(message(e));
  }

  async #fail(
    job: QueuedJob,
    error: string,
    code: string,
    fields: Record<string, unknown>,
    runInfo: Record<string, unknown> = {},
  ): Promise<void> {
    await this.#publishSure(job, {
      status: "failed",
      ...fields,
      ...runInfo,
      error,
      errorCode: code,
    });
    this.#metrics.countStatus(job.type, "failed");
  }

  #publish(job: QueuedJob, fields: UpdateFields): Promise<JobUpdate> {
    return this.#publisher.update(job.type, job.jobId, {
      ...fields,
      ...(job.userId === undefined ? {} : { userId: job.userId }),
    });
  }

  async #publishSure(job: QueuedJob, fields: UpdateFields): Promise<JobUpdate> {
    for (let i = 1; ; i++) {
      try {
        return await this.#publish(job, fields);
      } catch (e) {
        if (e instanceof WorkerError || i >= PUBLISH_TRIES) throw e;
        this.#log.warn({ jobId: job.jobId, err: message(e), try: i }, "publish failed; retrying");
        await new Promise((r) => setTimeout(r, 100 * 2 ** i));
      }
    }
  }
}
