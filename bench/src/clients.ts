// The client side of the load: N connections of one protocol, each subscribed to one channel,
// counting deliveries and fan-out latency (from the update's publish time to its arrival here).
// Driven over stdin/stdout by run.ts with one JSON line per command and answer: reset, report, exit.
import type { Socket } from "node:net";
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import { preciseNow } from "./clock.ts";
import { eachSentAt, openRawClient, sendText } from "./raw-client.ts";
import { PROTOCOLS, hs256Token, type Protocol } from "./protocols.ts";

const { values } = parseArgs({
  options: {
    host: { type: "string", default: "127.0.0.1" },
    port: { type: "string" },
    protocol: { type: "string", default: "jobchannel" },
    channels: { type: "string", default: "1" },
    connections: { type: "string", default: "1000" },
    /** Index of the first connection: a second clients process continues the first's numbering. */
    first: { type: "string", default: "0" },
    /** Connection upgrades in flight at once. */
    parallel: { type: "string", default: "100" },
    /** With a secret, each connection carries an HS256 token for user `user-<i % users>`. */
    "token-secret": { type: "string" },
    users: { type: "string", default: "0" },
  },
});
const port = Number(values.port);
const total = Number(values.connections);
const first = Number(values.first);
const channels = Number(values.channels);
const users = Number(values.users);
const parallel = Number(values.parallel);
const protocol: Protocol = PROTOCOLS[values.protocol as keyof typeof PROTOCOLS];
if (!protocol) throw new Error(`unknown protocol ${values.protocol}`);

const MAX_SAMPLES = 4_000_000;
const samples = new Float64Array(MAX_SAMPLES);
let count = 0;
let sampled = 0;
let subscribedFrames = 0;

const record = (sentAt: number): void => {
  if (sampled < MAX_SAMPLES) samples[sampled++] = preciseNow() - sentAt;
};

const onText = (payload: Buffer, socket: Socket): void => {
  const found = eachSentAt(payload, record);
  if (found > 0) {
    count += found;
    return;
  }
  const reply = protocol.answer(payload);
  if (reply !== undefined) sendText(socket, reply);
  if (protocol.isSubscribed(payload)) subscribedFrames++;
};

function percentile(sorted: Float64Array | number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

function say(message: Record<string, unknown>): void {
  process.stdout.write(JSON.stringify(message) + "\n");
}

const sockets: Socket[] = [];
const connectMs: number[] = [];
let failed = 0;
let firstError: string | undefined;
const expiry = Math.floor(Date.now() / 1000) + 3600;
const startedAt = performance.now();

async function open(i: number): Promise<void> {
  const channel = `bench-${i % channels}`;
  const token =
    values["token-secret"] !== undefined && users > 0
      ? hs256Token(values["token-secret"], { sub: `user-${i % users}`, exp: expiry })
      : undefined;
  const t0 = performance.now();
  try {
    const socket = await openRawClient(
      values.host!,
      port,
      protocol.path(channel, token),
      onText,
      (s) => {
        const hello = protocol.hello(channel);
        if (hello !== undefined) sendText(s, hello);
      },
    );
    connectMs.push(performance.now() - t0);
    sockets.push(socket);
  } catch (error) {
    failed++;
    firstError ??= (error as Error).message;
  }
}

// A pool of `parallel` upgrades in flight: each finished one starts the next.
let next = first;
await Promise.all(
  Array.from({ length: Math.min(parallel, total) }, async () => {
    while (next < first + total) await open(next++);
  }),
);
const upgradedMs = performance.now() - startedAt;
const waitStart = Date.now();
while (subscribedFrames < sockets.length && Date.now() - waitStart < 60_000)
  await new Promise((r) => setTimeout(r, 20));
const sortedConnect = connectMs.sort((a, b) => a - b);
say({
  event: "ready",
  connections: sockets.length,
  subscribed: subscribedFrames,
  failed,
  ...(firstError ? { firstError } : {}),
  upgradedMs,
  subscribedMs: performance.now() - startedAt,
  connectP50Ms: percentile(sortedConnect, 50),
  connectP99Ms: percentile(sortedConnect, 99),
});

createInterface({ input: process.stdin }).on("line", (line) => {
  const command = line.trim();
  if (command === "reset") {
    count = 0;
    sampled = 0;
    say({ event: "reset" });
  } else if (command === "report") {
    const sorted = samples.slice(0, sampled).sort();
    say({
      event: "report",
      count,
      p50Ms: percentile(sorted, 50),
      p90Ms: percentile(sorted, 90),
      p99Ms: percentile(sorted, 99),
      p999Ms: percentile(sorted, 99.9),
      maxMs: sorted.length ? sorted[sorted.length - 1] : NaN,
    });
  } else if (command === "exit") {
    for (const s of sockets) s.destroy();
    process.exit(0);
  }
});
