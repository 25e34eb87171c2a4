// The job-state store in process memory, with the same semantics as the Redis one.
import { DEFAULT_REDIS_PREFIX, isTerminalStatus, type JobUpdate } from "@jobchannel/protocol";
import { retainedSince, type History } from "./history.ts";
import { MemoryBus } from "./memory-bus.ts";
import {
  prepareUpdate,
  type GuardedPublished,
  type JobStore,
  type PublishGuard,
  type Published,
  type UpdateInput,
} from "./store.ts";

interface Entry {
  at: number;
  text: string;
  update: JobUpdate;
}

export class MemoryJobStore implements JobStore {
  readonly bus: MemoryBus;
  readonly #prefix: string;
  // Map iteration order is insertion order; an updated job is re-inserted, so oldest comes first.
  readonly #channels = new Map<string, Map<string, Entry>>();
  // Each channel's last seq, as the Redis counter key: never trimmed, so a seq is never reused.
  // A channel's first publish in this process seeds it with the clock in microseconds, as the
  // Redis script seeds a missing counter, so a process restarted on the same clock starts above
  // the seqs the previous one handed out (when it averaged under one publish per microsecond).
  readonly #lastSeq = new Map<string, number>();

  constructor(bus: MemoryBus = new MemoryBus(), prefix: string = DEFAULT_REDIS_PREFIX) {
    this.bus = bus;
    this.#prefix = prefix;
  }

  async publish(channel: string, input: UpdateInput, history: History): Promise<Published> {
    const { update, body } = prepareUpdate(channel, input);
    let jobs = this.#channels.get(channel);
    if (!jobs) this.#channels.set(channel, (jobs = new Map()));
    const seq = (this.#lastSeq.get(channel) ?? clockMicros()) + 1;
    this.#lastSeq.set(channel, seq);
    const text = body.length > 2 ? `{"seq":${seq},${body.slice(1)}` : `{"seq":${seq}}`;
    jobs.delete(update.jobId);
    jobs.set(update.jobId, { at: update.timestamp, text, update: { seq, ...update } });
    this.#trim(jobs, history, update.timestamp, update.jobId);
    const receivers = this.bus.publish(this.#prefix + channel, text);
    return { update: { seq, ...update }, receivers };
  }

  async publishGuarded(
    channel: string,
    input: UpdateInput,
    history: History,
    guard: PublishGuard,
  ): Promise<GuardedPublished> {
    const { jobId } = prepareUpdate(channel, input).update;
    const stored = this.#channels.get(channel)?.get(jobId)?.update;
    if (stored && (guard === "absent" || isTerminalStatus(stored.status)))
      return { refused: stored };
    return this.publish(channel, input, history);
  }

  async snapshot(channel: string, history: History): Promise<JobUpdate[]> {
    const jobs = this.#channels.get(channel);
    if (!jobs) return [];
    const since = retainedSince(history, Date.now());
    const kept = [...jobs.values()].filter((e) => e.at >= since).map((e) => e.update);
    return history.maxJobs > 0 ? kept.slice(-history.maxJobs) : kept;
  }

  async get(channel: string, jobId: string): Promise<JobUpdate | undefined> {
    return this.#channels.get(channel)?.get(jobId)?.update;
  }

  async close(): Promise<void> {}

  #trim(jobs: Map<string, Entry>, history: History, now: number, published: string): void {
    const since = retainedSince(history, now);
    for (const [id, entry] of jobs) {
      if (entry.at >= since) break;
      jobs.delete(id);
    }
    if (history.maxJobs <= 0) return;
    // As in Redis: finished jobs go first, oldest first; running jobs only when nothing else is left.
    // The job just published is the newest entry, so the second loop stops before reaching it.
    for (const [id, entry] of jobs) {
      if (jobs.size <= history.maxJobs) return;
      if (id !== published && isTerminalStatus(entry.update.status)) jobs.delete(id);
    }
    for (const id of jobs.keys()) {
      if (jobs.size <= history.maxJobs) return;
      jobs.delete(id);
    }
  }
}

/** The wall clock in whole microseconds (millisecond resolution), below 2^53 until the year 2255. */
function clockMicros(): number {
  return Date.now() * 1000;
}
