// The job-state store on Redis: one Lua round trip per publish, one per snapshot.
import {
  DEFAULT_REDIS_PREFIX,
  isTerminalStatus,
  validateJobUpdate,
  type JobUpdate,
} from "@jobchannel/protocol";
import type { Redis } from "ioredis";
import { retainedSince, type History } from "./history.ts";
import { channelKeys } from "./keys.ts";
import { PUBLISH_UPDATE, SNAPSHOT } from "./scripts.ts";
import { prepareUpdate, type JobStore, type Published, type UpdateInput } from "./store.ts";

interface ScriptedRedis {
  publishUpdate(
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
  ): Promise<[number, number]>;
  snapshot(state: string, index: string, since: number, limit: number): Promise<string[]>;
}

/** Options of {@link RedisJobStore}. */
export interface RedisJobStoreOptions {
  /** Prefix of keys and pub/sub channels. @default "jobchannel:" */
  prefix?: string;
  /** Close the Redis connection on {@link RedisJobStore.close}. @default false */
  ownsConnection?: boolean;
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
  readonly #redis: Redis;
  readonly #scripted: ScriptedRedis;
  readonly #prefix: string;
  readonly #ownsConnection: boolean;

  constructor(redis: Redis, options: RedisJobStoreOptions = {}) {
    this.#redis = redis;
    this.#prefix = options.prefix ?? DEFAULT_REDIS_PREFIX;
    this.#ownsConnection = options.ownsConnection ?? false;
    for (const script of [PUBLISH_UPDATE, SNAPSHOT]) {
      if (!(script.name in redis)) {
        redis.defineCommand(script.name, { numberOfKeys: script.numberOfKeys, lua: script.lua });
      }
    }
    this.#scripted = redis as unknown as ScriptedRedis;
  }

  async publish(channel: string, input: UpdateInput, history: History): Promise<Published> {
    const { update, body } = prepareUpdate(channel, input);
    const keys = channelKeys(channel, this.#prefix);
    const [seq, receivers] = await this.#scripted.publishUpdate(
      keys.state,
      keys.counter,
      keys.index,
      keys.done,
      update.jobId,
      body,
      update.timestamp,
      history.maxJobs,
      history.ttlSeconds,
      keys.pubsub,
      isTerminalStatus(update.status) ? "1" : "0",
    );
    return { update: { seq, ...update }, receivers };
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
