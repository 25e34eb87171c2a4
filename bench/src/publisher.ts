// The publishing side of the load: guide-shaped job updates at a steady rate for a bounded time,
// then exit. Each update carries `sentAt`, its publish time with sub-ms precision. Each system is
// published to the way its users publish: jobchannel and the baseline by Redis PUBLISH, Socket.IO by
// its Redis emitter, Centrifugo by its HTTP API. Every 2 ms tick sends what is due in one batch
// (a Redis pipeline, auto-pipelined emits, one HTTP API batch request).
import { parseArgs } from "node:util";
import { Emitter } from "@socket.io/redis-emitter";
import { Redis } from "ioredis";
import { preciseNow } from "./clock.ts";

const { values } = parseArgs({
  options: {
    /** redis (PUBLISH jobchannel:<channel>), socketio (redis emitter) or centrifugo (HTTP API). */
    via: { type: "string", default: "redis" },
    redis: { type: "string" },
    /** Centrifugo's HTTP API base, e.g. http://127.0.0.1:8000/api. */
    api: { type: "string" },
    channels: { type: "string", default: "1" },
    /** With N > 0 each update carries `userId: user-<i % N>` (for `visibility: user`). */
    users: { type: "string", default: "0" },
    rate: { type: "string" },
    seconds: { type: "string" },
    jobs: { type: "string", default: "100" },
  },
});
const rate = Number(values.rate);
const seconds = Number(values.seconds);
const jobs = Number(values.jobs);
const users = Number(values.users);
const names = Array.from({ length: Number(values.channels) }, (_, i) => `bench-${i}`);

function update(i: number): string {
  const sentAt = preciseNow();
  const user = users > 0 ? `"userId":"user-${i % users}",` : "";
  return `{"sentAt":${sentAt},"jobId":"job-${i % jobs}",${user}"status":"processing","progress":${i % 100},"timestamp":${Math.floor(sentAt)},"fileName":"quarterly-report.pdf"}`;
}

type Send = (from: number, to: number) => void;
let send: Send;
let close: () => Promise<void>;
const pending = new Set<Promise<unknown>>();

if (values.via === "centrifugo") {
  const api = values.api!;
  await fetch(`${api}/info`, { method: "POST", body: "{}" });
  send = (from, to) => {
    const commands: string[] = [];
    for (let i = from; i < to; i++)
      commands.push(`{"publish":{"channel":"${names[i % names.length]}","data":${update(i)}}}`);
    const request = fetch(`${api}/batch`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      // parallel: the batch's publishes go to Redis at once rather than one round trip after another.
      body: `{"commands":[${commands.join(",")}],"parallel":true}`,
    }).then((r) => r.arrayBuffer());
    pending.add(request);
    void request.finally(() => pending.delete(request));
  };
  close = async () => {
    await Promise.allSettled(pending);
  };
} else if (values.via === "socketio") {
  const redis = new Redis(values.redis!, { enableAutoPipelining: true });
  await redis.ping();
  const emitter = new Emitter(redis);
  send = (from, to) => {
    for (let i = from; i < to; i++)
      emitter.to(names[i % names.length]!).emit("job", JSON.parse(update(i)) as unknown);
  };
  close = async () => {
    await redis.quit();
  };
} else {
  const redis = new Redis(values.redis!);
  await redis.ping();
  send = (from, to) => {
    const batch = redis.pipeline();
    for (let i = from; i < to; i++)
      batch.publish(`jobchannel:${names[i % names.length]}`, update(i));
    void batch.exec();
  };
  close = async () => {
    await redis.quit();
  };
}
process.stdout.write(JSON.stringify({ event: "started" }) + "\n");

let sent = 0;
const start = performance.now();
const end = start + seconds * 1000;
await new Promise<void>((resolve) => {
  const tick = (): void => {
    const now = performance.now();
    const due = Math.min(
      Math.floor(((Math.min(now, end) - start) / 1000) * rate),
      Math.floor(seconds * rate),
    );
    if (due > sent) {
      send(sent, due);
      sent = due;
    }
    if (now >= end) return resolve();
    setTimeout(tick, 2);
  };
  tick();
});
await close();
process.stdout.write(JSON.stringify({ event: "published", sent }) + "\n");
