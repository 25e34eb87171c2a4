// One contract suite run against both queue backends: the in-memory queue and BullMQ on a real
// redis-server. Each difference that remains is stated by a test of its own.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { JobUpdate } from "@jobchannel/protocol";
import { MemoryJobStore } from "@jobchannel/state";
import { startRedis, waitFor, type TestRedis } from "@jobchannel/testkit";
import { defineJob, type AnyJobDefinition } from "../src/job.ts";
import { createMetrics } from "../src/metrics.ts";
import { Publisher } from "../src/publisher.ts";
import type { JobQueue } from "../src/queue.ts";
import { BullMQQueue } from "../src/queue-bullmq.ts";
import { MemoryQueue } from "../src/queue-memory.ts";
import { Runner } from "../src/runner.ts";
import { silentLogger } from "./helpers.ts";

let redis: TestRedis;
let typeCounter = 0;

before(async () => {
  redis = await startRedis();
});
after(async () => {
  await redis?.stop();
});

interface Backend {
  name: "memory" | "bullmq";
  make(types: readonly string[]): JobQueue;
}

const backends: Backend[] = [
  {
    name: "memory",
    make: () => new MemoryQueue({ concurrency: 2, retryDelayMs: 5 }),
  },
  {
    name: "bullmq",
    make: (types) =>
      new BullMQQueue({
        redisUrl: redis.url,
        types,
        concurrency: 2,
        retryDelayMs: 5,
        lockDurationMs: 2000,
        stalledIntervalMs: 1000,
        logger: silentLogger,
      }),
  },
];

/** A runner on `backend` with one store shared by every runner of the test. */
function harness(backend: Backend) {
  const store = new MemoryJobStore();
  const updates: JobUpdate[] = [];
  store.bus.subscribe((_c, payload) => updates.push(JSON.parse(payload) as JobUpdate));
  const queues: JobQueue[] = [];
  const runner = (
    jobTypes: AnyJobDefinition[],
    attempts = 3,
  ): { runner: Runner; queue: JobQueue } => {
    const queue = backend.make(jobTypes.map((t) => t.name));
    queues.push(queue);
    const r = new Runner({
      publisher: new Publisher(store),
      queue,
      jobTypes,
      logger: silentLogger,
      metrics: createMetrics(),
      attempts,
      timeoutMs: 5000,
      retryDelayMs: 5,
    });
    return { runner: r, queue };
  };
  const of = (jobId: string): JobUpdate[] => updates.filter((u) => u.jobId === jobId);
  const terminal = (jobId: string): Promise<JobUpdate> =>
    waitFor(() => of(jobId).find((u) => u.status === "completed" || u.status === "failed"), {
      timeoutMs: 15_000,
      what: `a final update of ${jobId}`,
    });
  const close = async (): Promise<void> => {
    for (const q of queues) await q.close(100);
  };
  return { store, runner, of, terminal, close };
}

const name = (): string => `contract-${++typeCounter}`;

