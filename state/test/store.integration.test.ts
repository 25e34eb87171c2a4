// One suite run against both job-state stores: a real redis-server and the in-memory twin.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { startRedis, type TestRedis } from "@jobchannel/testkit";
import { Redis } from "ioredis";
import { channelKeys } from "../src/keys.ts";
import { MemoryBus } from "../src/memory-bus.ts";
import { MemoryJobStore } from "../src/memory-store.ts";
import { RedisJobStore } from "../src/redis-store.ts";
import type { JobStore } from "../src/store.ts";
import { StateError } from "../src/errors.ts";

const history = { maxJobs: 1000, ttlSeconds: 3600 };
let redis: TestRedis;
let client: Redis;
const subscribers: Redis[] = [];

before(async () => {
  redis = await startRedis();
  client = new Redis(redis.url);
});
after(async () => {
  for (const sub of subscribers) sub.disconnect();
  client.disconnect();
  await redis.stop();
});

interface Backend {
  name: string;
  make(): Promise<{ store: JobStore; published: () => string[] }>;
}

let channelCounter = 0;
const freshChannel = (): string => `ch-${++channelCounter}`;

const backends: Backend[] = [
  {
    name: "redis",
    async make() {
      const seen: string[] = [];
      const sub = new Redis(redis.url);
      subscribers.push(sub);
      await sub.psubscribe("jobchannel:*");
      sub.on("pmessage", (_p, _c, message: string) => seen.push(message));
      const store = new RedisJobStore(client);
      const close = store.close.bind(store);
      store.close = async () => {
        sub.disconnect();
        await close();
      };
      return { store, published: () => seen };
    },
  },
  {
    name: "memory",
    async make() {
      const seen: string[] = [];
      const bus = new MemoryBus();
      bus.subscribe((_c, payload) => seen.push(payload));
      return { store: new MemoryJobStore(bus), published: () => seen };
    },
  },
];

for (const backend of backends) {
  describe(`${backend.name} job store`, () => {
    test("numbers each job's updates from 1 and publishes them with their seq", async () => {
      const { store, published } = await backend.make();
      const channel = freshChannel();
      const a1 = await store.publish(channel, { jobId: "a", status: "queued" }, history);
      const b1 = await store.publish(channel, { jobId: "b", status: "queued" }, history);
      const a2 = await store.publish(
        channel,
        { jobId: "a", status: "processing", progress: 10 },
        history,
      );
      assert.deepEqual([a1.update.seq, b1.update.seq, a2.update.seq], [1, 1, 2]);
      assert.equal(typeof a2.update.timestamp, "number");
      if (backend.name === "redis") {
        await waitUntil(() => published().length >= 3);
      }
      const last = JSON.parse(published().at(-1)!);
      assert.equal(last.seq, 2);
      assert.equal(last.progress, 10);
      await store.close();
    });

    test("keeps custom fields byte for byte", async () => {
      const { store } = await backend.make();
      const channel = freshChannel();
      const custom = { nested: { list: [], big: 1.0000000000000002, text: 'é\u2028"q"' } };
      await store.publish(channel, { jobId: "a", status: "completed", ...custom }, history);
      const stored = await store.get(channel, "a");
      assert.deepEqual((stored as Record<string, unknown>).nested, custom.nested);
      await store.close();
    });

    test("returns a snapshot of the latest state of each job, oldest update first", async () => {
      const { store } = await backend.make();
      const channel = freshChannel();
      for (const id of ["a", "b", "c"])
        await store.publish(channel, { jobId: id, status: "queued" }, history);
      await store.publish(channel, { jobId: "a", status: "completed", progress: 100 }, history);
      const snapshot = await store.snapshot(channel, history);
      assert.deepEqual(
        snapshot.map((j) => [j.jobId, j.status, j.seq]),
        [
          ["b", "queued", 1],
          ["c", "queued", 1],
          ["a", "completed", 2],
        ],
      );
      await store.close();
    });

    test("trims finished jobs before running ones when over maxJobs, keeping running jobs' seq", async () => {
      const { store } = await backend.make();
      const channel = freshChannel();
      const small = { maxJobs: 2, ttlSeconds: 3600 };
      await store.publish(channel, { jobId: "running", status: "processing" }, small);
      await store.publish(channel, { jobId: "done-1", status: "completed" }, small);
      await store.publish(channel, { jobId: "done-2", status: "completed" }, small);
      const next = await store.publish(channel, { jobId: "running", status: "completed" }, small);
      assert.equal(next.update.seq, 2);
      const ids = (await store.snapshot(channel, small)).map((j) => j.jobId).sort();
      assert.deepEqual(ids, ["done-2", "running"]);
      await store.close();
    });

    test("trims the oldest running job when more than maxJobs run at once", async () => {
      const { store } = await backend.make();
      const channel = freshChannel();
      const small = { maxJobs: 2, ttlSeconds: 0 };
      for (const id of ["a", "b", "c"])
        await store.publish(channel, { jobId: id, status: "processing" }, small);
      assert.deepEqual(
        (await store.snapshot(channel, small)).map((j) => j.jobId),
        ["b", "c"],
      );
      await store.close();
    });

    test("drops jobs whose last update is older than ttlSeconds", async () => {
      const { store } = await backend.make();
      const channel = freshChannel();
      const ttl = { maxJobs: 0, ttlSeconds: 60 };
      const old = Date.now() - 120_000;
      await store.publish(channel, { jobId: "old", status: "completed", timestamp: old }, ttl);
      await store.publish(channel, { jobId: "new", status: "queued" }, ttl);
      assert.deepEqual(
        (await store.snapshot(channel, ttl)).map((j) => j.jobId),
        ["new"],
      );
      assert.equal(await store.get(channel, "old"), undefined);
      await store.close();
    });

    test("refuses an invalid update or channel with a coded error and writes nothing", async () => {
      const { store, published } = await backend.make();
      const channel = freshChannel();
      await assert.rejects(
        store.publish(channel, { jobId: "a", status: "running" as "queued" }, history),
        (e: unknown) =>
          e instanceof StateError && e.code === "invalid_update" && e.field === "status",
      );
      await assert.rejects(
        store.publish("Bad_Name", { jobId: "a", status: "queued" }, history),
        (e: unknown) => e instanceof StateError && e.code === "invalid_channel",
      );
      assert.deepEqual(await store.snapshot(channel, history), []);
      assert.equal(published().length, 0);
      await store.close();
    });
  });
}

test("puts every key of a channel in one Redis Cluster hash slot", () => {
  const keys = channelKeys("file-upload");
  const tags = [keys.state, keys.seq, keys.index, keys.done].map((k) => /\{([^}]*)\}/.exec(k)?.[1]);
  assert.deepEqual(tags, ["file-upload", "file-upload", "file-upload", "file-upload"]);
  assert.equal(keys.pubsub, "jobchannel:file-upload");
});

test("skips a corrupt stored state instead of failing the snapshot", async () => {
  const store = new RedisJobStore(client);
  const channel = freshChannel();
  await store.publish(channel, { jobId: "good", status: "queued" }, history);
  const keys = channelKeys(channel);
  await client.hset(keys.state, "bad", "{not json");
  await client.zadd(keys.index, Date.now(), "bad");
  assert.deepEqual(
    (await store.snapshot(channel, history)).map((j) => j.jobId),
    ["good"],
  );
});

async function waitUntil(check: () => boolean): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("timed out waiting for published messages");
    await new Promise((r) => setTimeout(r, 10));
  }
}
