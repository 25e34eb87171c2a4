// The Redis Cluster broker: sharded subscriptions (SSUBSCRIBE) only for channels with local
// subscribers, each on a connection to the primary that owns the channel's hash slot, a canary per
// primary, and re-subscription when the topology changes (failover, slot migration, MOVED).
import { randomBytes } from "node:crypto";
import { DEFAULT_REDIS_PREFIX } from "@jobchannel/protocol";
import {
  SLOT_COUNT,
  channelOfShardedPubsub,
  createClusterClient,
  keySlot,
  nodeOptions,
  shardedPubsubChannel,
  type RedisTarget,
} from "@jobchannel/state";
import { Redis, type Cluster } from "ioredis";
import type { Logger } from "pino";
import type { Broker, BrokerListener } from "./broker.ts";
import { CANARY_CHANNEL } from "./broker-redis.ts";

/** Options of {@link createRedisClusterBroker}. */
export interface RedisClusterBrokerOptions {
  target: RedisTarget & { mode: "cluster" };
  logger: Logger;
  /** @default "jobchannel:" */
  prefix?: string;
  /** Canary and topology check interval, ms. @default 5000 */
  watchdogIntervalMs?: number;
  /** Canary silence after which a primary's connection counts as dead and is renewed, ms. @default 15000 */
  watchdogTimeoutMs?: number;
}

/** Where a watched channel's subscription stands. */
type ChannelState =
  /** Its first subscription is on its way: nothing was missed yet. */
  | "pending"
  | "live"
  /** It was live (or wanted while the broker was not) and is not now: a gap to recover. */
  | "lost";

interface Watched {
  state: ChannelState;
  /** The primary (`host:port`) it is subscribed on, or meant to be. */
  node: string | undefined;
  /** Callers of {@link Broker.watch} waiting for its first subscription. */
  waiters: (() => void)[];
}

/** One subscriber connection to one primary. */
interface Link {
  readonly node: string;
  readonly redis: Redis;
  /** Bumped on every close, so answers from an older connection are ignored. */
  generation: number;
  /** The canary's tag, in a slot this primary owns; `undefined` until the topology is known. */
  canary: string | undefined;
  canaryAt: number;
  /** When its canary was last subscribed: a live connection has received a canary since. */
  subscribedAt: number;
  /** Connected with its canary subscribed. */
  ready: boolean;
}

