// Exactly one visible final update per job under real faults: a blocked event loop, a crash right after
// `completed`, Redis unreachable on the last attempt, and SIGKILL at random points of many jobs' lives.
// Run with DURABILITY_WORKER=1 this file is itself the worker process the tests start.
import assert from "node:assert/strict";
import { connect, createServer, type Server, type Socket } from "node:net";
import { fileURLToPath } from "node:url";
import { after, before, test } from "node:test";
import type { JobUpdate } from "@jobchannel/protocol";
import { RedisJobStore, type JobStore } from "@jobchannel/state";
import {
  freePort,
  startProcess,
  startRedis,
  waitFor,
  type Started,
  type TestRedis,
} from "@jobchannel/testkit";
import { Queue } from "bullmq";
import { Redis } from "ioredis";
import pino from "pino";
import { loadConfig } from "../src/config.ts";
import { createWorker } from "../src/create-worker.ts";
import { defineJob } from "../src/job.ts";
import { bullPrefix } from "../src/queue-bullmq.ts";
import { createWorkerApp } from "../src/server.ts";
import { recordWorkerFaults } from "./fault-figures.ts";
import { Recorder, postJson } from "./helpers.ts";

const CHANNEL = "durable-steps";

/** A job of `steps` steps `stepMs` apart; in a process with BLOCK_MS set, it first blocks the event loop. */
const steps = defineJob({
  name: CHANNEL,
  parseInput: ({ body }) => ({ steps: Number(body.steps ?? 5), stepMs: Number(body.stepMs ?? 50) }),
  async handler({ input, progress, signal }) {
    const blockMs = Number(process.env.BLOCK_MS ?? 0);
    await progress(1);
    if (blockMs > 0) {
      const until = Date.now() + blockMs;
      while (Date.now() < until) {
        // Blocks the event loop on purpose: no timer (lock renewal included) runs meanwhile.
      }
    }
    for (let i = 1; i <= input.steps; i++) {
      signal.throwIfAborted();
      await new Promise((resolve) => setTimeout(resolve, input.stepMs));
      await progress((i / input.steps) * 100, { step: i });
    }
    return { steps: input.steps };
  },
});

/** Kills this process the moment a `completed` update has landed: before BullMQ records it. */
function crashingAfterCompleted(store: JobStore): JobStore {
  const publishGuarded: JobStore["publishGuarded"] = async (...args) => {
    const outcome = await store.publishGuarded(...args);
    if ("update" in outcome && outcome.update.status === "completed")
      process.kill(process.pid, "SIGKILL");
    return outcome;
  };
  return {
    publish: store.publish.bind(store),
    publishGuarded,
    snapshot: store.snapshot.bind(store),
    get: store.get.bind(store),
    close: store.close.bind(store),
  };
}

async function runTestWorker(): Promise<void> {
  const config = loadConfig();
  const logger = pino({ level: config.logLevel });
  const redis = new Redis(config.redisUrl!);
  redis.on("error", () => undefined);
  const store = new RedisJobStore(redis);
  const worker = createWorker({
    ...config,
    store: process.env.CRASH_AFTER_COMPLETED ? crashingAfterCompleted(store) : store,
    jobTypes: [steps],
    logger,
  });
  const server = createWorkerApp(worker).listen(config.port, "127.0.0.1");
  await worker.start();
  process.once("SIGTERM", () => {
    void worker.close(config.shutdownGraceMs).then(() => {
      server.close();
      process.exit(0);
    });
  });
}

if (process.env.DURABILITY_WORKER) {
  await runTestWorker();
} else {
  defineTests();
}

/** A worker process the tests started. */
interface Worker {
  process: Started;
  base: string;
  output(): string;
}

