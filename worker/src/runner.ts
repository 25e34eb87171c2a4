// Moves jobs through queued -> processing -> completed | failed, publishing each step with the job's whole state.
import { isTerminalStatus, type JobUpdate } from "@jobchannel/protocol";
import type { PublishGuard } from "@jobchannel/state";
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

/** The job's stored state is final: this delivery runs and publishes nothing more. */
class AlreadyFinal extends Error {
  readonly stored: JobUpdate;

  constructor(stored: JobUpdate) {
    super(`the job is already ${stored.status}`);
    this.name = "AlreadyFinal";
    this.stored = stored;
  }
}

/** Redis failed one of the runner's own reads or publishes (not the handler's work). */
class InfrastructureFailure extends Error {
  constructor(what: string, cause: unknown) {
    super(`${what}: ${message(cause)}`, { cause });
    this.name = "InfrastructureFailure";
  }
}

/** Resolves after `ms`, or at once when `signal` aborts. */
function pause(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}

/** Aborts when `signal` aborts for shutdown, and for no other reason. */
function shutdownOf(signal: AbortSignal): AbortSignal {
  const shutdown = new AbortController();
  const check = (): void => {
    if (signal.reason instanceof ShutdownAbort) shutdown.abort(signal.reason);
  };
  if (signal.aborted) check();
  else signal.addEventListener("abort", check, { once: true });
  return shutdown.signal;
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

// Updates other than a running job's final one retry through a Redis blip, then give up.
const PUBLISH_TRIES = 5;
// A running job's final update retries until Redis answers again, this far apart at most.
const FINAL_RETRY_MAX_MS = 5000;

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
    // An update that cannot be published is refused before anything is queued.
    this.#publisher.prepare(job.type, jobId, {
      status: "queued",
      progress: 0,
      ...fields,
      ...(job.userId === undefined ? {} : { userId: job.userId }),
    });
    try {
      await this.#queue.enqueue(job);
    } catch (e) {
      // Nothing was published for the job yet, so no subscriber is left waiting on it.
      this.#log.error({ jobId, channel: job.type, err: message(e) }, "enqueue failed");
      throw new WorkerError(
        WorkerErrorCode.Unavailable,
        "the job queue is unavailable; try again",
        { status: 503, cause: e },
      );
    }
    // `queued` goes out only once the job is queued, so a crash in between leaves no orphan. The
    // job may have started already: then its processor published `queued` first (see #announce).
    await this.#announce(job, fields).catch((e: unknown) =>
      this.#log.warn(
        { jobId, channel: job.type, err: message(e) },
        "publishing queued failed; the job's processor publishes it when the job starts",
      ),
    );
    this.#log.info({ jobId, channel: job.type, userId: job.userId }, "job accepted");
    return jobId;
  }

  /** Publishes the `failed` update of a job that will not run again (it stalled too often, or a shutdown). */
  async lost(job: QueuedJob, reason: string, code: "worker_lost" | "shut_down"): Promise<void> {
    const stored = await this.#publisher.store.get(job.type, job.jobId).catch(() => undefined);
    if (stored && (stored.status === "completed" || stored.status === "failed")) return;
    this.#log.warn({ jobId: job.jobId, channel: job.type, reason }, "job lost");
    try {
      await this.#fail(job, reason, code, { ...job.fields, ...customFields(stored) });
    } catch (e) {
      if (!(e instanceof AlreadyFinal)) throw e;
    }
    await discardUpload(this.#blobs, job.file, this.#log);
  }

  /** Runs one delivery of a job (the queue's processor). */
  async process(delivery: Delivery): Promise<unknown> {
    const { job, attempt } = delivery;
    const log = this.#log.child({ jobId: job.jobId, channel: job.type });
    const type = this.#types.get(job.type);
    const fields: Record<string, unknown> = { ...job.fields };
    const started = performance.now();
    const runInfo = { attempt, ...(delivery.restarts > 0 ? { restarts: delivery.restarts } : {}) };
    const timeoutMs = type?.timeoutMs ?? this.#timeoutMs;
    const timeout = new AbortController();
    const timer = setTimeout(() => timeout.abort(new TimeoutAbort(timeoutMs)), timeoutMs);
    // Aborted with AlreadyFinal when a publish finds the job final: another run finished it.
    const halt = new AbortController();
    const signal = AbortSignal.any([delivery.signal, timeout.signal, halt.signal]);
    const seconds = (): number => (performance.now() - started) / 1000;
    try {
      if (!type) {
        throw new UnrecoverableError(
          `this worker does not serve job type ${job.type}`,
          WorkerErrorCode.JobFailed,
        );
      }
      // A job whose stored state is final never runs again (a crash after its final update).
      const stored = await this.#publisher.store.get(job.type, job.jobId).catch((e: unknown) => {
        throw new InfrastructureFailure("reading the job's stored state failed", e);
      });
      if (stored && isTerminalStatus(stored.status)) throw new AlreadyFinal(stored);
      // Carry custom fields forward from the stored state: a retry in another process keeps them.
      Object.assign(fields, customFields(stored));
      if (!stored) await this.#announce(job, fields);
      await this.#publish(job, { status: "processing", progress: 0, ...fields, ...runInfo });
      this.#metrics.countStatus(job.type, "processing");
      log.info({ attempt, restarts: delivery.restarts }, "job started");
      const file = await openUpload(this.#blobs, job.file);
      if (job.file && !file) {
        throw new UnrecoverableError(
          `the upload ${job.file.filename} is no longer stored (it expired or was lost); submit the job again`,
          WorkerErrorCode.InputLost,
        );
      }
      const context = this.#context(job, type, fields, runInfo, file, signal, halt, log);
      // The abort listener goes first, so an abort wins over a handler that settles on the same abort.
      const aborted = abortion(signal);
      aborted.catch(() => undefined);
      const result = await Promise.race([aborted, type.handler(context)]);
      signal.throwIfAborted();
      await this.#complete(delivery, fields, runInfo, result);
      this.#metrics.duration.observe({ channel: job.type, status: "completed" }, seconds());
      log.info({ attempt, seconds: seconds() }, "job completed");
      await discardUpload(this.#blobs, job.file, this.#log);
      return result ?? null;
    } catch (e) {
      const cause = halt.signal.aborted ? halt.signal.reason : e;
      return await this.#failed(delivery, fields, runInfo, cause, seconds(), log);
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
    halt: AbortController,
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
        chain = chain
          .then(() => {
            // A run cancelled while this update waited its turn publishes nothing more.
            signal.throwIfAborted();
            return this.#publish(job, { status: "processing", progress, ...fields, ...runInfo });
          })
          .catch((e: unknown) => {
            if (e instanceof AlreadyFinal) halt.abort(e);
            throw e;
          });
        await chain;
      },
    };
  }

  async #complete(
    delivery: Delivery,
    fields: Record<string, unknown>,
    runInfo: Record<string, unknown>,
    result: unknown,
  ): Promise<void> {
    const { job } = delivery;
    try {
      await this.#publishSure(
        job,
        { status: "completed", progress: 100, ...fields, ...runInfo, result: result ?? null },
        delivery,
      );
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

  /** What follows a run that threw: a retry, a `failed` update, a hand-back, or nothing. */
  async #failed(
    delivery: Delivery,
    fields: Record<string, unknown>,
    runInfo: Record<string, unknown>,
    e: unknown,
    seconds: number,
    log: Logger,
  ): Promise<unknown> {
    const { job, attempt } = delivery;
    try {
      if (e instanceof AlreadyFinal) throw e;
      return await this.#recover(delivery, fields, runInfo, e, seconds, log);
    } catch (thrown) {
      if (!(thrown instanceof AlreadyFinal)) throw thrown;
      // Another run published the job's final update: the queue records the same outcome.
      log.warn({ attempt, status: thrown.stored.status }, "job already final; not run again");
      await discardUpload(this.#blobs, job.file, this.#log);
      if (thrown.stored.status === "completed") return thrown.stored.result ?? null;
      throw new FailJob(thrown.stored.error ?? `the job already ${thrown.stored.status}`);
    }
  }

  async #recover(
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
        }).catch((x: unknown) => {
          if (x instanceof AlreadyFinal) throw x;
        });
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
      log.warn({ attempt, err: message(reason) }, "job run cancelled; publishing nothing more");
      throw new RetryJob(`cancelled: ${message(reason)}`);
    }
    const code =
      e instanceof UnrecoverableError
        ? e.code
        : e instanceof TimeoutAbort
          ? WorkerErrorCode.JobTimeout
          : e instanceof InfrastructureFailure
            ? WorkerErrorCode.InfrastructureError
            : WorkerErrorCode.JobFailed;
    const final = e instanceof UnrecoverableError || attempt >= maxAttempts;
    if (final) {
      this.#metrics.duration.observe({ channel: job.type, status: "failed" }, seconds);
      log.warn({ attempt, err: message(e), code }, "job failed");
      await this.#fail(job, message(e), code, fields, runInfo, delivery);
      await discardUpload(this.#blobs, job.file, this.#log);
      throw new FailJob(message(e));
    }
    const retryInMs = backoffMs(this.#retryDelayMs, attempt);
    this.#metrics.duration.observe({ channel: job.type, status: "retried" }, seconds);
    this.#metrics.retries.inc({ channel: job.type });
    log.warn({ attempt, err: message(e), code, retryInMs }, "job attempt failed; retrying");
    await this.#publish(job, {
      status: "queued",
      ...fields,
      ...runInfo,
      lastError: message(e),
      retryInMs,
    }).catch((x: unknown) => {
      // The retry runs whether or not subscribers saw this update.
      if (x instanceof AlreadyFinal) throw x;
      log.warn({ attempt, err: message(x) }, "publishing the retry failed");
    });
    throw new RetryJob(message(e));
  }

  /**
   * Publishes the job's `failed` update. With `persist` (the run that failed) it retries until
   * Redis answers again, unless that run is stopped for shutdown; without it, a few times.
   */
  async #fail(
    job: QueuedJob,
    error: string,
    code: string,
    fields: Record<string, unknown>,
    runInfo: Record<string, unknown> = {},
    persist?: Delivery,
  ): Promise<void> {
    await this.#publishSure(
      job,
      { status: "failed", ...fields, ...runInfo, error, errorCode: code },
      persist,
    );
    this.#metrics.countStatus(job.type, "failed");
  }

  /** Publishes the job's first update, `queued`, unless the job already has a stored state. */
  async #announce(job: QueuedJob, fields: Record<string, unknown>): Promise<void> {
    const outcome = await this.#send(job, { status: "queued", progress: 0, ...fields }, "absent");
    if ("update" in outcome) this.#metrics.countStatus(job.type, "queued");
  }

  /** Publishes one update of a job that is not final; throws {@link AlreadyFinal} when it is. */
  async #publish(job: QueuedJob, fields: UpdateFields): Promise<JobUpdate> {
    const outcome = await this.#send(job, fields, "open");
    if ("refused" in outcome) throw new AlreadyFinal(outcome.refused);
    return outcome.update;
  }

  async #send(
    job: QueuedJob,
    fields: UpdateFields,
    guard: PublishGuard,
  ): Promise<{ update: JobUpdate } | { refused: JobUpdate }> {
    try {
      return await this.#publisher.updateGuarded(
        job.type,
        job.jobId,
        { ...fields, ...(job.userId === undefined ? {} : { userId: job.userId }) },
        guard,
      );
    } catch (e) {
      if (e instanceof WorkerError) throw e;
      throw new InfrastructureFailure(`publishing the ${fields.status} update failed`, e);
    }
  }

  async #publishSure(job: QueuedJob, fields: UpdateFields, persist?: Delivery): Promise<JobUpdate> {
    const stop = persist ? shutdownOf(persist.signal) : undefined;
    for (let i = 1; ; i++) {
      try {
        return await this.#publish(job, fields);
      } catch (e) {
        if (!(e instanceof InfrastructureFailure) || (stop ? stop.aborted : i >= PUBLISH_TRIES))
          throw e;
        this.#log.warn({ jobId: job.jobId, err: message(e), try: i }, "publish failed; retrying");
        await pause(Math.min(100 * 2 ** i, FINAL_RETRY_MAX_MS), stop);
      }
    }
  }
}
