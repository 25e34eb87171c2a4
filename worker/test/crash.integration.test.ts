// Durability with real processes: a worker killed with SIGKILL mid-job, and one stopped with SIGTERM.
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { after, before, test } from "node:test";
import {
  freePort,
  startProcess,
  startRedis,
  waitFor,
  type Started,
  type TestRedis,
} from "@jobchannel/testkit";
import { recordWorkerFaults } from "./fault-figures.ts";
import { Recorder, postJson } from "./helpers.ts";

const EXAMPLE = fileURLToPath(new URL("../examples/prime-count.ts", import.meta.url));
const LOCK_MS = 1000;
const STALLED_INTERVAL_MS = 500;
/** Primes below 10^9: the job takes a few seconds, long enough to be killed mid-way. */
const LIMIT = 1_000_000_000;
const PRIMES_BELOW_LIMIT = 50_847_534;

let redis: TestRedis;
let recorder: Recorder;
const started: Started[] = [];

async function startWorker(
  env: Record<string, string> = {},
): Promise<{ process: Started; base: string }> {
  const port = await freePort();
  const process_ = startProcess(process.execPath, [EXAMPLE], {
    cwd: fileURLToPath(new URL("..", import.meta.url)),
    env: {
      PATH: process.env.PATH,
      PORT: String(port),
      REDIS_URL: redis.url,
      LOG_LEVEL: "warn",
      JOBCHANNEL_LOCK_DURATION_MS: String(LOCK_MS),
      JOBCHANNEL_STALLED_INTERVAL_MS: String(STALLED_INTERVAL_MS),
      JOBCHANNEL_MAX_STALLED_COUNT: "1",
      ...env,
    },
  });
  started.push(process_);
  const base = `http://127.0.0.1:${port}`;
  await waitFor(async () => (await fetch(`${base}/readyz`)).status === 200, {
    timeoutMs: 15_000,
    what: `worker on ${port}: ${process_.logTail()}`,
  });
  return { process: process_, base };
}

function kill(worker: Started, signal: NodeJS.Signals): void {
  process.kill(-worker.child.pid!, signal);
}

async function startJob(base: string): Promise<string> {
  const res = await postJson(`${base}/api/jobs/prime-count`, { limit: LIMIT });
  assert.equal(res.status, 202);
  const jobId = res.body.jobId as string;
  await waitFor(
    () => recorder.of(jobId).some((u) => u.status === "processing" && (u.progress ?? 0) > 0),
    {
      timeoutMs: 15_000,
      what: `progress of ${jobId}`,
    },
  );
  return jobId;
}

before(async () => {
  redis = await startRedis();
  recorder = await Recorder.start(redis.url);
});

after(async () => {
  for (const p of started) await p.stop(2000);
  await recorder?.close();
  await redis?.stop();
});

test("a job whose worker is SIGKILLed mid-job is retried by another worker and completes", async () => {
  const a = await startWorker();
  const jobId = await startJob(a.base);
  kill(a.process, "SIGKILL");
  const killedAt = Date.now();
  await a.process.stop(0);
  const b = await startWorker();
  const restarted = await waitFor(
    () => recorder.of(jobId).find((u) => u.status === "processing" && u.restarts === 1),
    {
      timeoutMs: 10_000,
      what: "the job restarted by the second worker",
    },
  );
  assert.ok(
    restarted.timestamp - killedAt < LOCK_MS + 3 * STALLED_INTERVAL_MS + 3000,
    "restarted within a bounded time",
  );
  const updates = await recorder.terminal(jobId, 30_000);
  const caughtUpAt = Date.now();
  const last = updates.at(-1)!;
  assert.equal(last.status, "completed", last.error);
  assert.deepEqual(last.result, { limit: LIMIT, primes: PRIMES_BELOW_LIMIT });
  assert.equal(last.limit, LIMIT, "custom fields are carried into the retry");
  for (let i = 1; i < updates.length; i++) assert.ok(updates[i]!.seq! > updates[i - 1]!.seq!);
  recordWorkerFaults(
    "SIGKILL mid-job, retried by another worker",
    "1 job (prime count below 10^9), 2 workers in turn",
    1,
    [updates],
    (caughtUpAt - killedAt) / 1000,
  );
  kill(b.process, "SIGKILL");
  await b.process.stop(0);
});

test("a job that outlives its stall limit is failed, with a reason, by the worker that finds it", async () => {
  const a = await startWorker({ JOBCHANNEL_MAX_STALLED_COUNT: "0" });
  const jobId = await startJob(a.base);
  kill(a.process, "SIGKILL");
  const killedAt = Date.now();
  await a.process.stop(0);
  const b = await startWorker({ JOBCHANNEL_MAX_STALLED_COUNT: "0" });
  const updates = await recorder.terminal(jobId, 15_000);
  const caughtUpAt = Date.now();
  const last = updates.at(-1)!;
  assert.equal(last.status, "failed");
  assert.equal(last.errorCode, "worker_lost");
  assert.match(last.error!, /stopped 1 time/);
  assert.equal(last.limit, LIMIT);
  recordWorkerFaults(
    "SIGKILL mid-job past the stall limit, failed with a reason",
    "1 job (prime count below 10^9), 2 workers in turn",
    1,
    [updates],
    (caughtUpAt - killedAt) / 1000,
  );
  kill(b.process, "SIGKILL");
  await b.process.stop(0);
});

test("SIGTERM past the grace period hands a running job back for another worker", async () => {
  const a = await startWorker({ JOBCHANNEL_SHUTDOWN_GRACE_MS: "200" });
  const jobId = await startJob(a.base);
  kill(a.process, "SIGTERM");
  await waitFor(() => a.process.child.exitCode !== null, {
    timeoutMs: 10_000,
    what: "the worker to exit after SIGTERM",
  });
  assert.equal(a.process.child.exitCode, 0);
  const handedBackAt = Date.now();
  const handedBack = recorder.of(jobId).at(-1)!;
  assert.equal(handedBack.status, "queued");
  assert.equal(handedBack.handedBack, true);
  const b = await startWorker();
  const updates = await recorder.terminal(jobId, 30_000);
  const caughtUpAt = Date.now();
  const last = updates.at(-1)!;
  assert.equal(last.status, "completed", last.error);
  assert.equal(last.attempt, 1, "a hand-back uses no attempt");
  assert.deepEqual(last.result, { limit: LIMIT, primes: PRIMES_BELOW_LIMIT });
  recordWorkerFaults(
    "SIGTERM past the grace period, job handed back",
    "1 job (prime count below 10^9), 2 workers in turn",
    1,
    [updates],
    (caughtUpAt - handedBackAt) / 1000,
  );
  await b.process.stop(5000);
});
