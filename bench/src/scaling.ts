// The scaling measurements of docs/scaling.md: what one message costs at each hop, with 1 and 3
// relay processes behind one Redis (pattern subscription) and 3 relays on a 3-shard Redis Cluster
// (sharded subscriptions). Prints one JSON line per measurement and a summary line; bounded (~2 min).
// Usage: node bench/src/scaling.ts [--publishes 12000] [--connections 2000]
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import {
  DEFAULT_HISTORY,
  RedisJobStore,
  createClusterClient,
  parseRedisTarget,
} from "@jobchannel/state";
import {
  freePort,
  startProcess,
  startRedis,
  startRedisCluster,
  waitFor,
  type Started,
} from "@jobchannel/testkit";
import { Redis, type Cluster } from "ioredis";
import { cpuSeconds, loadAverage, rssBytes } from "./proc.ts";
import { openRawClient } from "./raw-client.ts";

const { values } = parseArgs({
  options: {
    publishes: { type: "string", default: "12000" },
    connections: { type: "string", default: "2000" },
  },
});
const PUBLISHES = Number(values.publishes);
const IDLE_CONNECTIONS = Number(values.connections);
/** Channels the publishes go round-robin over; relay i watches the channels c with c % 3 === i. */
const CHANNELS = 30;
/** Connections per watched channel on its relay. */
const PER_CHANNEL = 5;
const RELAY_BIN = fileURLToPath(new URL("../../relay/bin/jobchannel-relay.js", import.meta.url));
const NODE = process.execPath;
const children: Started[] = [];

function say(line: Record<string, unknown>): void {
  process.stdout.write(JSON.stringify(line) + "\n");
}

interface RelayProc {
  readonly pid: number;
  readonly port: number;
  readonly started: Started;
  delivered(): Promise<number>;
}

async function startRelay(redisUrl: string, gc = false): Promise<RelayProc> {
  const port = await freePort();
  const flags = gc
    ? ["--expose-gc", "--import", fileURLToPath(new URL("./gc-on-signal.ts", import.meta.url))]
    : [];
  const started = startProcess(NODE, [...flags, RELAY_BIN], {
    env: {
      ...process.env,
      PORT: String(port),
      RELAY_HOST: "127.0.0.1",
      REDIS_URL: redisUrl,
      LOG_LEVEL: "warn",
    },
  });
  children.push(started);
  const http = `http://127.0.0.1:${port}`;
  await waitFor(
    async () => (await fetch(`${http}/readyz`).catch(() => undefined))?.status === 200,
    {
      what: "relay ready",
      timeoutMs: 20_000,
    },
  );
  return {
    pid: started.child.pid!,
    port,
    started,
    async delivered() {
      const text = await (await fetch(`${http}/metrics`)).text();
      let sum = 0;
      for (const m of text.matchAll(
        /^jobchannel_relay_messages_delivered_total\{[^}]*\} (\d+)/gm,
      )) {
        sum += Number(m[1]);
      }
      return sum;
    },
  };
}

/** Opens PER_CHANNEL connections per channel that relay `index` of `count` watches. */
async function watchers(relay: RelayProc, index: number, count: number): Promise<number> {
  let opened = 0;
  for (let c = 0; c < CHANNELS; c++) {
    if (c % count !== index) continue;
    for (let k = 0; k < PER_CHANNEL; k++) {
      await openRawClient("127.0.0.1", relay.port, `/ws?channels=scale-${c}`, () => {});
      opened++;
    }
  }
  return opened;
}

/** Publishes through the state script, pipelined, and returns wall seconds. */
async function publishAll(store: RedisJobStore): Promise<number> {
  const start = performance.now();
  const batch = 100;
  for (let i = 0; i < PUBLISHES; i += batch) {
    await Promise.all(
      Array.from({ length: Math.min(batch, PUBLISHES - i) }, (_, k) =>
        store.publish(
          `scale-${(i + k) % CHANNELS}`,
          {
            jobId: `job-${(i + k) % 200}`,
            status: "processing",
            progress: (i + k) % 100,
            fileName: "quarterly-report.pdf",
          },
          DEFAULT_HISTORY,
        ),
      ),
    );
  }
  return (performance.now() - start) / 1000;
}

function redisPid(port: number): number {
  const info = execFileSync("redis-cli", ["-p", String(port), "INFO", "server"], {
    encoding: "utf8",
  });
  return Number(/process_id:(\d+)/.exec(info)![1]);
}