for (const backend of backends) {
  describe(`${backend.name} queue`, () => {
    test("runs a job through queued, processing and completed, with one final update", async () => {
      const h = harness(backend);
      const job = defineJob({
        name: name(),
        parseInput: () => ({}),
        async handler({ progress }) {
          await progress(50);
          return { ok: true };
        },
      });
      const { runner } = h.runner([job]);
      await runner.start();
      const jobId = await runner.submit({ type: job.name, userId: "u", input: {} });
      const last = await h.terminal(jobId);
      assert.deepEqual(last.result, { ok: true });
      assert.deepEqual(
        h.of(jobId).map((u) => u.status),
        ["queued", "processing", "processing", "completed"],
      );
      await h.close();
    });

    test("retries a failing handler with backoff, one attempt at a time, then completes", async () => {
      const h = harness(backend);
      const attempts: number[] = [];
      const job = defineJob({
        name: name(),
        parseInput: () => ({}),
        async handler({ attempt }) {
          attempts.push(attempt);
          if (attempt < 3) throw new Error(`boom ${attempt}`);
          return attempt;
        },
      });
      const { runner } = h.runner([job]);
      await runner.start();
      const jobId = await runner.submit({ type: job.name, userId: undefined, input: {} });
      const last = await h.terminal(jobId);
      assert.equal(last.status, "completed");
      assert.deepEqual(attempts, [1, 2, 3]);
      assert.deepEqual(
        h
          .of(jobId)
          .filter((u) => u.lastError)
          .map((u) => u.lastError),
        ["boom 1", "boom 2"],
      );
      await h.close();
    });

    test("fails after the last attempt, once", async () => {
      const h = harness(backend);
      const job = defineJob({
        name: name(),
        parseInput: () => ({}),
        handler: () => Promise.reject(new Error("always")),
      });
      const { runner } = h.runner([job], 2);
      await runner.start();
      const jobId = await runner.submit({ type: job.name, userId: undefined, input: {} });
      const last = await h.terminal(jobId);
      assert.equal(last.errorCode, "job_failed");
      assert.equal(last.attempt, 2);
      assert.equal(h.of(jobId).filter((u) => u.status === "failed").length, 1);
      await h.close();
    });

    test("aborts a handler past its timeout and fails it with job_timeout", async () => {
      const h = harness(backend);
      const job = defineJob({
        name: name(),
        parseInput: () => ({}),
        timeoutMs: 100,
        attempts: 1,
        handler: ({ signal }) =>
          new Promise((_, reject) => signal.addEventListener("abort", () => reject(signal.reason))),
      });
      const { runner } = h.runner([job]);
      await runner.start();
      const last = await h.terminal(
        await runner.submit({ type: job.name, userId: undefined, input: {} }),
      );
      assert.equal(last.errorCode, "job_timeout");
      await h.close();
    });

    test("a cancelled run stops its handler and publishes nothing more; the job runs again", async () => {
      const h = harness(backend);
      let aborted: unknown;
      const job = defineJob({
        name: name(),
        parseInput: () => ({}),
        async handler({ attempt, signal, progress }) {
          if (attempt > 1) return "second run";
          await progress(10);
          await new Promise((resolve) => signal.addEventListener("abort", resolve));
          aborted = signal.reason;
          await progress(90).catch(() => undefined);
          return "first run";
        },
      });
      const { runner, queue } = h.runner([job]);
      await runner.start();
      const jobId = await runner.submit({ type: job.name, userId: undefined, input: {} });
      await waitFor(() => h.of(jobId).some((u) => u.progress === 10));
      assert.equal(queue.cancel(jobId, new Error("cancelled by the test")), true);
      const last = await h.terminal(jobId);
      assert.equal(last.result, "second run");
      assert.equal((aborted as Error).message, "cancelled by the test");
      assert.ok(
        !h.of(jobId).some((u) => u.progress === 90),
        "the cancelled run published nothing more",
      );
      assert.equal(queue.cancel("no-such-job", new Error("x")), false);
      await h.close();
    });

    test("a job whose stored state is final is never run or published again", async () => {
      const h = harness(backend);
      let runs = 0;
      const job = defineJob({
        name: name(),
        parseInput: () => ({}),
        async handler() {
          runs++;
        },
      });
      const { runner, queue } = h.runner([job]);
      await runner.start();
      const jobId = "already-done";
      await h.store.publish(
        job.name,
        { jobId, status: "completed", result: "earlier" },
        { maxJobs: 0, ttlSeconds: 0 },
      );
      await queue.enqueue({
        jobId,
        type: job.name,
        input: {},
        fields: {},
        attempts: 3,
        acceptedAt: Date.now(),
      });
      // A second job behind it shows the queue moved past the first.
      const next = await runner.submit({ type: job.name, userId: undefined, input: {} });
      await h.terminal(next);
      assert.equal(runs, 1, "only the second job ran");
      assert.deepEqual(
        h.of(jobId).map((u) => u.status),
        ["completed"],
      );
      await h.close();
    });

    if (backend.name === "bullmq") {
      test("shutdown past the grace period hands a running job back; another queue finishes it on attempt 1", async () => {
        const h = harness(backend);
        const job = defineJob({
          name: name(),
          parseInput: () => ({}),
          async handler({ signal, progress }) {
            await progress(10);
            if (process.env.CONTRACT_SECOND !== "1") {
              await new Promise((_, reject) =>
                signal.addEventListener("abort", () => reject(signal.reason)),
              );
            }
            return "done";
          },
        });
        const first = h.runner([job]);
        await first.runner.start();
        const jobId = await first.runner.submit({ type: job.name, userId: undefined, input: {} });
        await waitFor(() => h.of(jobId).some((u) => u.progress === 10));
        await first.queue.close(50);
        assert.equal(h.of(jobId).at(-1)!.handedBack, true);
        process.env.CONTRACT_SECOND = "1";
        const second = h.runner([job]);
        await second.runner.start();
        const last = await h.terminal(jobId);
        delete process.env.CONTRACT_SECOND;
        assert.equal(last.status, "completed");
        assert.equal(last.attempt, 1, "a hand-back uses no attempt");
        await h.close();
      });
    } else {
      test("differs: at shutdown the in-memory queue fails running and waiting jobs with shut_down, as nothing outlives the process", async () => {
        const h = harness(backend);
        const job = defineJob({
          name: name(),
          parseInput: () => ({}),
          handler: ({ signal }) =>
            new Promise((_, reject) =>
              signal.addEventListener("abort", () => reject(signal.reason)),
            ),
        });
        const { runner, queue } = h.runner([job]);
        await runner.start();
        const ids = await Promise.all(
          [1, 2, 3].map(() => runner.submit({ type: job.name, userId: undefined, input: {} })),
        );
        await waitFor(
          () => ids.filter((id) => h.of(id).some((u) => u.status === "processing")).length === 2,
        );
        await queue.close(20);
        for (const id of ids) assert.equal(h.of(id).at(-1)!.errorCode, "shut_down");
        assert.equal(queue.durable, false);
      });

      test("differs: the in-memory queue has no lock to lose and no stalled-job check; a crash loses its jobs (BullMQ: durability.integration.test.ts)", () => {
        const queue = backend.make(["x"]);
        assert.equal(queue.durable, false);
      });
    }
  });
}
