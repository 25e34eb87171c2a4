// The scaling model of docs/scaling.md, computed from the measurements bench/src/scaling.ts prints:
// how many relays and Redis primaries carry 100k, 1M and 10M connections, with the pattern
// subscription and with sharded subscriptions, and where each stops. Prints JSON lines and a
// Markdown table. Usage: node bench/src/scaling-model.ts bench/results/scaling-<date>.jsonl
import { readFileSync } from "node:fs";

interface Measurement {
  measurement: string;
  publishes: number;
  redisUsPerPublish: number;
  relays: number;
  relayCpuSeconds: number[];
  delivered: number;
  bytesPerConnection?: number;
}

const file = process.argv[2];
if (!file) {
  process.stderr.write("usage: node bench/src/scaling-model.ts <scaling.jsonl>\n");
  process.exit(2);
}
const lines = readFileSync(file, "utf8")
  .split("\n")
  .filter((l) => l.trim().startsWith("{"))
  .map((l) => JSON.parse(l) as Measurement & { event?: string });
const find = (name: string): Measurement => {
  const m = lines.find((l) => l.measurement === name);
  if (!m) throw new Error(`${file} has no measurement "${name}"`);
  return m;
};
const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0);

const one = find("single-redis 1 relay(s) without clients");
const three = find("single-redis 3 relay(s) without clients");
const clustered = find("cluster 3 shards, 3 relays with clients");
const idle = find("idle connections on one relay");

/** The measured inputs, in seconds of one core (or bytes). */
export const inputs = {
  /** Redis CPU per publish (state script + PUBLISH to one pattern subscriber). */
  redisPerPublish: one.redisUsPerPublish / 1e6,
  /** Extra Redis CPU per publish for each further subscribed relay. */
  redisPerSubscriber: Math.max(0, (three.redisUsPerPublish - one.redisUsPerPublish) / 2) / 1e6,
  /** Redis CPU per publish in cluster mode (script + SPUBLISH), summed over the shards. */
  shardPerPublish: clustered.redisUsPerPublish / 1e6,
  /** Relay CPU per received message that nobody on the relay wants. */
  relayPerUnwanted: sum(three.relayCpuSeconds) / (three.publishes * three.relays),
  /**
   * Relay CPU per delivery: relay CPU in cluster mode (every received message wanted) less the
   * receive cost (taken as the unwanted message's), over the deliveries.
   */
  relayPerDelivery: 0,
  /** Resident memory per idle subscribed connection, bytes. */
  bytesPerConnection: idle.bytesPerConnection ?? NaN,
};
inputs.relayPerDelivery =
  (sum(clustered.relayCpuSeconds) - clustered.publishes * inputs.relayPerUnwanted) /
  clustered.delivered;

/** What one process may use: a core at 70 %, and 2 GiB of connections per relay. */
export const budget = { core: 0.7, relayMemoryBytes: 2 * 2 ** 30 };

/** A workload: connections, each watching one channel of `fanout` subscribers, `rate` updates/s per channel. */
interface Workload {
  connections: number;
  fanout: number;
  rate: number;
}

interface Plan {
  relays: number | "none";
  redis: number | "none";
  limit: string;
}

/** Relays that hold a given channel, with its subscribers spread at random over `relays`. */
function relaysPerChannel(relays: number, fanout: number): number {
  return relays * (1 - (1 - 1 / relays) ** fanout);
}

function patternPlan(w: Workload): Plan {
  const updates = (w.connections / w.fanout) * w.rate;
  const deliveries = w.connections * w.rate;
  const byMemory = Math.ceil((w.connections * inputs.bytesPerConnection) / budget.relayMemoryBytes);
  const spare = budget.core - updates * inputs.relayPerUnwanted;
  if (spare <= 0) {
    return {
      relays: "none",
      redis: "none",
      limit: "every relay saturated by updates it does not want",
    };
  }
  const relays = Math.max(byMemory, Math.ceil((deliveries * inputs.relayPerDelivery) / spare), 1);
  const redisCpu = updates * (inputs.redisPerPublish + (relays - 1) * inputs.redisPerSubscriber);
  if (redisCpu > budget.core) {
    return { relays, redis: "none", limit: `one Redis needs ${redisCpu.toFixed(1)} cores` };
  }
  return {
    relays,
    redis: 1,
    limit: `Redis ${Math.round((redisCpu / budget.core) * 100)} % of its budget`,
  };
}

function shardedPlan(w: Workload): Plan {
  const channels = w.connections / w.fanout;
  const deliveries = w.connections * w.rate;
  let relays = Math.max(
    1,
    Math.ceil((w.connections * inputs.bytesPerConnection) / budget.relayMemoryBytes),
  );
  for (; relays < 1e6; relays = Math.ceil(relays * 1.05) + 1) {
    const received = (channels * relaysPerChannel(relays, w.fanout) * w.rate) / relays;
    const cpu =
      received * inputs.relayPerUnwanted + (deliveries / relays) * inputs.relayPerDelivery;
    if (cpu <= budget.core) break;
  }
  const k = relaysPerChannel(relays, w.fanout);
  const perChannel = w.rate * (inputs.shardPerPublish + (k - 1) * inputs.redisPerSubscriber);
  if (perChannel > budget.core) {
    return { relays, redis: "none", limit: "one channel is more than one shard can carry" };
  }
  const redis = Math.max(1, Math.ceil((channels * perChannel) / budget.core));
  return { relays, redis, limit: `${k.toFixed(1)} relays hold each channel` };
}

const workloads: Workload[] = [];
for (const connections of [1e5, 1e6, 1e7]) {
  for (const fanout of [10, 1000]) workloads.push({ connections, fanout, rate: 1 });
}
process.stdout.write(JSON.stringify({ inputs, budget }) + "\n");
const rows: string[] = [
  "| connections | subscribers per channel | updates/s | deliveries/s | pattern: relays | pattern: Redis | pattern: limit | sharded: relays | sharded: primaries | sharded: note |",
  "| ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | --- |",
];
for (const w of workloads) {
  const pattern = patternPlan(w);
  const sharded = shardedPlan(w);
  process.stdout.write(JSON.stringify({ workload: w, pattern, sharded }) + "\n");
  const updates = (w.connections / w.fanout) * w.rate;
  rows.push(
    `| ${w.connections.toLocaleString("en")} | ${w.fanout} | ${updates.toLocaleString("en")} | ${(w.connections * w.rate).toLocaleString("en")} | ${pattern.relays} | ${pattern.redis} | ${pattern.limit} | ${sharded.relays} | ${sharded.redis} | ${sharded.limit} |`,
  );
}
const ceilingPattern = budget.core / inputs.relayPerUnwanted;
const ceilingRedis = budget.core / inputs.redisPerPublish;
process.stdout.write(
  JSON.stringify({
    patternCeilingUpdatesPerSecond: Math.round(Math.min(ceilingPattern, ceilingRedis)),
    relayCeilingUpdatesPerSecond: Math.round(ceilingPattern),
    oneRedisCeilingUpdatesPerSecond: Math.round(ceilingRedis),
    shardCeilingUpdatesPerSecond: Math.round(budget.core / inputs.shardPerPublish),
  }) + "\n",
);
process.stdout.write(rows.join("\n") + "\n");
