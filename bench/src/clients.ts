// The client side of the load: N connections subscribed to one channel, counting deliveries and
// fan-out latency (from the update's publish time to its arrival here). Driven over stdin/stdout
// by run.ts with one JSON line per command and answer: reset, report, exit.
import type { Socket } from "node:net";
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import { preciseNow } from "./clock.ts";
import { openRawClient, sentAtOf } from "./raw-client.ts";

const { values } = parseArgs({
  options: {
    host: { type: "string", default: "127.0.0.1" },
    port: { type: "string" },
    channels: { type: "string", default: "1" },
    connections: { type: "string", default: "1000" },
    parallel: { type: "string", default: "100" },
  },
});
const port = Number(values.port);
const total = Number(values.connections);
const channels = Number(values.channels);

const MAX_SAMPLES = 4_000_000;
const samples = new Float64Array(MAX_SAMPLES);
let count = 0;
let sampled = 0;
let subscribedFrames = 0;

const onText = (payload: Buffer): void => {
  // Only job frames carry sentAt; the first frame of each connection is its `subscribed` snapshot.
  const sentAt = sentAtOf(payload);
  if (Number.isNaN(sentAt)) {
    subscribedFrames++;
    return;
  }
  count++;
  if (sampled < MAX_SAMPLES) samples[sampled++] = preciseNow() - sentAt;
};

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

function say(message: Record<string, unknown>): void {
  process.stdout.write(JSON.stringify(message) + "\n");
}

const sockets: Socket[] = [];
for (let i = 0; i < total; i += Number(values.parallel)) {
  const batch = Math.min(Number(values.parallel), total - i);
  sockets.push(
    ...(await Promise.all(
      Array.from({ length: batch }, (_, k) =>
        openRawClient(values.host!, port, `/ws?channels=bench-${(i + k) % channels}`, onText),
      ),
    )),
  );
}
const started = Date.now();
while (subscribedFrames < total && Date.now() - started < 30_000)
  await new Promise((r) => setTimeout(r, 50));
say({ event: "ready", connections: sockets.length, subscribed: subscribedFrames });

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
      maxMs: sorted.length ? sorted[sorted.length - 1] : NaN,
    });
  } else if (command === "exit") {
    for (const s of sockets) s.destroy();
    process.exit(0);
  }
});
