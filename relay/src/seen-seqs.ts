// Per channel, the highest seq per job that every local subscription was handed: what a recovery
// after a gap compares the stored state against.
import type { JobUpdate } from "@jobchannel/protocol";

export class SeenSeqs {
  readonly #channels = new Map<string, Map<string, number>>();

  /** Raises a job's seq; keeps at most `limit` jobs per channel, forgetting the oldest entered. */
  note(channel: string, job: JobUpdate, limit: number): void {
    if (job.seq === undefined) return;
    let seen = this.#channels.get(channel);
    if (!seen) this.#channels.set(channel, (seen = new Map()));
    if (job.seq <= (seen.get(job.jobId) ?? 0)) return;
    seen.set(job.jobId, job.seq);
    // A forgotten job costs at most one repeated frame after a gap, which clients drop by seq.
    if (seen.size > limit) seen.delete(seen.keys().next().value!);
  }

  /** True when `job` is newer than what the channel's subscriptions were handed. */
  newer(channel: string, job: JobUpdate): boolean {
    return job.seq !== undefined && job.seq > (this.#channels.get(channel)?.get(job.jobId) ?? 0);
  }

  forget(channel: string): void {
    this.#channels.delete(channel);
  }
}
