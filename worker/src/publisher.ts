// The publisher SDK: validate a job update, stamp it, and hand it to the job-state store in one round trip.
import {
  DEFAULT_MAX_MESSAGE_BYTES,
  channelNameProblem,
  jsonShapeProblem,
  utf8ByteLength,
  validateJobUpdate,
  type JobStatus,
  type JobUpdate,
} from "@jobchannel/protocol";
import {
  DEFAULT_HISTORY,
  StateError,
  StateErrorCode,
  type History,
  type JobStore,
  type PublishGuard,
} from "@jobchannel/state";
import { WorkerError, WorkerErrorCode } from "./errors.ts";

/** The fields of an update as a caller gives them: `jobId` is a separate argument, `timestamp` is stamped. */
export type UpdateFields = Record<string, unknown> & {
  status: JobStatus;
  /** 0-100. */
  progress?: number;
  userId?: string;
  error?: string;
};

/** Options of {@link Publisher}. */
export interface PublisherOptions {
  /** Retention applied on every publish. @default {maxJobs: 1000, ttlSeconds: 86400} */
  history?: History;
  /** Largest encoded update, in bytes. @default 65536 */
  maxMessageBytes?: number;
  /** Clock, for tests. @default Date.now */
  now?: () => number;
}

// Room for `"seq":<n>,` that the store adds in front of the stored text.
const SEQ_OVERHEAD_BYTES = 24;

function refuse(code: WorkerErrorCode, field: string, message: string): WorkerError {
  return new WorkerError(code, field ? `${field}: ${message}` : message, { field });
}

/**
 * Publishes job updates: each {@link Publisher.update} validates against the job-update contract,
 * stamps `timestamp`, and runs the store's one Lua script (seq increment, state write, retention
 * trim, PUBLISH). An invalid update throws a {@link WorkerError} before anything is written.
 * The store REPLACES the job's state with what is given: pass the job's whole state every time.
 */
export class Publisher {
  readonly store: JobStore;
  readonly history: History;
  readonly maxMessageBytes: number;
  readonly #now: () => number;

  constructor(store: JobStore, options: PublisherOptions = {}) {
    this.store = store;
    this.history = options.history ?? { ...DEFAULT_HISTORY };
    this.maxMessageBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    this.#now = options.now ?? Date.now;
  }

  /** Checks an update without publishing it; returns the update as it would be stored (without `seq`). */
  prepare(channel: string, jobId: string, fields: UpdateFields): JobUpdate {
    const problem = channelNameProblem(channel);
    if (problem) throw refuse(WorkerErrorCode.InvalidChannel, "channel", problem);
    if (fields === null || typeof fields !== "object" || Array.isArray(fields)) {
      throw refuse(WorkerErrorCode.InvalidUpdate, "", "fields must be an object");
    }
    const { seq: _seq, channel: _channel, timestamp: _timestamp, jobId: _jobId, ...rest } = fields;
    const candidate: Record<string, unknown> = { jobId, ...rest, timestamp: this.#now() };
    const checked = validateJobUpdate(candidate);
    if (!checked.ok)
      throw refuse(
        WorkerErrorCode.InvalidUpdate,
        checked.error.field,
        checked.error.message.replace(/^[^:]*: /, ""),
      );
    const shape = jsonShapeProblem(candidate);
    if (shape)
      throw refuse(
        WorkerErrorCode.InvalidUpdate,
        shape.field,
        shape.message.replace(/^[^:]*: /, ""),
      );
    let text: string;
    try {
      text = JSON.stringify(candidate);
    } catch (e) {
      throw refuse(
        WorkerErrorCode.InvalidUpdate,
        "",
        `not serializable as JSON (${(e as Error).message})`,
      );
    }
    const size = utf8ByteLength(text) + SEQ_OVERHEAD_BYTES;
    if (size > this.maxMessageBytes) {
      throw refuse(
        WorkerErrorCode.UpdateTooLarge,
        "",
        `the update is about ${size} bytes, larger than maxMessageBytes (${this.maxMessageBytes})`,
      );
    }
    // Round-trip so that what is stored is exactly what JSON carries (no undefined, no Dates).
    return JSON.parse(text) as JobUpdate;
  }

  /** Validates, stamps and publishes one update; resolves with it as stored (with `seq`). */
  async update(channel: string, jobId: string, fields: UpdateFields): Promise<JobUpdate> {
    const update = this.prepare(channel, jobId, fields);
    const published = await coded(this.store.publish(channel, update, this.history));
    return published.update;
  }

  /**
   * As {@link Publisher.update}, unless the job's stored state fails `guard` (`"open"`: it is final;
   * `"absent"`: it exists): then nothing is published and the stored state comes back as
   * `refused`. The check and the publish are one atomic step in the store.
   */
  async updateGuarded(
    channel: string,
    jobId: string,
    fields: UpdateFields,
    guard: PublishGuard,
  ): Promise<{ update: JobUpdate } | { refused: JobUpdate }> {
    const update = this.prepare(channel, jobId, fields);
    const published = await coded(this.store.publishGuarded(channel, update, this.history, guard));
    return "refused" in published ? { refused: published.refused } : { update: published.update };
  }
}

/** The store's refusals as the worker's coded errors; other failures (Redis) pass unchanged. */
async function coded<T>(pending: Promise<T>): Promise<T> {
  try {
    return await pending;
  } catch (e) {
    if (e instanceof StateError) {
      const code =
        e.code === StateErrorCode.InvalidChannel
          ? WorkerErrorCode.InvalidChannel
          : WorkerErrorCode.InvalidUpdate;
      throw new WorkerError(code, e.message, { field: e.field, cause: e });
    }
    throw e;
  }
}
