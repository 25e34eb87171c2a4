// One redis-server, a Redis connection to publish with and one jobchannel-relay process per test
// file, and clients that are all cut when the file ends.
import { after, before } from "node:test";
import { startRedis, type TestRedis } from "@jobchannel/testkit";
import { Redis } from "ioredis";
import { connect, type TestClient } from "./client.ts";
import { startRelayProcess, type RelayProcess } from "./relay-process.ts";

export interface ProcessFixture {
  redis(): TestRedis;
  /** A connection that waits for Redis through restarts. */
  publisher(): Redis;
  relay(): RelayProcess;
  /** Opens a client to the relay; `query` goes after `/ws`. */
  open(query?: string): Promise<TestClient>;
}

/**
 * Registers the file's before/after hooks; `env` is the relay's (REDIS_URL is set), or a function
 * that makes it once the file starts (to start servers the relay is pointed at).
 */
export function processFixture(
  env: Record<string, string> | (() => Promise<Record<string, string>>) = {},
): ProcessFixture {
  let redis: TestRedis;
  let publisher: Redis;
  let relay: RelayProcess;
  const clients: TestClient[] = [];
  before(async () => {
    redis = await startRedis();
    publisher = new Redis(redis.url, { maxRetriesPerRequest: null });
    // Refused connections while Redis is down are expected; commands wait for it.
    publisher.on("error", () => {});
    relay = await startRelayProcess({
      REDIS_URL: redis.url,
      ...(typeof env === "function" ? await env() : env),
    });
  });
  after(async () => {
    for (const c of clients) c.ws.terminate();
    await relay.process.stop(2000);
    publisher.disconnect();
    await redis.stop();
  });
  return {
    redis: () => redis,
    publisher: () => publisher,
    relay: () => relay,
    async open(query = "") {
      const client = await connect(relay.url + query);
      clients.push(client);
      return client;
    },
  };
}
