// Redis key layout of the job-state store. Every key of one channel shares the hash tag {<channel>}
// so the Lua scripts also run on a Redis Cluster.
import { DEFAULT_REDIS_PREFIX, redisChannelFor } from "@jobchannel/protocol";

/** The keys that hold one channel's job state. */
export interface ChannelKeys {
  /** HASH jobId -> latest update (JSON). */
  readonly state: string;
  /**
   * STRING: the channel's last seq. Every update draws its seq from it (INCR); retention never trims
   * it and it has no expiry, so a seq is never handed out twice while Redis keeps its data.
   */
  readonly counter: string;
  /** ZSET of every retained jobId, scored by the Unix ms of its last update. */
  readonly index: string;
  /** ZSET of the retained jobs whose last update is terminal; retention trims these first. */
  readonly done: string;
  /** The pub/sub channel updates travel on (not a key: outside the hash slot rules). */
  readonly pubsub: string;
}

export function channelKeys(channel: string, prefix: string = DEFAULT_REDIS_PREFIX): ChannelKeys {
  const base = `${prefix}{${channel}}`;
  return {
    state: `${base}:state`,
    counter: `${base}:counter`,
    index: `${base}:index`,
    done: `${base}:done`,
    pubsub: redisChannelFor(channel, prefix),
  };
}

/** The pattern every relay replica subscribes to: `jobchannel:*`. */
export function pubsubPattern(prefix: string = DEFAULT_REDIS_PREFIX): string {
  return `${prefix}*`;
}

/**
 * The sharded pub/sub channel a channel's updates travel on in Redis Cluster mode:
 * `jobchannel:{<channel>}`. It carries the channel's hash tag, so `SPUBLISH` runs on the shard that
 * holds the channel's keys, inside the publish script.
 */
export function shardedPubsubChannel(
  channel: string,
  prefix: string = DEFAULT_REDIS_PREFIX,
): string {
  return `${prefix}{${channel}}`;
}

/**
 * The channel a sharded pub/sub name (`<prefix>{<channel>}`) stands for, or `undefined` for any
 * other name. The result is not yet validated as a channel name.
 */
export function channelOfShardedPubsub(
  name: string,
  prefix: string = DEFAULT_REDIS_PREFIX,
): string | undefined {
  if (!name.startsWith(prefix) || name.length < prefix.length + 2) return undefined;
  if (name[prefix.length] !== "{" || !name.endsWith("}")) return undefined;
  return name.slice(prefix.length + 1, -1);
}