/** One measured window: CPU of every process named, and deliveries, over all publishes. */
async function measure(
  name: string,
  store: RedisJobStore,
  redisPids: number[],
  relays: RelayProc[],
  extra: Record<string, unknown>,
): Promise<void> {
  await publishAll(store); // warm-up: scripts loaded, JIT warm
  // Idle cost (cluster gossip, canaries, timers) over a quiet second, taken off the window below.
  const idle0 = [...redisPids, ...relays.map((r) => r.pid)].map(cpuSeconds);
  const idleStart = performance.now();
  await new Promise((r) => setTimeout(r, 1000));
  const idleSeconds = (performance.now() - idleStart) / 1000;
  const idleRate = [...redisPids, ...relays.map((r) => r.pid)].map(
    (pid, i) => (cpuSeconds(pid) - idle0[i]!) / idleSeconds,
  );
  const redis0 = redisPids.map(cpuSeconds);
  const relay0 = relays.map((r) => cpuSeconds(r.pid));
  const delivered0 = await Promise.all(relays.map((r) => r.delivered()));
  const windowStart = performance.now();
  const seconds = await publishAll(store);
  // Let the last frames leave before the CPU is read.
  await new Promise((r) => setTimeout(r, 300));
  const window = (performance.now() - windowStart) / 1000;
  const redisCpu = redisPids.reduce(
    (sum, pid, i) => sum + cpuSeconds(pid) - redis0[i]! - idleRate[i]! * window,
    0,
  );
  const relayCpu = relays.map(
    (r, i) => cpuSeconds(r.pid) - relay0[i]! - idleRate[redisPids.length + i]! * window,
  );
  const delivered = (await Promise.all(relays.map((r) => r.delivered()))).reduce(
    (s, d, i) => s + d - delivered0[i]!,
    0,
  );
  say({
    measurement: name,
    publishes: PUBLISHES,
    seconds: round(seconds),
    redisCpuSeconds: round(redisCpu),
    redisUsPerPublish: round((redisCpu / PUBLISHES) * 1e6),
    relays: relays.length,
    relayCpuSeconds: relayCpu.map(round),
    idleCpuPerSecond: idleRate.map(round),
    delivered,
    ...extra,
  });
}

function round(n: number): number {
  return Math.round(n * 1000) / 1000;
}

async function singleRedis(relayCount: number, withClients: boolean): Promise<void> {
  const redis = await startRedis();
  try {
    const relays: RelayProc[] = [];
    for (let i = 0; i < relayCount; i++) relays.push(await startRelay(redis.url));
    let connections = 0;
    if (withClients)
      for (let i = 0; i < relayCount; i++) connections += await watchers(relays[i]!, i, relayCount);
    const connection = new Redis(redis.url);
    await measure(
      `single-redis ${relayCount} relay(s) ${withClients ? "with" : "without"} clients`,
      new RedisJobStore(connection),
      [redisPid(redis.port)],
      relays,
      { mode: "psubscribe", connections },
    );
    connection.disconnect();
    for (const r of relays) await r.started.stop(2000);
  } finally {
    await redis.stop();
  }
}

async function cluster(withClients: boolean): Promise<void> {
  const c = await startRedisCluster({ primaries: 3 });
  try {
    const relays: RelayProc[] = [];
    for (let i = 0; i < 3; i++) relays.push(await startRelay(c.url));
    let connections = 0;
    if (withClients) for (let i = 0; i < 3; i++) connections += await watchers(relays[i]!, i, 3);
    const target = parseRedisTarget(c.url);
    if (target.mode !== "cluster") throw new Error(`not a cluster URL: ${c.url}`);
    const client: Cluster = createClusterClient(target);
    const primaries = (await c.nodes()).filter((n) => n.primary).map((n) => n.port);
    await measure(
      `cluster 3 shards, 3 relays ${withClients ? "with" : "without"} clients`,
      new RedisJobStore(client, { sharded: true }),
      primaries.map(redisPid),
      relays,
      { mode: "ssubscribe", connections },
    );
    client.disconnect();
    for (const r of relays) await r.started.stop(2000);
  } finally {
    await c.stop();
  }
}

/** RSS per idle subscribed connection, after a full GC before and after. */
async function idleConnections(): Promise<void> {
  const redis = await startRedis();
  try {
    const relay = await startRelay(redis.url, true);
    const rss = async (): Promise<number> => {
      process.kill(relay.pid, "SIGUSR2");
      await new Promise((r) => setTimeout(r, 500));
      return rssBytes(relay.pid);
    };
    const before = await rss();
    for (let i = 0; i < IDLE_CONNECTIONS; i++) {
      await openRawClient("127.0.0.1", relay.port, `/ws?channels=scale-${i % CHANNELS}`, () => {});
    }
    const after = await rss();
    const perConnection = (after - before) / IDLE_CONNECTIONS;
    const line = {
      measurement: "idle connections on one relay",
      connections: IDLE_CONNECTIONS,
      rssBeforeBytes: before,
      rssAfterBytes: after,
      bytesPerConnection: Math.round(perConnection),
      connectionsPerGiB: Math.round(2 ** 30 / perConnection),
    };
    say(line);
    await relay.started.stop(2000);
  } finally {
    await redis.stop();
  }
}

try {
  say({
    event: "start",
    at: new Date().toISOString(),
    node: process.version,
    loadAverage: loadAverage(),
  });
  await singleRedis(1, false);
  await singleRedis(3, false);
  await singleRedis(3, true);
  await cluster(false);
  await cluster(true);
  await idleConnections();
  say({ event: "done", loadAverage: loadAverage() });
} finally {
  for (const c of children) await c.stop(2000);
}
