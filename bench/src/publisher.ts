// The publishing side of the load: PUBLISHes guide-shaped job updates into Redis at a steady rate
// for a bounded time, then exits. Each update carries `sentAt`, its publish time with sub-ms precision.
import { parseArgs } from "node:util";
import { Redis } from "ioredis";
import { preciseNow } from "./clock.ts";

const { values } = parseArgs({
  options: {
    redis: { type: "string" },
    channels: { type: "string", default: "1" },
    rate: { type: "string" },
    seconds: { type: "string" },
    jobs: { type: "string", default: "100" },
  },
});
const rate = Number(values.rate);
const seconds = Number(values.seconds);
const jobs = Number(values.jobs);
const channels = Array.from({ length: Number(values.channels) }, (_, i) => `jobchannel:bench-${i}`);
const redis = new Redis(values.redis!);
await redis.ping();
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
      const batch = redis.pipeline();
      for (; sent < due; sent++) {
        const sentAt = preciseNow();
        batch.publish(
          channels[sent % channels.length]!,
          `{"sentAt":${sentAt},"jobId":"job-${sent % jobs}","status":"processing","progress":${sent % 100},"timestamp":${Math.floor(sentAt)},"fileName":"quarterly-report.pdf"}`,
        );
      }
      void batch.exec();
    }
    if (now >= end) return resolve();
    setTimeout(tick, 2);
  };
  tick();
});
await redis.quit();
process.stdout.write(JSON.stringify({ event: "published", sent }) + "\n");
