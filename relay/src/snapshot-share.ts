// Shared snapshot reads: one store read per channel serves every subscription that registers while
// it is in flight or shortly after, brought up to date with the live updates received since.
import type { JobUpdate } from "@jobchannel/protocol";

/** What a subscription gets from {@link SnapshotShares.join}. */
export interface SnapshotTicket {
  /**
   * The snapshot: the channel's stored state when the read was issued, merged with every update
   * with a seq the relay received on the channel after that, up to the moment of joining.
   */
  readonly jobs: Promise<JobUpdate[]>;
}

interface Share {
  readonly jobs: Promise<JobUpdate[]>;
  readonly live: JobUpdate[];
  bytes: number;
  /** Last moment (Unix ms) a subscription may join; Infinity while the read is in flight. */
  until: number;
}

/** Options of {@link SnapshotShares}. */
export interface SnapshotSharesOptions {
  /** Reads a channel's snapshot from the store (with its own timeout). */
  read(channel: string): Promise<JobUpdate[]>;
  /** How long after its answer a read still serves new subscriptions, ms. @default 1000 */
  windowMs?: number;
  /** Live bytes a share may keep for late joiners; past it, the next subscription reads again. @default 4194304 */
  maxLiveBytes?: number;
}

/**
 * Shares snapshot reads per channel. A share is correct only while every live frame of its
 * channel reaches {@link SnapshotShares.record}: the relay disables sharing while its broker
 * subscription is not verified live, and forgets a channel when its last subscription ends.
 */
export class SnapshotShares {
  readonly #read: (channel: string) => Promise<JobUpdate[]>;
  readonly #windowMs: number;
  readonly #maxLiveBytes: number;
  readonly #shares = new Map<string, Share>();
  #enabled = false;

  constructor(options: SnapshotSharesOptions) {
    this.#read = options.read;
    this.#windowMs = options.windowMs ?? 1000;
    this.#maxLiveBytes = options.maxLiveBytes ?? 4 * 1024 * 1024;
  }

  /** Joins the channel's current read, or issues a new one. */
  join(channel: string): SnapshotTicket {
    const share = this.#shares.get(channel);
    if (share !== undefined && share.until >= Date.now()) {
      const live = share.live.slice();
      return { jobs: share.jobs.then((jobs) => merge(jobs, live)) };
    }
    const jobs = this.#read(channel);
    if (!this.#enabled) {
      this.#shares.delete(channel);
      return { jobs };
    }
    const fresh: Share = { jobs, live: [], bytes: 0, until: Infinity };
    this.#shares.set(channel, fresh);
    jobs.then(
      () => {
        fresh.until = Date.now() + this.#windowMs;
      },
      () => {
        if (this.#shares.get(channel) === fresh) this.#shares.delete(channel);
      },
    );
    return { jobs };
  }

  /**
   * An update with a seq was fanned out on `channel` (`bytes` long on the wire); shares keep it
   * for subscriptions still to join.
   */
  record(channel: string, update: JobUpdate, bytes: number): void {
    const share = this.#shares.get(channel);
    if (share === undefined) return;
    share.bytes += bytes;
    if (share.until < Date.now() || share.bytes > this.#maxLiveBytes) {
      this.#shares.delete(channel);
      return;
    }
    share.live.push(update);
  }

  /** The channel lost its last local subscription: its frames stop reaching {@link record}. */
  forget(channel: string): void {
    this.#shares.delete(channel);
  }

  /** Turns sharing on (subscription verified live) or off, dropping every share (a possible gap). */
  setEnabled(enabled: boolean): void {
    this.#enabled = enabled;
    if (!enabled) this.#shares.clear();
  }
}

/**
 * A snapshot brought forward by later updates: an update newer by seq replaces its job's entry and
 * moves it last (the snapshot runs from the least to the most recently updated job).
 */
function merge(jobs: readonly JobUpdate[], live: readonly JobUpdate[]): JobUpdate[] {
  if (live.length === 0) return [...jobs];
  const byJob = new Map<string, JobUpdate>();
  for (const job of jobs) byJob.set(job.jobId, job);
  for (const update of live) {
    const held = byJob.get(update.jobId);
    if (held?.seq !== undefined && held.seq >= update.seq!) continue;
    byJob.delete(update.jobId);
    byJob.set(update.jobId, update);
  }
  return [...byJob.values()];
}
