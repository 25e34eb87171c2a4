// One redis-server per test file, relays started against it on demand, and clients that are all
// cut when the file ends.
import { after, before } from "node:test";
import { startRedis, waitFor, type TestRedis } from "@jobchannel/testkit";
import { connect, type ConnectOptions, type TestClient } from "./client.ts";
import { startTestRelay, type TestRelay, type TestRelayOptions } from "./relay.ts";

export interface RelayFixture {
  /** The file's redis-server (to kill and restart it). */
  redis(): TestRedis;
  /** Starts a relay (with the fixture's defaults under `options`) and waits until it is ready. */
  relayWith(options?: Omit<TestRelayOptions, "redisUrl">): Promise<TestRelay>;
  /** Opens a client to a relay; `query` goes after `/ws`. */
  open(relay: TestRelay, query?: string, options?: ConnectOptions): Promise<TestClient>;
}

/** Registers the file's before/after hooks; call at the top level of a test file. */
export function relayFixture(defaults: Omit<TestRelayOptions, "redisUrl"> = {}): RelayFixture {
  let redis: TestRedis;
  const clients: TestClient[] = [];
  const relays: TestRelay[] = [];
  before(async () => {
    redis = await startRedis();
  });
  after(async () => {
    for (const c of clients) c.ws.terminate();
    for (const r of relays) await r.close();
    await redis.stop();
  });
  return {
    redis: () => redis,
    async relayWith(options = {}) {
      const relay = await startTestRelay({ redisUrl: redis.url, ...defaults, ...options });
      relays.push(relay);
      await waitFor(() => relay.relay.ready(), { what: "a ready relay" });
      return relay;
    },
    async open(relay, query = "", options = {}) {
      const client = await connect(relay.url + query, options);
      clients.push(client);
      return client;
    },
  };
}
