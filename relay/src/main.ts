// The jobchannel-relay command: wires a relay from the environment and serves it until SIGTERM.
import {
  createClusterClient,
  MemoryBus,
  MemoryJobStore,
  RedisJobStore,
  type JobStore,
} from "@jobchannel/state";
import { Redis } from "ioredis";
import pino from "pino";
import { collectDefaultMetrics, Registry } from "prom-client";
import { createAuthenticator } from "./auth.ts";
import type { Broker } from "./broker.ts";
import { createMemoryBroker } from "./broker-memory.ts";
import { createRedisBroker } from "./broker-redis.ts";
import { createRedisClusterBroker } from "./broker-redis-cluster.ts";
import { helpText, loadEnv, type RelayEnv } from "./config.ts";
import type { ChannelConfigSource } from "./config-source.ts";
import { configMapConfigSource } from "./config-source-configmap.ts";
import { fileConfigSource } from "./config-source-file.ts";
import { RelayError } from "./errors.ts";
import { createRelay } from "./relay.ts";
import { startRelayServer } from "./server.ts";

async function run(env: RelayEnv): Promise<void> {
  const logger = pino({ level: env.logLevel, base: { service: "jobchannel-relay" } });
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });

  let broker: Broker;
  let store: JobStore;
  const brokerOptions = {
    prefix: env.redisPrefix,
    logger,
    watchdogIntervalMs: env.watchdogSeconds * 1000,
    watchdogTimeoutMs: env.watchdogTimeoutSeconds * 1000,
  };
  if (env.redis?.mode === "cluster") {
    logger.info({ nodes: env.redis.nodes.length }, "Redis Cluster mode: sharded subscriptions");
    broker = createRedisClusterBroker({ target: env.redis, ...brokerOptions });
    // Snapshot reads go to the shard owning the channel's hash tag (ioredis follows MOVED).
    const cluster = createClusterClient(env.redis, {
      enableOfflineQueue: false,
      redisOptions: { maxRetriesPerRequest: 1 },
    });
    cluster.on("error", () => {
      // The broker logs connection problems once; this client follows the same cluster.
    });
    store = new RedisJobStore(cluster, { prefix: env.redisPrefix, ownsConnection: true });
  } else if (env.redisUrl) {
    broker = createRedisBroker({ url: env.redisUrl, ...brokerOptions });
    // Snapshot reads fail fast while Redis is away rather than queue behind a reconnect.
    const redis = new Redis(env.redisUrl, { enableOfflineQueue: false, maxRetriesPerRequest: 1 });
    redis.on("error", () => {
      // The broker logs connection problems once; this connection follows the same Redis.
    });
    store = new RedisJobStore(redis, { prefix: env.redisPrefix, ownsConnection: true });
  } else {
    logger.warn("REDIS_URL is not set: in-memory broker, this process only");
    const bus = new MemoryBus();
    broker = createMemoryBroker(bus, env.redisPrefix);
    store = new MemoryJobStore(bus, env.redisPrefix);
  }

  let configSource: ChannelConfigSource | undefined;
  if (env.configFile) configSource = fileConfigSource(env.configFile, { logger });
  else if (env.configMap) configSource = configMapConfigSource({ ...env.configMap, logger });

  const relay = createRelay({
    broker,
    store,
    ...(configSource ? { configSource } : {}),
    ...withAuth(env),
    logger,
    registry,
    allowedOrigins: env.allowedOrigins,
    heartbeatMs: env.heartbeatSeconds * 1000,
    heartbeatFrameMs: Math.round(env.heartbeatFrameSeconds * 1000),
    maxConnections: env.maxConnections,
    limits: {
      sendBufferBytes: env.sendBufferBytes,
      sendQueueLimitBytes: env.sendQueueLimitBytes,
      maxFrameBytes: env.maxFrameBytes,
      rateLimit: env.rateLimit,
      rateLimitBurst: env.rateLimitBurst,
    },
  });
  const { server, port } = await startRelayServer({
    relay,
    registry,
    port: env.port,
    ...(env.host ? { host: env.host } : {}),
  });
  logger.info({ port }, "relay listening");

  let stopping = false;
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) {
      logger.warn({ signal }, "second signal: exiting now");
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal, drainSeconds: env.drainSeconds }, "shutting down");
    void (async () => {
      await relay.drain(env.drainSeconds * 1000);
      server.close();
      await relay.close();
      await store.close().catch(() => {});
      logger.info("stopped");
      process.exit(0);
    })();
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}

function withAuth(env: RelayEnv): { auth?: ReturnType<typeof createAuthenticator> & object } {
  const auth = createAuthenticator({
    ...(env.jwtSecret ? { secret: env.jwtSecret } : {}),
    ...(env.jwksUrl ? { jwksUrl: env.jwksUrl } : {}),
    ...(env.jwtIssuer ? { issuer: env.jwtIssuer } : {}),
    ...(env.jwtAudience ? { audience: env.jwtAudience } : {}),
  });
  return auth ? { auth } : {};
}

const args = process.argv.slice(2);
if (args.includes("--help") || args.includes("-h")) {
  process.stdout.write(helpText());
} else if (args.length > 0) {
  process.stderr.write(`jobchannel-relay: unknown argument ${args[0]}; try --help\n`);
  process.exitCode = 2;
} else {
  let env: RelayEnv | undefined;
  try {
    env = loadEnv();
  } catch (e) {
    if (!(e instanceof RelayError)) throw e;
    process.stderr.write(`jobchannel-relay: ${e.message}\n`);
    process.exitCode = 1;
  }
  if (env) {
    run(env).catch((e: unknown) => {
      process.stderr.write(`jobchannel-relay: ${e instanceof Error ? e.message : String(e)}\n`);
      process.exit(1);
    });
  }
}
