// The job-state store interface shared by the worker (writes) and the relay (snapshots).
import { channelNameProblem, validateJobUpdate, type JobUpdate } from "@jobchannel/protocol";
import { StateError, StateErrorCode } from "./errors.ts";
import type { History } from "./history.ts";

/** An update as a publisher hands it over: the relay sets `channel`, the store sets `seq`. */
export type UpdateInput = Omit<JobUpdate, "seq" | "channel" | "timestamp"> & {
  timestamp?: number;
};

/** What a publish produced. */
export interface Published {
  /** The update as stored and published, with its `seq` and `timestamp`. */
  readonly update: JobUpdate;
  /** How many pub/sub subscribers (relay replicas) received it. */
  readonly receivers: number;
}

/**
 * What a guarded publish lets through: `"open"` refuses when the job's stored state is final
 * (`completed` or `failed`), `"absent"` when the job has any stored state.
 */
export type PublishGuard = "open" | "absent";

/** What a guarded publish produced: the update, or the stored state that refused it. */
export type GuardedPublished = Published | { readonly refused: JobUpdate };

export interface JobStore {
  /**
   * Stores the job's latest state, trims retention and publishes, atomically. The update's seq is
   * the channel's next one: larger than every seq the channel handed out before, so it strictly
   * increases per job even when retention trimmed or expired the job in between.
   */
  publish(channel: string, input: UpdateInput, history: History): Promise<Published>;
  /**
   * As {@link JobStore.publish}, unless the job's stored state fails `guard`: then nothing is
   * written or published and the stored state comes back as `refused`. Check and publish are one
   * atomic step, so two processes racing on one job cannot both pass an `"open"` guard with a final
   * update. A job trimmed by retention has no stored state and passes either guard.
   */
  publishGuarded(
    channel: string,
    input: UpdateInput,
    history: History,
    guard: PublishGuard,
  ): Promise<GuardedPublished>;
  /** Latest state of each retained job of a channel, oldest update first. */
  snapshot(channel: string, history: History): Promise<JobUpdate[]>;
  /** Latest state of one job, if retained. */
  get(channel: string, jobId: string): Promise<JobUpdate | undefined>;
  close(): Promise<void>;
}

/**
 * Validates and serializes an update for publishing. Throws a {@link StateError} for anything
 * invalid. The result has no `seq` (the store sets it) and a `timestamp`.
 */
export function prepareUpdate(
  channel: string,
  input: UpdateInput,
  now: number = Date.now(),
): { update: JobUpdate; body: string } {
  const problem = channelNameProblem(channel);
  if (problem) throw new StateError(StateErrorCode.InvalidChannel, `channel ${problem}`, "channel");
  const { seq: _seq, channel: _channel, ...rest } = input as JobUpdate;
  const candidate = { ...rest, timestamp: input.timestamp ?? now };
  const checked = validateJobUpdate(candidate);
  if (!checked.ok) {
    throw new StateError(StateErrorCode.InvalidUpdate, checked.error.message, checked.error.field);
  }
  return { update: checked.value, body: JSON.stringify(checked.value) };
}
