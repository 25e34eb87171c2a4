import assert from "node:assert/strict";
import { test } from "node:test";
import type { JobUpdate } from "@jobchannel/protocol";
import { MemoryJobStore } from "@jobchannel/state";
import { waitFor } from "@jobchannel/testkit";
import { UnrecoverableError } from "../src/errors.ts";
import { defineJob, type AnyJobDefinition } from "../src/job.ts";
import { createMetrics } from "../src/metrics.ts";
import { Publisher } from "../src/publisher.ts";
import { MemoryQueue } from "../src/queue-memory.ts";
import { Runner, customFields } from "../src/runner.ts";
import { silentLogger } from "./helpers.ts";

function setup(
  jobTypes: AnyJobDefinition[],
  options: { attempts?: number; timeoutMs?: number } = {},
) {
  const store = new MemoryJobStore();
  const updates: JobUpdate[] = [];
  store.bus.subscribe((_c, payload) => updates.push(JSON.parse(payload) as JobUpdate));
  const queue = new MemoryQueue({ concurrency: 2, retryDelayMs: 5 });
  const metrics = createMetrics();
  const runner = new Runner({
    publisher: new Publisher(store),
    queue,
    jobTypes,
    logger: silentLogger,
    metrics,
    attempts: options.attempts ?? 3,
    timeoutMs: options.timeoutMs ?? 5000,
    retryDelayMs: 5,
  });
  const of = (jobId: string) => updates.filter((u) => u.jobId === jobId);
  const terminal = (jobId: string) =>
    waitFor(() => of(jobId).find((u) => u.status === "completed" || u.status === "failed"), {
      timeoutMs: 5000,
      what: jobId,
    });
  return { store, updates, queue, runner, metrics, of, terminal };
}

test("moves a job through queued, processing and completed, carrying custom fields", async () => {
  const job = defineJob({
    name: "steps",
    parseInput: () => ({ n: 3 }),
    fields: (input) => ({ planned: input.n }),
    async handler({ input, progress }) {
      for (let i = 1; i <= input.n; i++)
        await progress((i / input.n) * 100, { [`step${i}`]: true });
      return { done: input.n };
    },
  });
  const { runner, queue, of, terminal } = setup([job]);
  await runner.start();
  const jobId = await runner.submit({ type: "steps", userId: "u1", input: { n: 3 } });
  const last = await terminal(jobId);
  const updates = of(jobId);
  assert.deepEqual(
    updates.map((u) => u.status),
    ["queued", "processing", "processing", "processing", "processing", "completed"],
  );
  // One job alone on its channel: six consecutive seqs.
  const first = updates[0]!.seq!;
  assert.deepEqual(
    updates.map((u) => u.seq),
    [0, 1, 2, 3, 4, 5].map((i) => first + i),
  );
  assert.ok(updates.every((u) => u.userId === "u1" && u.planned === 3));
  assert.equal(last.step1, true);
  assert.equal(last.step3, true);
  assert.deepEqual(last.result, { done: 3 });
  await queue.close(100);
});

test("retries a failing handler with backoff, then completes", async () => {
  let calls = 0;
  const job = defineJob({
    name: "flaky",
    parseInput: () => ({}),
    async handler({ attempt }) {
      calls++;
      if (attempt < 3) throw new Error(`boom ${attempt}`);
      return "ok";
    },
  });
  const { runner, queue, of, terminal, metrics } = setup([job]);
  await runner.start();
  const jobId = await runner.submit({ type: "flaky", userId: undefined, input: {} });
  const last = await terminal(jobId);
  assert.equal(last.status, "completed");
  assert.equal(calls, 3);
  const retries = of(jobId).filter((u) => u.status === "queued" && u.lastError);
  assert.deepEqual(
    retries.map((u) => u.lastError),
    ["boom 1", "boom 2"],
  );
  assert.deepEqual(
    retries.map((u) => u.retryInMs),
    [5, 10],
  );
  assert.equal((await metrics.retries.get()).values[0]?.value, 2);
  await queue.close(100);
});

test("fails after the last attempt with the error", async () => {
  const job = defineJob({
    name: "bad",
    parseInput: () => ({}),
    handler: async () => Promise.reject(new Error("always")),
  });
  const { runner, queue, terminal } = setup([job], { attempts: 2 });
  await runner.start();
  const last = await terminal(await runner.submit({ type: "bad", userId: undefined, input: {} }));
  assert.equal(last.status, "failed");
  assert.equal(last.error, "always");
  assert.equal(last.errorCode, "job_failed");
  assert.equal(last.attempt, 2);
  await queue.close(100);
});

test("fails at once on an UnrecoverableError", async () => {
  let calls = 0;
  const job = defineJob({
    name: "corrupt",
    parseInput: () => ({}),
    async handler() {
      calls++;
      throw new UnrecoverableError("not a PDF");
    },
  });
  const { runner, queue, terminal } = setup([job]);
  await runner.start();
  const last = await terminal(
    await runner.submit({ type: "corrupt", userId: undefined, input: {} }),
  );
  assert.equal(last.error, "not a PDF");
  assert.equal(calls, 1);
  await queue.close(100);
});

test("aborts a handler past its timeout and reports job_timeout", async () => {
  let aborted = false;
  const job = defineJob({
    name: "slow",
    parseInput: () => ({}),
    timeoutMs: 50,
    attempts: 1,
    handler: ({ signal }) =>
      new Promise((resolve) => {
        signal.addEventListener("abort", () => ((aborted = true), resolve("late")));
      }),
  });
  const { runner, queue, terminal } = setup([job]);
  await runner.start();
  const last = await terminal(await runner.submit({ type: "slow", userId: undefined, input: {} }));
  assert.equal(last.status, "failed");
  assert.equal(last.errorCode, "job_timeout");
  assert.ok(aborted);
  await queue.close(100);
});

test("fails running and waiting jobs with shut_down when the in-process queue closes", async () => {
  const job = defineJob({
    name: "forever",
    parseInput: () => ({}),
    handler: ({ signal }) =>
      new Promise((_, reject) => signal.addEventListener("abort", () => reject(signal.reason))),
  });
  const { runner, queue, of } = setup([job]);
  await runner.start();
  const ids = await Promise.all(
    [1, 2, 3].map(() => runner.submit({ type: "forever", userId: undefined, input: {} })),
  );
  await waitFor(
    () => ids.filter((id) => of(id).some((u) => u.status === "processing")).length === 2,
  );
  await queue.close(20);
  for (const id of ids) {
    const last = of(id).at(-1)!;
    assert.equal(last.status, "failed");
    assert.equal(last.errorCode, "shut_down");
  }
});

test("limits how many jobs run at once", async () => {
  let running = 0;
  let peak = 0;
  const job = defineJob({
    name: "count",
    parseInput: () => ({}),
    async handler() {
      peak = Math.max(peak, ++running);
      await new Promise((r) => setTimeout(r, 10));
      running--;
    },
  });
  const { runner, queue, terminal } = setup([job]);
  await runner.start();
  const ids = await Promise.all(
    Array.from({ length: 6 }, () => runner.submit({ type: "count", userId: undefined, input: {} })),
  );
  for (const id of ids) await terminal(id);
  assert.equal(peak, 2);
  await queue.close(100);
});

test("keeps only custom fields when carrying state forward", () => {
  assert.deepEqual(
    customFields({
      jobId: "j",
      status: "queued",
      seq: 3,
      error: "x",
      result: 1,
      lastError: "y",
      filename: "a.pdf",
    }),
    {
      filename: "a.pdf",
    },
  );
});