/** A broker on a Redis Cluster's sharded pub/sub, subscribing per channel with local subscribers. */
export function createRedisClusterBroker(options: RedisClusterBrokerOptions): Broker {
  const prefix = options.prefix ?? DEFAULT_REDIS_PREFIX;
  const intervalMs = options.watchdogIntervalMs ?? 5000;
  const timeoutMs = options.watchdogTimeoutMs ?? 15_000;
  const log = options.logger.child({ component: "redis-cluster-broker" });
  const instance = randomBytes(6).toString("hex");
  const prefixBytes = Buffer.byteLength(prefix);
  const retryStrategy = (attempt: number): number =>
    Math.min(50 * 2 ** attempt, 2000) + Math.floor(Math.random() * 100);
  // Topology reads and canaries; never queued while the cluster is away.
  const cluster: Cluster = createClusterClient(options.target, {
    enableOfflineQueue: false,
    clusterRetryStrategy: retryStrategy,
    redisOptions: { maxRetriesPerRequest: 0, connectTimeout: 2000 },
    lazyConnect: true,
  });

  /** Slot -> primary `host:port`; empty until the first topology read. */
  let owners: string[] = [];
  const links = new Map<string, Link>();
  const watched = new Map<string, Watched>();
  let listener: BrokerListener | undefined;
  let up = false;
  let closed = false;
  let timer: NodeJS.Timeout | undefined;
  let lastError = "";

  const onError = (e: Error): void => {
    if (e.message === lastError) return;
    lastError = e.message;
    log.warn({ err: e.message }, "redis cluster connection error");
  };
  cluster.on("error", onError);

  const setHealth = (value: boolean, why: string): void => {
    if (value === up) return;
    up = value;
    if (value) log.info("redis cluster subscriptions live");
    else log.warn({ why }, "redis cluster subscriptions not live");
    listener?.health(value);
  };

  /** Live when every primary's connection is ready with a fresh canary and no channel is lost. */
  const updateHealth = (why: string): void => {
    if (owners.length === 0 || links.size === 0) return setHealth(false, why);
    const now = Date.now();
    for (const link of links.values()) {
      if (!link.ready || link.canaryAt < link.subscribedAt || now - link.canaryAt > timeoutMs) {
        return setHealth(false, why);
      }
    }
    for (const entry of watched.values()) if (entry.state === "lost") return setHealth(false, why);
    setHealth(true, why);
  };

  const release = (entry: Watched): void => {
    for (const wake of entry.waiters.splice(0)) wake();
  };

  /** Marks a channel's subscription gone; a gap only if it was live or already lost. */
  const lose = (entry: Watched): void => {
    entry.state = "lost";
    release(entry);
  };

  const canaryTag = (node: string): string | undefined => {
    for (let i = 0; i < 100_000; i++) {
      const tag = `${CANARY_CHANNEL}${instance}:${i}`;
      if (owners[keySlot(tag)] === node) return tag;
    }
    return undefined;
  };

  const ownerOf = (channel: string): string | undefined =>
    owners[keySlot(shardedPubsubChannel(channel, prefix))];

  /** SSUBSCRIBE (updates) and SUBSCRIBE (raw publishes, cluster-wide) for one channel on `link`. */
  const subscribeChannel = (link: Link, channel: string): void => {
    const generation = link.generation;
    const sharded = shardedPubsubChannel(channel, prefix);
    const raw = prefix + channel;
    Promise.all([link.redis.ssubscribe(sharded), link.redis.subscribe(raw)]).then(
      () => {
        if (link.generation !== generation) return;
        const entry = watched.get(channel);
        if (!entry || entry.node !== link.node) {
          // Unwatched or moved while the answer was on its way.
          unsubscribeChannel(link, channel);
          return;
        }
        entry.state = "live";
        release(entry);
        updateHealth("channel subscribed");
      },
      (e: Error) => {
        if (link.generation !== generation || closed) return;
        log.warn({ channel, node: link.node, err: e.message }, "SSUBSCRIBE failed");
        const entry = watched.get(channel);
        if (entry && entry.node === link.node) {
          lose(entry);
          entry.node = undefined;
        }
        updateHealth("subscribe failed");
        // MOVED or a node going away: read the topology again and place the channel there.
        void refresh();
      },
    );
  };

  const unsubscribeChannel = (link: Link, channel: string): void => {
    if (link.redis.status !== "ready") return;
    const sharded = shardedPubsubChannel(channel, prefix);
    Promise.all([link.redis.sunsubscribe(sharded), link.redis.unsubscribe(prefix + channel)]).catch(
      () => {
        // The connection went away: nothing is subscribed on it any more.
      },
    );
  };

  const subscribeLink = (link: Link): void => {
    if (link.redis.status !== "ready" || link.canary === undefined) return;
    const generation = link.generation;
    link.redis.ssubscribe(shardedPubsubChannel(link.canary, prefix)).then(
      () => {
        if (link.generation !== generation) return;
        link.ready = true;
        // The canary proves the subscription within the timeout from here.
        link.subscribedAt = Date.now();
        sendCanary(link);
        for (const [channel, entry] of watched) {
          if (entry.node === link.node && entry.state !== "live") subscribeChannel(link, channel);
        }
        updateHealth("primary connected");
      },
      (e: Error) => {
        if (link.generation !== generation || closed) return;
        log.warn({ node: link.node, err: e.message }, "canary SSUBSCRIBE failed");
        void refresh();
      },
    );
  };

  const sendCanary = (link: Link): void => {
    if (!link.ready || link.canary === undefined || cluster.status !== "ready") return;
    cluster.spublish(shardedPubsubChannel(link.canary, prefix), String(Date.now())).catch(() => {
      // A failed canary shows up as a missing one.
    });
  };

  const openLink = (node: string): Link => {
    const colon = node.lastIndexOf(":");
    const redis = new Redis({
      ...nodeOptions(options.target),
      host: node.slice(0, colon),
      port: Number(node.slice(colon + 1)),
      lazyConnect: true,
      autoResubscribe: false,
      enableOfflineQueue: false,
      maxRetriesPerRequest: null,
      connectTimeout: 2000,
      retryStrategy,
    });
    const link: Link = {
      node,
      redis,
      generation: 0,
      canary: undefined,
      canaryAt: 0,
      subscribedAt: 0,
      ready: false,
    };
    redis.on("smessageBuffer", (channel: Buffer, message: Buffer) => {
      const name = channelOfShardedPubsub(channel.toString("latin1"), prefix);
      if (name === undefined) return;
      if (name.startsWith(CANARY_CHANNEL)) {
        if (name === link.canary) {
          link.canaryAt = Date.now();
          updateHealth("canary received");
        }
        return;
      }
      listener?.message(name, message);
    });
    // Raw PUBLISH jobchannel:<channel> (the original guide's worker) travels cluster-wide.
    redis.on("messageBuffer", (channel: Buffer, message: Buffer) => {
      listener?.message(channel.toString("latin1", prefixBytes), message);
    });
    redis.on("ready", () => subscribeLink(link));
    redis.on("close", () => {
      link.generation++;
      link.ready = false;
      for (const entry of watched.values()) if (entry.node === node) lose(entry);
      if (!closed) updateHealth("primary connection closed");
    });
    redis.on("error", (e: Error) => {
      onError(e);
      // An unsubscribe pushed by Redis (its slot moved away) is not an answer ioredis expects:
      // start this connection over; the topology read places the channel on its new owner.
      if (e.message.startsWith("Command queue state error")) redis.disconnect(true);
    });
    redis.connect().catch(() => {
      // Retried by ioredis; errors are logged by the error listener.
    });
    return link;
  };

  const closeLink = (link: Link): void => {
    links.delete(link.node);
    link.generation++;
    link.ready = false;
    link.redis.disconnect();
    for (const entry of watched.values()) {
      if (entry.node === link.node) {
        lose(entry);
        entry.node = undefined;
      }
    }
  };

  /** Places a watched channel on its owner's connection, subscribing there when it is ready. */
  const place = (channel: string, entry: Watched): void => {
    const owner = ownerOf(channel);
    if (owner === entry.node && entry.state !== "lost") return;
    if (entry.node !== undefined && entry.node !== owner) {
      const old = links.get(entry.node);
      if (old) unsubscribeChannel(old, channel);
      if (entry.state === "live") lose(entry);
    }
    entry.node = owner;
    const link = owner === undefined ? undefined : links.get(owner);
    if (link?.ready) subscribeChannel(link, channel);
  };

  let refreshing: Promise<void> | undefined;
  /** Reads CLUSTER SLOTS and moves connections and subscriptions to the current primaries. */
  const refresh = (): Promise<void> =>
    (refreshing ??= (async () => {
      try {
        const slots = await withTimeout(cluster.cluster("SLOTS"), 2000);
        const next: string[] = new Array<string>(SLOT_COUNT);
        for (const [from, to, primary] of slots) {
          if (!primary) continue;
          for (let slot = from; slot <= to; slot++) next[slot] = `${primary[0]}:${primary[1]}`;
        }
        owners = next;
      } catch (e) {
        onError(e instanceof Error ? e : new Error(String(e)));
        return;
      } finally {
        refreshing = undefined;
      }
      if (closed) return;
      const primaries = new Set(owners.filter((o) => o !== undefined));
      for (const link of [...links.values()]) if (!primaries.has(link.node)) closeLink(link);
      for (const node of primaries) {
        const link = links.get(node) ?? openLink(node);
        links.set(node, link);
        const canary = canaryTag(node);
        if (canary !== link.canary) {
          const old = link.canary;
          link.canary = canary;
          if (old !== undefined && link.redis.status === "ready") {
            link.redis.sunsubscribe(shardedPubsubChannel(old, prefix)).catch(() => {});
          }
          if (link.ready || old === undefined) {
            link.ready = false;
            subscribeLink(link);
          }
        }
      }
      for (const [channel, entry] of watched) place(channel, entry);
      updateHealth("topology read");
    })());

  const tick = (): void => {
    void refresh().then(() => {
      if (closed) return;
      const now = Date.now();
      for (const link of links.values()) {
        const silentFor = now - Math.max(link.canaryAt, link.subscribedAt);
        if (link.ready && silentFor > timeoutMs) {
          log.warn({ node: link.node, silentForMs: silentFor }, "canary missing, reconnecting");
          // Reconnecting closes the connection (every channel on it becomes lost) and resubscribes.
          link.redis.disconnect(true);
          continue;
        }
        sendCanary(link);
      }
      updateHealth("watchdog");
    });
  };

  return {
    async start(l) {
      listener = l;
      cluster.connect().catch(() => {
        // Retried by ioredis; errors are logged by the error listener.
      });
      cluster.on("ready", () => {
        lastError = "";
        void refresh();
      });
      timer = setInterval(tick, intervalMs);
      timer.unref();
    },
    healthy: () => up,
    watch(channel) {
      const existing = watched.get(channel);
      if (existing) {
        if (existing.state !== "pending") return Promise.resolve();
        return new Promise((resolve) => existing.waiters.push(resolve));
      }
      // While the broker is not live, a new channel is a gap like the others: the relay recovers it.
      const entry: Watched = { state: up ? "pending" : "lost", node: undefined, waiters: [] };
      watched.set(channel, entry);
      const subscribed =
        entry.state === "pending"
          ? new Promise<void>((resolve) => entry.waiters.push(resolve))
          : Promise.resolve();
      place(channel, entry);
      return subscribed;
    },
    unwatch(channel) {
      const entry = watched.get(channel);
      if (!entry) return;
      watched.delete(channel);
      release(entry);
      const link = entry.node === undefined ? undefined : links.get(entry.node);
      if (link) unsubscribeChannel(link, channel);
      updateHealth("channel unwatched");
    },
    async close() {
      closed = true;
      clearInterval(timer);
      up = false;
      for (const entry of watched.values()) release(entry);
      for (const link of links.values()) link.redis.disconnect();
      links.clear();
      cluster.disconnect();
    },
  };
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer in ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
