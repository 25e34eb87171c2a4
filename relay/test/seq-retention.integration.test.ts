// Retention end to end: a real redis-server, the jobchannel-relay process and WebSocket clients,
// with history.maxJobs below the number of running jobs and a short history.ttlSeconds.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import type { History } from "@jobchannel/state";
import { RedisJobStore } from "@jobchannel/state";
import { startRedis, waitFor, type TestRedis } from "@jobchannel/testkit";
import { Redis } from "ioredis";
import { connect, subscribed, type Frame, type TestClient } from "./helpers/client.ts";
import { startRelayProcess, type RelayProcess } from "./helpers/relay-process.ts";

const TRIM: History = { maxJobs: 2, ttlSeconds: 3600 };
const EXPIRE: History = { maxJobs: 1000, ttlSeconds: 1 };
const CHANNELS = { trim: TRIM, expire: EXPIRE };
// Longer than EXPIRE.ttlSeconds, so an idle job (or the whole channel) expires in between.
const IDLE_MS = 1500;

let redis: TestRedis;
let connection: Redis;
let store: RedisJobStore;
let relay: RelayProcess;
let dir: string;
const clients: TestClient[] = [];

before(async () => {
  redis = await startRedis();
  connection = new Redis(redis.url);
  store = new RedisJobStore(connection);
  dir = mkdtempSync(join(tmpdir(), "jobchannel-seq-test-"));
  const file = join(dir, "channels.json");
  const channels = Object.entries(CHANNELS).map(([name, history]) => ({
    name,
    access: "public",
    history,
  }));
  writeFileSync(file, JSON.stringify({ channels }));
  relay = await startRelayProcess({ REDIS_URL: redis.url, RELAY_CONFIG_FILE: file });
});

after(async () => {
  for (const c of clients) c.ws.terminate();
  await relay?.process.stop(2000);
  connection?.disconnect();
  await redis?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function subscriber(channel: string): Promise<TestClient> {
  const client = await connect(`${relay.url}?channels=${channel}`);
  clients.push(client);
  await subscribed(client, channel);
  return client;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * What a client following the protocol holds for each job of `channel`: the snapshot, then every
 * live update whose seq is greater than the held one (design section 4).
 */
function held(client: TestClient, channel: string): Map<string, Record<string, unknown>> {
  const jobs = new Map<string, Record<string, unknown>>();
  const take = (job: Record<string, unknown>): void => {
    const seq = job.seq as number;
    if (seq > ((jobs.get(job.jobId as string)?.seq as number | undefined) ?? 0)) {
      jobs.set(job.jobId as string, job);
    }
  };
  for (const frame of client.frames) {
    if (frame.type === "subscribed" && frame.channel === channel) {
      for (const job of frame.jobs as Record<string, unknown>[]) take(job);
    } else if (frame.type === "job" && (frame.job as Frame).channel === channel) {
      take(frame.job as Record<string, unknown>);
    }
  }
  return jobs;
}

/** Fails unless, in the client's live stream of `channel`, each job's seq only grows. */
function assertSeqIncreases(client: TestClient, channel: string, name: string): void {
  const last = new Map<string, number>();
  for (const job of client.jobs().filter((j) => j.channel === channel)) {
    const [jobId, seq] = [job.jobId as string, job.seq as number];
    assert.ok(
      seq > (last.get(jobId) ?? 0),
      `${name}: ${jobId} got seq ${seq} after ${last.get(jobId)}`,
    );
    last.set(jobId, seq);
  }
}

/** Waits until every client holds `completed` for every job, then checks every stream's seq. */
async function assertFinalStates(
  named: Record<string, TestClient>,
  channel: string,
  finals: Map<string, number>,
): Promise<void> {
  for (const [name, client] of Object.entries(named)) {
    await waitFor(
      () => [...finals.keys()].every((id) => held(client, channel).get(id)?.status === "completed"),
      { what: `${name} to hold every job of ${channel} completed`, timeoutMs: 10_000 },
    );
    const jobs = held(client, channel);
    for (const [jobId, seq] of finals) assert.equal(jobs.get(jobId)?.seq, seq, `${name}: ${jobId}`);
    assertSeqIncreases(client, channel, name);
  }
}

test("every subscriber ends with every job's final state when maxJobs trims running jobs", async () => {
  const ids = ["t1", "t2", "t3", "t4", "t5"];
  const early = { a: await subscriber("trim"), b: await subscriber("trim") };
  const finals = new Map<string, number>();
  const steps = [
    { status: "queued" },
    { status: "processing", progress: 25 },
    { status: "processing", progress: 75 },
    { status: "completed", progress: 100 },
  ] as const;
  let late: TestClient | undefined;
  for (const [i, step] of steps.entries()) {
    for (const jobId of ids) {
      const { update } = await store.publish("trim", { jobId, ...step }, TRIM);
      finals.set(jobId, update.seq!);
    }
    // Five jobs run and two are kept: each one was trimmed while it ran before its next update.
    assert.equal((await store.snapshot("trim", TRIM)).length, 2);
    if (i === 1) late = await subscriber("trim");
  }
  assert.deepEqual(
    (await store.snapshot("trim", TRIM)).map((j) => [j.jobId, j.status, j.seq]),
    ids.slice(-2).map((id) => [id, "completed", finals.get(id)]),
    "the store keeps the last two final states",
  );
  const after = await subscriber("trim");
  await assertFinalStates({ ...early, late: late!, after }, "trim", new Map([...finals].slice(-2)));
});

test("every subscriber ends with every job's final state when a short ttlSeconds expires them", async () => {
  const ids = ["e1", "e2", "e3"];
  const early = { a: await subscriber("expire"), b: await subscriber("expire") };
  const finals = new Map<string, number>();
  const publishAll = async (step: { status: "queued" | "processing" | "completed" }) => {
    for (const jobId of ids) {
      const { update } = await store.publish("expire", { jobId, ...step }, EXPIRE);
      finals.set(jobId, update.seq!);
    }
  };
  await publishAll({ status: "queued" });
  // A ticker keeps the channel's keys alive, so the publish script's TTL sweep drops the idle jobs.
  for (let waited = 0; waited < IDLE_MS; waited += 250) {
    await store.publish("expire", { jobId: "ticker", status: "processing" }, EXPIRE);
    await sleep(250);
  }
  const { update: tick } = await store.publish(
    "expire",
    { jobId: "ticker", status: "completed" },
    EXPIRE,
  );
  finals.set("ticker", tick.seq!);
  assert.deepEqual(
    (await store.snapshot("expire", EXPIRE)).map((j) => j.jobId),
    ["ticker"],
    "the idle jobs were swept",
  );
  await publishAll({ status: "processing" });
  const late = await subscriber("expire");
  // Nothing publishes now: every key of the channel expires with its TTL.
  await sleep(IDLE_MS);
  assert.deepEqual(await store.snapshot("expire", EXPIRE), [], "the channel expired");
  await publishAll({ status: "completed" });
  await assertFinalStates({ ...early, late }, "expire", finals);
});
