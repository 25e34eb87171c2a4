// The Redis broker: one PSUBSCRIBE <prefix>* per process, payloads kept as Buffers, and a watchdog
// that publishes a canary to itself and resubscribes when the canary stops arriving.
import { randomBytes } from "node:crypto";
import { DEFAULT_REDIS_PREFIX } from "@jobchannel/protocol";
import { pubsubPattern } from "@jobchannel/state";
import { Redis, type RedisOptions } from "ioredis";
import type { Logger } from "pino";
import type { Broker, BrokerListener } from "./broker.ts";

/**
 * Canary channels: `<prefix>__canary__:<instance>`. Never a valid channel name (DNS labels have no
 * `_` or `:`), so no publisher can collide with it.
 */
export const CANARY_CHANNEL = "__canary__:";

/** Options of {@link createRedisBroker}. */
export interface RedisBrokerOptions {
  /** `redis://` URL. */
  url: string;
  logger: Logger;
  /** @default "jobchannel:" */
  prefix?: string;
  /** Canary interval, ms. @default 5000 */
  watchdogIntervalMs?: number;
  /** Canary silence after which the subscription counts as dead and is renewed, ms. @default 15000 */
  watchdogTimeoutMs?: number;
  /** Extra ioredis options for both connections. */
  redisOptions?: RedisOptions;
}

/** A broker on one Redis pattern subscription, whatever the number of clients. */
export function createRedisBroker(options: RedisBrokerOptions): Broker {
  const prefix = options.prefix ?? DEFAULT_REDIS_PREFIX;
  const intervalMs = options.watchdogIntervalMs ?? 5000;
  const timeoutMs = options.watchdogTimeoutMs ?? 15_000;
  const log = options.logger.child({ component: "redis-broker" });
  const canaryName = `${CANARY_CHANNEL}${randomBytes(6).toString("hex")}`;
  const canaryChannel = prefix + canaryName;
  const prefixBytes = Buffer.byteLength(prefix);
  const retryStrategy = (attempt: number): number =>
    Math.min(50 * 2 ** attempt, 2000) + Math.floor(Math.random() * 100);
  const common: RedisOptions = { lazyConnect: true, retryStrategy, ...options.redisOptions };
  // The subscriber waits for Redis however long it takes; ioredis re-issues PSUBSCRIBE on reconnect.
  const subscriber = new Redis(options.url, {
    ...common,
    autoResubscribe: true,
    maxRetriesPerRequest: null,
  });
  // Canaries are fire-and-forget: never queued while Redis is away.
  const publisher = new Redis(options.url, {
    ...common,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
  });

  let listener: BrokerListener | undefined;
  let up = false;
  let lastCanaryAt = 0;
  let renewedAt = 0;
  let timer: NodeJS.Timeout | undefined;
  let closed = false;

  const setHealth = (value: boolean, why: string): void => {
    if (value === up) return;
    up = value;
    if (value) log.info("redis subscription live");
    else log.warn({ why }, "redis subscription not live");
    listener?.health(value);
  };

  const sendCanary = (): void => {
    if (publisher.status !== "ready") return;
    publisher.publish(canaryChannel, String(Date.now())).catch(() => {
      // A failed canary shows up as a missing one; the watchdog handles it.
    });
  };

  const tick = (): void => {
    const now = Date.now();
    const silentFor = now - Math.max(lastCanaryAt, renewedAt);
    if (silentFor > timeoutMs && subscriber.status === "ready") {
      setHealth(false, "canary missing");
      log.warn({ silentForMs: silentFor }, "redis subscription silent, resubscribing");
      renewedAt = now;
      // Dropping the connection makes ioredis reconnect and re-issue PSUBSCRIBE.
      subscriber.disconnect(true);
      return;
    }
    sendCanary();
  };

  subscriber.on("pmessageBuffer", (_pattern: string, channel: Buffer, message: Buffer) => {
    // Channel names are ASCII; latin1 decoding is exact for them and cheap.
    const name = channel.toString("latin1", prefixBytes);
    if (name.startsWith(CANARY_CHANNEL)) {
      if (name === canaryName) {
        lastCanaryAt = Date.now();
        setHealth(true, "canary received");
      }
      return;
    }
    listener?.message(name, message);
  });
  subscriber.on("ready", () => {
    renewedAt = Date.now();
    // The resubscription is sent right after "ready": give it a moment, then prove it.
    setTimeout(sendCanary, 20).unref();
  });
  subscriber.on("close", () => {
    if (!closed) setHealth(false, "connection closed");
  });
  let lastError = "";
  const onError = (e: Error): void => {
    if (e.message === lastError) return;
    lastError = e.message;
    log.warn({ err: e.message }, "redis connection error");
  };
  subscriber.on("error", onError);
  publisher.on("error", onError);
  publisher.on("ready", () => {
    lastError = "";
  });

  return {
    async start(l) {
      listener = l;
      subscriber.connect().catch(() => {
        // Retried by ioredis; errors are logged by the error listener.
      });
      publisher.connect().catch(() => {});
      subscriber.psubscribe(pubsubPattern(prefix)).catch((e: Error) => {
        if (!closed) log.error({ err: e.message }, "PSUBSCRIBE failed");
      });
      timer = setInterval(tick, intervalMs);
      timer.unref();
    },
    healthy: () => up,
    async close() {
      closed = true;
      clearInterval(timer);
      up = false;
      subscriber.disconnect();
      publisher.disconnect();
    },
  };
}
