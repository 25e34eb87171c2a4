// Runs examples/prime-count.ts the way its README section shows: one file, mounted with createWorker.
import assert from "node:assert/strict";
import type { AddressInfo } from "node:net";
import { test } from "node:test";
import type { JobUpdate } from "@jobchannel/protocol";
import { MemoryJobStore } from "@jobchannel/state";
import { waitFor } from "@jobchannel/testkit";
import { createWorker, createWorkerApp } from "@jobchannel/worker";
import pino from "pino";
import { primeCount } from "../../examples/prime-count.ts";

test("the example job type counts primes with progress, served over HTTP", async () => {
  const store = new MemoryJobStore();
  const updates: JobUpdate[] = [];
  store.bus.subscribe((_channel, payload) => updates.push(JSON.parse(payload) as JobUpdate));
  const worker = createWorker({ store, jobTypes: [primeCount], logger: pino({ level: "silent" }) });
  await worker.start();
  const server = createWorkerApp(worker).listen(0, "127.0.0.1");
  await new Promise((resolve) => server.once("listening", resolve));
  try {
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/jobs/prime-count`;
    const res = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: '{"limit":10000000}',
    });
    assert.equal(res.status, 202);
    const { jobId } = (await res.json()) as { jobId: string };
    const last = await waitFor(() =>
      updates.find((u) => u.jobId === jobId && u.status === "completed"),
    );
    assert.deepEqual(last.result, { limit: 10_000_000, primes: 664_579 });
    assert.ok(updates.filter((u) => u.jobId === jobId && u.status === "processing").length > 10);
    const bad = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: '{"limit":"many"}',
    });
    assert.equal(bad.status, 400);
  } finally {
    await worker.close(1000);
    await new Promise((resolve) => server.close(resolve));
  }
});
