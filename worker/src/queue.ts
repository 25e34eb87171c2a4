// The job queue interface the runner drives; queue-bullmq.ts and queue-memory.ts implement it.
import type { FileInfo } from "./job.ts";

/** An accepted job as it waits in the queue. Plain JSON, so another process can run it. */
export interface QueuedJob {
  readonly jobId: string;
  /** The job type's name, which is also its channel. */
  readonly type: string;
  readonly userId?: string;
  /** What the job type's parseInput returned. */
  readonly input: unknown;
  /** The upload's metadata; its bytes are in the queue's upload store. */
  readonly file?: FileInfo;
  /** Custom fields shown from the `queued` update on. */
  readonly fields: Record<string, unknown>;
  /** Tries before the job fails. */
  readonly attempts: number;
  /** Unix ms when the HTTP request was accepted. */
  readonly acceptedAt: number;
}

/** One run of a job handed to the runner. */
export interface Delivery {
  readonly job: QueuedJob;
  /** 1-based; handler failures and timeouts count, restarts after a crash do not. */
  readonly attempt: number;
  readonly maxAttempts: number;
  /** How often a process died while running this job and it was restarted. */
  readonly restarts: number;
  /**
   * Aborted with {@link ShutdownAbort} when the queue shuts down past its grace period, with
   * {@link LockLost} when the queue lost the job's lock (another process may run it now), or with
   * the reason given to {@link JobQueue.cancel}.
   */
  readonly signal: AbortSignal;
}

/** Runs one delivery: resolves with the result, or throws (see {@link RetryJob}, {@link FailJob}, {@link HandBackJob}). */
export type Processor = (delivery: Delivery) => Promise<unknown>;

/** Callbacks for outcomes that happen outside a processor. */
export interface QueueHooks {
  /** A job that will never reach a processor again (it stalled too often, or the queue shut down first). */
  lost(job: QueuedJob, reason: string, code: "worker_lost" | "shut_down"): Promise<void>;
}

/** The processor failed and the job should run again after the backoff. */
export class RetryJob extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RetryJob";
  }
}

/** The processor failed for good: the queue must not retry (its `failed` update is published). */
export class FailJob extends Error {
  constructor(message: string) {
    super(message);
    this.name = "FailJob";
  }
}

/** The processor stopped because of shutdown: give the job back to the queue for another process. */
export class HandBackJob extends Error {
  constructor() {
    super("handed back at shutdown");
    this.name = "HandBackJob";
  }
}

/** The reason a queue aborts a delivery's signal at shutdown. */
export class ShutdownAbort extends Error {
  constructor() {
    super("the worker is shutting down");
    this.name = "ShutdownAbort";
  }
}

/**
 * The reason a queue aborts a delivery's signal when it can no longer vouch that this process owns
 * the job (BullMQ: its lock could not be renewed). The delivery must publish nothing more.
 */
export class LockLost extends Error {
  constructor(jobId: string) {
    super(`the lock of job ${jobId} was lost: another process may run it now`);
    this.name = "LockLost";
  }
}

/** A queue of jobs for some job types; uploads wait in the blob store (`blob-store.ts`), not in the queue. */
export interface JobQueue {
  /** True when queued jobs and uploads survive this process (Redis), false when in memory. */
  readonly durable: boolean;
  /** Queues the job. */
  enqueue(job: QueuedJob): Promise<void>;
  /** Starts handing jobs to `processor`, at most `concurrency` at once per process. */
  start(processor: Processor, hooks: QueueHooks): Promise<void>;
  /**
   * Aborts the signal of this process's running delivery of the job with `reason`; false when no
   * delivery of it runs here. What the processor throws then decides what the queue does next.
   */
  cancel(jobId: string, reason: Error): boolean;
  /** True while the queue can accept and run jobs. */
  isReady(): Promise<boolean>;
  /**
   * Stops taking jobs, waits up to `graceMs` for running ones, then aborts them with a
   * {@link ShutdownAbort} and waits for their processors to hand them back.
   */
  close(graceMs: number): Promise<void>;
}

/** Exponential backoff: `baseMs`, then twice that, and so on. */
export function backoffMs(baseMs: number, failedAttempts: number): number {
  return baseMs * 2 ** Math.max(0, failedAttempts - 1);
}
