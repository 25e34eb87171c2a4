// Opens the worker's Redis connections: one server for a redis:// URL, a Redis Cluster client for a
// redis+cluster:// one (the job state then publishes with SPUBLISH on the channel's shard).
import { createRedisClient, isClusterUrl, parseRedisTarget } from "@jobchannel/state";
import type { Cluster, Redis, RedisOptions } from "ioredis";

/** True when `url` names a Redis Cluster (`redis+cluster://` or `rediss+cluster://`). */
export function isClusterRedisUrl(url: string): boolean {
  return isClusterUrl(url);
}

/**
 * A connection for `url`: `Redis` for one server, `Cluster` for a cluster URL, with `options` on
 * every node connection (BullMQ's `maxRetriesPerRequest: null` among them).
 */
export function openRedis(url: string, options: RedisOptions = {}): Redis | Cluster {
  return createRedisClient(parseRedisTarget(url), options);
}
