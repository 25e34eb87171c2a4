// The job-state store on Redis: one Lua round trip per publish, one per snapshot.
import {
  DEFAULT_REDIS_PREFIX,
  isTerminalStatus,
  validateJobUpdate,
  type JobUpdate,
} from "@jobchannel/protocol";
import type { Cluster, Redis } from "ioredis";
import { retainedSince, type History } from "./history.ts";
import { channelKeys, shardedPubsubChannel } from "./keys.ts";
import {
  PUBLISH_GUARDED,
  PUBLISH_GUARDED_SHARDED,
  PUBLISH_UPDATE,
  PUBLISH_UPDATE_SHARDED,
  SNAPSHOT,
} from "./scripts.ts";
import {
  prepareUpdate,
  type GuardedPublished,
  type JobStore,
  type PublishGuard,
  type Published,
  type UpdateInput,
} from "./store.ts";

type PublishScript = (
  state: string,
  counter: string,
  index: string,
  done: string,
  jobId: string,
  body: string,
  now: number,
  maxJobs: number,
  ttlSeconds: number,
  pubsub: string,
  terminal: "0" | "1",
) => Promise<[number, number]>;

interface ScriptedRedis {
  publishUpdate: PublishScript;
  publishUpdateSharded: PublishScript;
  snapshot(state: string, index: string, since: number, limit: number): Promise<string[]>;
}

/** The guarded publish script: publish-update's arguments and the guard; seq 0 = refused. */
type GuardedScript = (
  ...args: [...Parameters<PublishScript>, guard: PublishGuard]
) => Promise<[number, number | string]>;

/** Options of {@link RedisJobStore}. */
export interface RedisJobStoreOptions {
  /** Prefix of keys and pub/sub channels. @default "jobchannel:" */
  prefix?: string;
  /** Close the Redis connection on {@link RedisJobStore.close}. @default false */
  ownsConnection?: boolean;
  /**
   * Redis Cluster mode: publish with `SPUBLISH` on the channel's sharded pub/sub name
   * (`<prefix>{<channel>}`), on the shard that owns the channel's hash tag, instead of `PUBLISH` on
   * `<prefix><channel>`. Pass a `Cluster` client with it. @default false
   */
  sharded?: boolean;
}

/** Decodes stored states, skipping any that are not valid updates (never trusted blindly). */
export function decodeStates(texts: readonly (string | null)[]): JobUpdate[] {
  const jobs: JobUpdate[] = [];
  for (const text of texts) {
    if (text === null) continue;
    try {
      const checked = validateJobUpdate(JSON.parse(text));
      if (checked.ok) jobs.push(checked.value);
    } catch {
      // A corrupt entry is skipped: one bad job must not hide the others.
    }
  }
  return jobs;
}

export class RedisJobStore implements JobStore {
  readonly #redis: Redis | Cluster;
  readonly #scripted: ScriptedRedis;
  readonly #prefix: string;
  readonly #ownsConnection: boolean;
  readonly #sharded: boolean;

  constructor(redis: Redis | Cluster, options: RedisJobStoreOptions = {}) {
    this.#redis = redis;
    this.#prefix = options.prefix ?? DEFAULT_REDIS_PREFIX;
    this.#ownsConnection = options.ownsConnection ?? false;
    this.#sharded = options.sharded ?? false;
    for (const script of [this.#sharded ? PUBLISH_UPDATE_SHARDED : PUBLISH_UPDATE, SNAPSHOT]) {
      if (!(script.name in redis)) {
        redis.defineCommand(script.name, { numberOfKeys: script.numberOfKeys, lua: script.lua });
      }
    }
    this.#scripted = redis as unknown as ScriptedRedis;
  }

  async publish(channel: string, input: UpdateInput, history: History): Promise<Published> {
    const { update, body } = prepareUpdate(channel, input);
    const script = this.#sharded
      ? this.#scripted.publishUpdateSharded
      : this.#scripted.publishUpdate;
    const [seq, receivers] = await script.call(
      this.#scripted,
      ...this.#scriptArgs(channel, update, body, history),
    );
    return { update: { seq, ...update }, receivers };
  }

  /** The publish script's keys and arguments for one update. */
  #scriptArgs(
    channel: string,
    update: JobUpdate,
    body: string,
    history: History,
  ): Parameters<PublishScript> {
    const keys = channelKeys(channel, this.#prefix);
    return [
      keys.state,
      keys.counter,
      keys.index,
      keys.done,
      update.jobId,
      body,
      update.timestamp,
      history.maxJobs,
      history.ttlSeconds,
      this.#sharded ? shardedPubsubChannel(channel, this.#prefix) : keys.pubsub,
      isTerminalStatus(update.status) ? "1" : "0",
    ];
  }

  async publishGuarded(
    channel: string,
    input: UpdateInput,
    history: History,
    guard: PublishGuard,
  ): Promise<GuardedPublished> {
    const { update, body } = prepareUpdate(channel, input);
    const script = this.#sharded ? PUBLISH_GUARDED_SHARDED : PUBLISH_GUARDED;
    // Defined on first use, so connections that never publish guarded carry no extra script.
    if (!(script.name in this.#redis)) {
      this.#redis.defineCommand(script.name, {
        numberOfKeys: script.numberOfKeys,
        lua: script.lua,
      });
    }
    const run = (this.#redis as unknown as Record<string, GuardedScript>)[script.name]!;
    const [seq, second] = await run.call(
      this.#redis,
      ...this.#scriptArgs(channel, update, body, history),
      guard,
    );
    if (seq === 0) {
      const refused = decodeStates([String(second)])[0];
      // Only the absent guard refuses a stored state that is not a valid update.
      if (refused) return { refused };
      throw new Error(`job ${update.jobId} on ${channel} has a stored state that is not an update`);
    }
    return { update: { seq, ...update }, receivers: Number(second) };
  }

  async snapshot(channel: string, history: History): Promise<JobUpdate[]> {
    const keys = channelKeys(channel, this.#prefix);
    const texts = await this.#scripted.snapshot(
      keys.state,
      keys.index,
      retainedSince(history, Date.now()),
      history.maxJobs,
    );
    return decodeStates(texts);
  }

  async get(channel: string, jobId: string): Promise<JobUpdate | undefined> {
    const text = await this.#redis.hget(channelKeys(channel, this.#prefix).state, jobId);
    return decodeStates([text])[0];
  }

  async close(): Promise<void> {
    if (this.#ownsConnection) await this.#redis.quit();
  }
}
