// The job update (design section 2): its type and the runtime validator used at every boundary.
import { describeType } from "./channel.ts";
import { badRequest } from "./errors.ts";
import { parseJson, type ParseJsonOptions } from "./json.ts";
import { err, ok, type Result } from "./result.ts";

/** The four states of a job, in the order a job moves through them. */
export const JOB_STATUSES = ["queued", "processing", "completed", "failed"] as const;

export type JobStatus = (typeof JOB_STATUSES)[number];

/** Longest accepted `jobId`, in characters. */
export const MAX_JOB_ID_LENGTH = 128;

/** Longest accepted `userId`, in characters. */
export const MAX_USER_ID_LENGTH = 256;

/**
 * One job update, the original guide's message format. Custom fields pass through untouched; the
 * generic lets callers type theirs (`JobUpdate<{ sha256: string }>`).
 */
export type JobUpdate<Custom extends object = Record<string, unknown>> = Custom & {
  jobId: string;
  status: JobStatus;
  /** 0-100. */
  progress?: number;
  /** Unix milliseconds of publication; fan-out latency is measured from it. */
  timestamp: number;
  /** The job's owner, matched against the token's `sub` on `visibility: user` channels. */
  userId?: string;
  /** Per-job version, strictly increasing, set by the publisher SDK. */
  seq?: number;
  /** Why the job failed. */
  error?: string;
  /** Set by the relay from the Redis channel. */
  channel?: string;
};

/** True for `completed` and `failed`: the job will not change again. */
export function isTerminalStatus(status: JobStatus): boolean {
  return status === "completed" || status === "failed";
}

export function isJobStatus(value: unknown): value is JobStatus {
  return typeof value === "string" && (JOB_STATUSES as readonly string[]).includes(value);
}

/**
 * Checks that a decoded value is a job update. It does not check nesting or keys: decode untrusted
 * text with {@link parseJobUpdate}, which does.
 */
export function validateJobUpdate(value: unknown): Result<JobUpdate> {
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    return err(badRequest("", `a job update must be a JSON object, got ${describeType(value)}`));
  }
  const u = value as Record<string, unknown>;

  const jobId = u.jobId;
  if (jobId === undefined) return err(badRequest("jobId", "is required"));
  if (typeof jobId !== "string") {
    return err(badRequest("jobId", `must be a string, got ${describeType(jobId)}`));
  }
  if (jobId.length === 0 || jobId.length > MAX_JOB_ID_LENGTH) {
    return err(
      badRequest("jobId", `must be 1-${MAX_JOB_ID_LENGTH} characters, got ${jobId.length}`),
    );
  }

  const status = u.status;
  if (status === undefined) return err(badRequest("status", "is required"));
  if (!isJobStatus(status)) {
    return err(badRequest("status", `must be one of ${JOB_STATUSES.join(", ")}`));
  }

  const timestamp = u.timestamp;
  if (timestamp === undefined) return err(badRequest("timestamp", "is required"));
  if (typeof timestamp !== "number" || !Number.isSafeInteger(timestamp) || timestamp < 0) {
    return err(badRequest("timestamp", "must be a non-negative integer of Unix milliseconds"));
  }

  const progress = u.progress;
  if (progress !== undefined) {
    if (typeof progress !== "number" || !Number.isFinite(progress)) {
      return err(badRequest("progress", `must be a number, got ${describeType(progress)}`));
    }
    if (progress < 0 || progress > 100) {
      return err(badRequest("progress", `must be between 0 and 100, got ${progress}`));
    }
  }

  const userId = u.userId;
  if (userId !== undefined) {
    if (typeof userId !== "string") {
      return err(badRequest("userId", `must be a string, got ${describeType(userId)}`));
    }
    if (userId.length === 0 || userId.length > MAX_USER_ID_LENGTH) {
      return err(badRequest("userId", `must be 1-${MAX_USER_ID_LENGTH} characters`));
    }
  }

  const seq = u.seq;
  if (seq !== undefined && (typeof seq !== "number" || !Number.isSafeInteger(seq) || seq < 1)) {
    return err(badRequest("seq", "must be an integer of at least 1"));
  }

  if (u.error !== undefined && typeof u.error !== "string") {
    return err(badRequest("error", `must be a string, got ${describeType(u.error)}`));
  }
  if (u.channel !== undefined && typeof u.channel !== "string") {
    return err(badRequest("channel", `must be a string, got ${describeType(u.channel)}`));
  }
  return ok(u as JobUpdate);
}

/** Decodes and validates an untrusted job update (a Redis payload, an HTTP body). */
export function parseJobUpdate(text: string, options?: ParseJsonOptions): Result<JobUpdate> {
  const parsed = parseJson(text, options);
  return parsed.ok ? validateJobUpdate(parsed.value) : parsed;
}