function defineTests(): void {
  const LOCK_MS = 1000;
  const STALLED_INTERVAL_MS = 500;
  let redis: TestRedis;
  let recorder: Recorder;
  const started: Started[] = [];
  const closers: (() => Promise<void>)[] = [];

  async function startWorker(env: Record<string, string> = {}): Promise<Worker> {
    const port = await freePort();
    const child = startProcess(process.execPath, [fileURLToPath(import.meta.url)], {
      cwd: fileURLToPath(new URL("..", import.meta.url)),
      env: {
        PATH: process.env.PATH,
        DURABILITY_WORKER: "1",
        PORT: String(port),
        REDIS_URL: redis.url,
        LOG_LEVEL: "warn",
        JOBCHANNEL_LOCK_DURATION_MS: String(LOCK_MS),
        JOBCHANNEL_STALLED_INTERVAL_MS: String(STALLED_INTERVAL_MS),
        JOBCHANNEL_RETRY_DELAY_MS: "100",
        ...env,
      },
    });
    started.push(child);
    // Everything the worker printed: logTail keeps only the last lines, and Redis errors flood it.
    let output = "";
    child.child.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString("utf8")));
    const base = `http://127.0.0.1:${port}`;
    await waitFor(async () => (await fetch(`${base}/readyz`)).status === 200, {
      timeoutMs: 20_000,
      what: `worker on ${port}: ${child.logTail()}`,
    });
    return { process: child, base, output: () => output };
  }

  async function submit(base: string, body: Record<string, unknown>): Promise<string> {
    const res = await postJson(`${base}/api/jobs/${CHANNEL}`, body);
    assert.equal(res.status, 202, JSON.stringify(res.body));
    return res.body.jobId as string;
  }

  const isFinal = (u: JobUpdate): boolean => u.status === "completed" || u.status === "failed";

  /** Exactly one final update, last of all the job's updates, with strictly increasing seq. */
  function assertOneFinal(updates: readonly JobUpdate[]): JobUpdate {
    const finals = updates.filter(isFinal);
    assert.equal(finals.length, 1, `final updates: ${JSON.stringify(finals)}`);
    assert.equal(updates.at(-1), finals[0], "no update follows the final one");
    for (let i = 1; i < updates.length; i++) assert.ok(updates[i]!.seq! > updates[i - 1]!.seq!);
    return finals[0]!;
  }

  /** Waits until `worker` has printed a log line matching `pattern`. */
  function logged(worker: Worker, pattern: RegExp, timeoutMs = 30_000): Promise<true> {
    return waitFor(() => pattern.test(worker.output()), { timeoutMs, what: String(pattern) });
  }

  before(async () => {
    redis = await startRedis();
    recorder = await Recorder.start(redis.url);
  });

  after(async () => {
    for (const p of started) await p.stop(2000);
    for (const close of closers) await close();
    await recorder?.close();
    await redis?.stop();
  });

  test("an event loop blocked past the lock duration still ends in exactly one final update", async () => {
    const a = await startWorker({ BLOCK_MS: String(6 * LOCK_MS) });
    const jobId = await submit(a.base, { steps: 5, stepMs: 50 });
    await waitFor(() => recorder.of(jobId).some((u) => u.status === "processing"), {
      what: "the blocking worker's processing update",
    });
    // A second worker finds the job stalled while the first one is blocked, and runs it.
    const b = await startWorker();
    await waitFor(() => recorder.of(jobId).some((u) => u.restarts === 1), {
      timeoutMs: 20_000,
      what: "the job restarted by the second worker",
    });
    const last = (await recorder.terminal(jobId, 20_000)).at(-1)!;
    assert.equal(last.status, "completed", last.error);
    // The blocked worker wakes up and learns it lost the job: through its lock or the final state.
    await logged(a, /job lock lost|job already final/);
    await b.process.stop(5000);
    await a.process.stop(5000);
    const updates = recorder.of(jobId);
    assertOneFinal(updates);
    console.log(
      `blocked event loop: ${updates.length} updates, ${updates.filter(isFinal).length} final`,
    );
    recordWorkerFaults(
      "event loop blocked past the lock (lock lost), job taken over",
      "1 job of 5 steps, 2 workers",
      1,
      [updates],
      (last.timestamp - updates[0]!.timestamp) / 1000,
    );
  });

  test("a crash after completed but before the queue records it publishes nothing after completed", async () => {
    const a = await startWorker({ CRASH_AFTER_COMPLETED: "1" });
    const jobId = await submit(a.base, { steps: 3, stepMs: 20 });
    await recorder.terminal(jobId);
    await waitFor(() => a.process.child.exitCode !== null || a.process.child.signalCode !== null, {
      what: "the worker to die right after publishing completed",
    });
    const b = await startWorker();
    await logged(b, /job already final/, 20_000);
    // The queue records the completion the first run could not.
    const queue = new Queue(CHANNEL, {
      connection: { host: "127.0.0.1", port: redis.port },
      prefix: bullPrefix("jobchannel:", CHANNEL),
    });
    closers.push(() => queue.close());
    await waitFor(async () => (await queue.getJobState(jobId)) === "completed", {
      what: "BullMQ to record the job completed",
    });
    await b.process.stop(5000);
    const updates = recorder.of(jobId);
    const completedAt = updates.findIndex((u) => u.status === "completed");
    assert.deepEqual(
      updates.slice(completedAt + 1).map((u) => u.status),
      [],
      "nothing after completed",
    );
    assertOneFinal(updates);
    recordWorkerFaults(
      "SIGKILL right after completed, before the queue records it",
      "1 job of 3 steps, 2 workers in turn",
      1,
      [updates],
      null,
    );
  });

  test("Redis unreachable on the last attempt ends the job failed, with a reason, once Redis is back", async () => {
    const proxy = await startProxy(redis.port);
    closers.push(() => proxy.close());
    const a = await startWorker({
      REDIS_URL: `redis://127.0.0.1:${proxy.port}`,
      JOBCHANNEL_JOB_ATTEMPTS: "1",
      JOBCHANNEL_LOCK_DURATION_MS: "60000",
      JOBCHANNEL_STALLED_INTERVAL_MS: "60000",
    });
    const jobId = await submit(a.base, { steps: 200, stepMs: 100 });
    await waitFor(() => recorder.of(jobId).some((u) => (u.progress ?? 0) > 1), {
      what: "progress of the job",
    });
    await proxy.cut();
    // The worker's publishes give up (ioredis: after 20 reconnects), and its `failed` update waits.
    await logged(a, /"msg":"job failed"/, 40_000);
    assert.ok(!recorder.of(jobId).some(isFinal), "nothing final while Redis is unreachable");
    await proxy.restore();
    const restoredAt = Date.now();
    const last = (await recorder.terminal(jobId, 30_000)).at(-1)!;
    const finalSeenAt = Date.now();
    assert.equal(last.status, "failed");
    assert.equal(last.errorCode, "infrastructure_error");
    assert.match(last.error!, /publishing the processing update failed/);
    await a.process.stop(5000);
    assertOneFinal(recorder.of(jobId));
    recordWorkerFaults(
      "Redis unreachable on the last attempt, final update sent once it is back",
      "1 job of 200 steps, 1 worker",
      1,
      [recorder.of(jobId)],
      (finalSeenAt - restoredAt) / 1000,
    );
  });

  test("SIGKILL at random points of many jobs' lives leaves every job exactly one final update", async () => {
    const JOBS = 30;
    const from = recorder.updates.length;
    const env = { JOBCHANNEL_MAX_STALLED_COUNT: "3" };
    const workers = [await startWorker(env), await startWorker(env)];
    const accepted: string[] = [];
    let kills = 0;
    let submitted = 0;
    const alive = (): Worker[] =>
      workers.filter(
        (w) => w.process.child.exitCode === null && w.process.child.signalCode === null,
      );
    const submitting = (async () => {
      while (submitted < JOBS) {
        const target = alive()[submitted % 2] ?? alive()[0];
        if (!target) {
          await new Promise((resolve) => setTimeout(resolve, 50));
          continue;
        }
        submitted++;
        const body = { steps: 2 + Math.floor(Math.random() * 8), stepMs: 40 + Math.random() * 80 };
        try {
          const res = await postJson(`${target.base}/api/jobs/${CHANNEL}`, body);
          if (res.status === 202) accepted.push(res.body.jobId as string);
        } catch {
          // Killed mid-request: the job may or may not exist; the recorder sees it if it does.
        }
        await new Promise((resolve) => setTimeout(resolve, Math.random() * 250));
      }
    })();
    // Kill one worker at a random moment, restart it, repeat, while jobs come in.
    let lastKillAt = Date.now();
    while (submitted < JOBS || kills < 10) {
      await new Promise((resolve) => setTimeout(resolve, 200 + Math.random() * 1200));
      const i = Math.floor(Math.random() * workers.length);
      process.kill(-workers[i]!.process.child.pid!, "SIGKILL");
      lastKillAt = Date.now();
      await workers[i]!.process.stop(0);
      kills++;
      workers[i] = await startWorker(env);
    }
    await submitting;
    const seen = (): string[] => [...new Set(recorder.updates.slice(from).map((u) => u.jobId))];
    for (const id of accepted) assert.ok(seen().includes(id), `accepted job ${id} was published`);
    await waitFor(() => seen().every((id) => recorder.of(id).some(isFinal)), {
      timeoutMs: 60_000,
      what: "a final update of every job",
    });
    const caughtUpAt = Date.now();
    for (const w of workers) await w.process.stop(5000);
    const ids = seen();
    let completed = 0;
    for (const id of ids) if (assertOneFinal(recorder.of(id)).status === "completed") completed++;
    const finals = ids.reduce((n, id) => n + recorder.of(id).filter(isFinal).length, 0);
    console.log(
      `random SIGKILL: ${submitted} jobs submitted, ${accepted.length} accepted, ${ids.length} published, ${kills} kills, ${finals} final updates (${completed} completed, ${finals - completed} failed)`,
    );
    recordWorkerFaults(
      "SIGKILL at random points of many jobs' lives",
      `${ids.length} jobs of 2-9 steps, 2 workers killed and restarted in turn`,
      kills,
      ids.map((id) => recorder.of(id)),
      (caughtUpAt - lastKillAt) / 1000,
    );
  });
}

/** A TCP proxy to Redis that can be cut (connections dropped, new ones refused) and restored. */
async function startProxy(targetPort: number): Promise<{
  port: number;
  cut(): Promise<void>;
  restore(): Promise<void>;
  close(): Promise<void>;
}> {
  const port = await freePort();
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  const listen = (): Promise<void> =>
    new Promise((resolve) => {
      server = createServer((client) => {
        const upstream = connect(targetPort, "127.0.0.1");
        for (const s of [client, upstream]) {
          sockets.add(s);
          s.on("close", () => sockets.delete(s));
          s.on("error", () => s.destroy());
        }
        client.pipe(upstream).pipe(client);
        client.on("close", () => upstream.destroy());
        upstream.on("close", () => client.destroy());
      });
      server.listen(port, "127.0.0.1", () => resolve());
    });
  const cut = async (): Promise<void> => {
    const closed = new Promise<void>((resolve) => server?.close(() => resolve()));
    for (const s of sockets) s.destroy();
    await closed;
  };
  await listen();
  return { port, cut, restore: listen, close: cut };
}
