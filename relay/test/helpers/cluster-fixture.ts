// A real Redis Cluster, two jobchannel-relay processes in cluster mode, a publisher that runs the
// sharded publish script and clients, all cut when the test file ends.
import { after, before } from "node:test";
import { keySlot, RedisJobStore, shardedPubsubChannel } from "@jobchannel/state";
import {
  startRedisCluster,
  type RedisClusterOptions,
  type TestRedisCluster,
} from "@jobchannel/testkit";
import { Cluster } from "ioredis";
import { connect, type TestClient } from "./client.ts";
import { startRelayProcess, type RelayProcess } from "./relay-process.ts";

export interface ClusterFixture {
  cluster(): TestRedisCluster;
  /** A Cluster client for the publisher's store and raw commands. */
  client(): Cluster;
  /** The worker's store: state write and SPUBLISH in one script on the owning shard. */
  store(): RedisJobStore;
  relays(): readonly RelayProcess[];
  /** Opens a client to relay `index`; `query` goes after `/ws`. */
  open(index: number, query?: string): Promise<TestClient>;
  /** One channel name per primary, each landing on a different shard, named `<stem>-<n>`. */
  channelsOnEveryShard(stem: string): Promise<string[]>;
}

/** Registers the file's hooks: a cluster with `options`, and `relays` relay processes on it. */
export function clusterFixture(
  options: RedisClusterOptions & { relays?: number } = {},
  env: Record<string, string> = {},
): ClusterFixture {
  let cluster: TestRedisCluster;
  let client: Cluster;
  let store: RedisJobStore;
  const relays: RelayProcess[] = [];
  const clients: TestClient[] = [];
  before(async () => {
    cluster = await startRedisCluster(options);
    client = new Cluster([{ host: "127.0.0.1", port: cluster.ports[0]! }], {
      clusterRetryStrategy: () => 100,
      redisOptions: { maxRetriesPerRequest: 2, connectTimeout: 1000 },
    });
    // Refused connections while a primary is down are expected; publishes retry.
    client.on("error", () => {});
    store = new RedisJobStore(client, { sharded: true });
    const started = await Promise.all(
      Array.from({ length: options.relays ?? 2 }, () =>
        startRelayProcess({
          REDIS_URL: cluster.url,
          RELAY_WATCHDOG_SECONDS: "0.2",
          RELAY_WATCHDOG_TIMEOUT_SECONDS: "1",
          ...env,
        }),
      ),
    );
    relays.push(...started);
  });
  after(async () => {
    for (const c of clients) c.ws.terminate();
    await Promise.all(relays.map((r) => r.process.stop(2000)));
    client?.disconnect();
    await cluster?.stop();
  });
  return {
    cluster: () => cluster,
    client: () => client,
    store: () => store,
    relays: () => relays,
    async open(index, query = "") {
      const c = await connect(relays[index]!.url + query);
      clients.push(c);
      return c;
    },
    async channelsOnEveryShard(stem) {
      const primaries = (await cluster.nodes()).filter((n) => n.primary && n.slots.length > 0);
      const chosen = new Map<number, string>();
      for (let i = 0; chosen.size < primaries.length; i++) {
        const name = `${stem}-${i}`;
        const slot = keySlot(shardedPubsubChannel(name));
        const owner = primaries.find((p) => p.slots.some(([a, b]) => slot >= a && slot <= b));
        if (owner && !chosen.has(owner.port)) chosen.set(owner.port, name);
      }
      return [...chosen.values()];
    },
  };
}
