import assert from "node:assert/strict";
import { test } from "node:test";
import { createMetrics } from "../src/metrics.ts";

test("exposes the contract's metric names labelled by channel", async () => {
  const metrics = createMetrics();
  metrics.countStatus("file-upload", "completed");
  metrics.duration.observe({ channel: "file-upload", status: "completed" }, 0.2);
  const text = await metrics.registry.metrics();
  assert.match(text, /jobchannel_worker_jobs_total\{channel="file-upload",status="completed"\} 1/);
  assert.match(
    text,
    /jobchannel_worker_job_duration_seconds_bucket\{le="0.25",channel="file-upload",status="completed"\} 1/,
  );
});
