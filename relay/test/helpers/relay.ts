// Starts a relay in this process on a free port, against a real Redis, for integration tests.
import type { Server } from "node:http";
import { RedisJobStore } from "@jobchannel/state";
import { Redis } from "ioredis";
import { SignJWT } from "jose";
import pino from "pino";
import { Registry } from "prom-client";
import { createAuthenticator } from "../../src/auth.ts";
import { createRedisBroker } from "../../src/broker-redis.ts";
import type { ChannelConfig } from "../../src/channel-config.ts";
import type { ChannelConfigSource } from "../../src/config-source.ts";
import type { ConnectionLimits } from "../../src/connection.ts";
import { createRelay, type Relay } from "../../src/relay.ts";
import { startRelayServer } from "../../src/server.ts";

export const SECRET = "integration-secret-0123456789abcdef01234";

/** A signed HS256 token; `expiresIn` is seconds from now (negative = already expired). */
export function token(
  claims: Record<string, unknown>,
  expiresIn = 3600,
  secret = SECRET,
): Promise<string> {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: "HS256" })
    .setExpirationTime(Math.floor(Date.now() / 1000) + expiresIn)
    .sign(new TextEncoder().encode(secret));
}

export interface TestRelayOptions {
  redisUrl: string;
  channels?: ChannelConfig;
  configSource?: ChannelConfigSource;
  secret?: boolean;
  limits?: Partial<ConnectionLimits>;
  allowedOrigins?: string[];
  heartbeatMs?: number;
  maxConnections?: number;
}

export interface TestRelay {
  readonly relay: Relay;
  readonly server: Server;
  readonly url: string;
  readonly http: string;
  /** A Redis connection for publishing and reading. */
  readonly redis: Redis;
  readonly store: RedisJobStore;
  metrics(): Promise<string>;
  close(): Promise<void>;
}

export async function startTestRelay(options: TestRelayOptions): Promise<TestRelay> {
  const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? "silent" });
  const registry = new Registry();
  const redis = new Redis(options.redisUrl);
  const store = new RedisJobStore(redis);
  const auth = options.secret ? createAuthenticator({ secret: SECRET }) : undefined;
  const relay = createRelay({
    broker: createRedisBroker({
      url: options.redisUrl,
      logger,
      watchdogIntervalMs: 100,
      watchdogTimeoutMs: 1000,
    }),
    store,
    ...(options.channels ? { channels: options.channels } : {}),
    ...(options.configSource ? { configSource: options.configSource } : {}),
    ...(auth ? { auth } : {}),
    logger,
    registry,
    ...(options.limits ? { limits: options.limits } : {}),
    ...(options.allowedOrigins ? { allowedOrigins: options.allowedOrigins } : {}),
    ...(options.heartbeatMs ? { heartbeatMs: options.heartbeatMs } : {}),
    ...(options.maxConnections ? { maxConnections: options.maxConnections } : {}),
  });
  const { server, port } = await startRelayServer({ relay, registry, port: 0, host: "127.0.0.1" });
  return {
    relay,
    server,
    url: `ws://127.0.0.1:${port}/ws`,
    http: `http://127.0.0.1:${port}`,
    redis,
    store,
    metrics: () => registry.metrics(),
    async close() {
      await relay.close();
      await new Promise((resolve) => server.close(resolve));
      redis.disconnect();
    },
  };
}
