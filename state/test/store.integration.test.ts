// One suite run against both job-state stores: a real redis-server and the in-memory twin.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { startRedis, type TestRedis } from "@jobchannel/testkit";
import type { JobUpdate } from "@jobchannel/protocol";
import { Redis } from "ioredis";
import { channelKeys } from "../src/keys.ts";
import { MemoryBus } from "../src/memory-bus.ts";
import { MemoryJobStore } from "../src/memory-store.ts";
import { RedisJobStore } from "../src/redis-store.ts";
import type { History } from "../src/history.ts";
import type { JobStore, UpdateInput } from "../src/store.ts";
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
    test("draws each update's seq from the channel's counter and publishes it with its seq", async () => {
      const { store, published } = await backend.make();
      const channel = freshChannel();
      const a1 = await store.publish(channel, { jobId: "a", status: "queued" }, history);
      const b1 = await store.publish(channel, { jobId: "b", status: "queued" }, history);
      const a2 = await store.publish(
        channel,
        { jobId: "a", status: "processing", progress: 10 },
        history,
      );
      const first = a1.update.seq!;
      // Seeded from the clock in microseconds, then one step per update of the channel.
      assert.ok(Number.isSafeInteger(first) && first > 1e15, `first seq ${first}`);
      assert.deepEqual([b1.update.seq, a2.update.seq], [first + 1, first + 2]);
      assert.equal(typeof a2.update.timestamp, "number");
      if (backend.name === "redis") {
        await waitUntil(() => published().length >= 3);
      }
      const last = JSON.parse(published().at(-1)!);
      assert.equal(last.seq, first + 2);
      assert.equal(last.progress, 10);
      await store.close();
    });

    test("publishes guarded only where the guard allows, and answers a refusal with the stored state", async () => {
      const { store } = await backend.make();
      const channel = freshChannel();
      const first = await store.publishGuarded(
        channel,
        { jobId: "a", status: "queued" },
        history,
        "absent",
      );
      assert.ok("update" in first, "absent and nothing stored: published");
      const again = await store.publishGuarded(
        channel,
        { jobId: "a", status: "processing" },
        history,
        "absent",
      );
      assert.deepEqual("refused" in again ? again.refused : again, first.update);
      const open = await store.publishGuarded(
        channel,
        { jobId: "a", status: "completed" },
        history,
        "open",
      );
      assert.ok(
        "update" in open && open.update.seq! > first.update.seq!,
        "open and running: published",
      );
      const late = await store.publishGuarded(
        channel,
        { jobId: "a", status: "processing" },
        history,
        "open",
      );
      assert.equal("refused" in late ? late.refused.status : "published", "completed");
      assert.equal((await store.get(channel, "a"))?.status, "completed");
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
      const base = await firstSeqMinusOne(
        store,
        channel,
        { jobId: "a", status: "queued" },
        history,
      );
      for (const id of ["b", "c"])
        await store.publish(channel, { jobId: id, status: "queued" }, history);
      await store.publish(channel, { jobId: "a", status: "completed", progress: 100 }, history);
      const snapshot = await store.snapshot(channel, history);
      assert.deepEqual(
        snapshot.map((j) => [j.jobId, j.status, j.seq! - base]),
        [
          ["b", "queued", 2],
          ["c", "queued", 3],
          ["a", "completed", 4],
        ],
      );
      await store.close();
    });

    test("trims finished jobs before running ones when over maxJobs", async () => {
      const { store } = await backend.make();
      const channel = freshChannel();
      const small = { maxJobs: 2, ttlSeconds: 3600 };
      const base = await firstSeqMinusOne(
        store,
        channel,
        { jobId: "running", status: "processing" },
        small,
      );
      await store.publish(channel, { jobId: "done-1", status: "completed" }, small);
      await store.publish(channel, { jobId: "done-2", status: "completed" }, small);
      const next = await store.publish(channel, { jobId: "running", status: "completed" }, small);
      assert.equal(next.update.seq, base + 4);
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

    test("leaves out of a snapshot the jobs past ttlSeconds and beyond maxJobs, unswept", async () => {
      const { store } = await backend.make();
      const channel = freshChannel();
      const old = Date.now() - 120_000;
      const keepAll = { maxJobs: 0, ttlSeconds: 0 };
      await store.publish(channel, { jobId: "old", status: "queued", timestamp: old }, keepAll);
      for (const jobId of ["a", "b", "c"])
        await store.publish(channel, { jobId, status: "queued" }, keepAll);
      const read = async (h: { maxJobs: number; ttlSeconds: number }) =>
        (await store.snapshot(channel, h)).map((j) => j.jobId);
      assert.deepEqual(await read(keepAll), ["old", "a", "b", "c"]);
      assert.deepEqual(await read({ maxJobs: 0, ttlSeconds: 60 }), ["a", "b", "c"]);
      assert.deepEqual(await read({ maxJobs: 2, ttlSeconds: 0 }), ["b", "c"]);
      await store.close();
    });

    test("keeps each job's seq increasing when maxJobs trims running jobs", async () => {
      const { store, published } = await backend.make();
      const channel = freshChannel();
      const small = { maxJobs: 2, ttlSeconds: 3600 };
      const ids = ["a", "b", "c", "d"];
      let base: number | undefined;
      for (const status of ["queued", "processing", "completed"] as const) {
        for (const jobId of ids) {
          const { update } = await store.publish(channel, { jobId, status }, small);
          base ??= update.seq! - 1;
          // Each job is trimmed by the next two, so it comes back on its own next update.
          assert.ok((await store.snapshot(channel, small)).some((j) => j.jobId === jobId));
        }
      }
      assertSeqIncreases(await stream(published, 12));
      assert.deepEqual(await rows(store, channel, small, base), [
        ["c", "completed", 11],
        ["d", "completed", 12],
      ]);
      await store.close();
    });

    test("keeps a job's seq increasing when the TTL sweep drops it while it runs", async () => {
      const { store, published } = await backend.make();
      const channel = freshChannel();
      const ttl = { maxJobs: 0, ttlSeconds: 60 };
      const old = Date.now() - 120_000;
      const base = await firstSeqMinusOne(
        store,
        channel,
        { jobId: "a", status: "processing", timestamp: old },
        ttl,
      );
      await store.publish(channel, { jobId: "b", status: "processing" }, ttl);
      assert.equal(await store.get(channel, "a"), undefined, "swept");
      await store.publish(channel, { jobId: "a", status: "completed" }, ttl);
      await store.publish(channel, { jobId: "b", status: "completed" }, ttl);
      assertSeqIncreases(await stream(published, 4));
      assert.deepEqual(await rows(store, channel, ttl, base), [
        ["a", "completed", 3],
        ["b", "completed", 4],
      ]);
      await store.close();
    });

    test("keeps a job's seq increasing after a short ttlSeconds expires the channel", async () => {
      const { store, published } = await backend.make();
      const channel = freshChannel();
      const ttl = { maxJobs: 0, ttlSeconds: 1 };
      const base = await firstSeqMinusOne(
        store,
        channel,
        { jobId: "a", status: "processing" },
        ttl,
      );
      await new Promise((r) => setTimeout(r, 1100));
      assert.deepEqual(await store.snapshot(channel, ttl), [], "expired");
      const last = await store.publish(channel, { jobId: "a", status: "completed" }, ttl);
      assert.equal(last.update.seq, base + 2);
      assertSeqIncreases(await stream(published, 2));
      assert.deepEqual(await rows(store, channel, ttl, base), [["a", "completed", 2]]);
      await store.close();
    });

    test("gives a trimmed job that publishes again a larger seq and a place in snapshots", async () => {
      const { store, published } = await backend.make();
      const channel = freshChannel();
      const one = { maxJobs: 1, ttlSeconds: 3600 };
      const base = await firstSeqMinusOne(store, channel, { jobId: "a", status: "completed" }, one);
      await store.publish(channel, { jobId: "b", status: "processing" }, one);
      assert.equal(await store.get(channel, "a"), undefined, "trimmed");
      await store.publish(channel, { jobId: "a", status: "queued" }, one);
      assertSeqIncreases(await stream(published, 3));
      assert.deepEqual(await rows(store, channel, one, base), [["a", "queued", 3]]);
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
  const tags = [keys.state, keys.counter, keys.index, keys.done].map(
    (k) => /\{([^}]*)\}/.exec(k)?.[1],
  );
  assert.deepEqual(tags, ["file-upload", "file-upload", "file-upload", "file-upload"]);
  assert.equal(keys.pubsub, "jobchannel:file-upload");
});

test("leaves the seq counter without expiry while the channel's state keys expire", async () => {
  const store = new RedisJobStore(client);
  const channel = freshChannel();
  const { update } = await store.publish(channel, { jobId: "a", status: "queued" }, history);
  const keys = channelKeys(channel);
  assert.equal(await client.pttl(keys.counter), -1);
  assert.ok((await client.pttl(keys.state)) > 0);
  assert.equal(await client.get(keys.counter), String(update.seq));
});

test("gives a channel whose keys Redis lost a larger seq than any before the loss", async () => {
  const store = new RedisJobStore(client);
  const channel = freshChannel();
  await store.publish(channel, { jobId: "a", status: "queued" }, history);
  const before = await store.publish(channel, { jobId: "a", status: "processing" }, history);
  const keys = channelKeys(channel);
  // What a restart without persistence, FLUSHALL or eviction leaves of the channel: nothing.
  await client.del(keys.state, keys.counter, keys.index, keys.done);
  const time = await client.time();
  const after = await store.publish(channel, { jobId: "a", status: "completed" }, history);
  assert.ok(after.update.seq! > before.update.seq!, `${after.update.seq} > ${before.update.seq}`);
  // Seeded from Redis's clock in microseconds, exactly (a safe integer, no rounding).
  const micros = Number(time[0]) * 1e6 + Number(time[1]);
  assert.ok(Number.isSafeInteger(after.update.seq), `${after.update.seq}`);
  assert.ok(after.update.seq! > micros && after.update.seq! < micros + 10_000_000);
  assert.equal(await client.get(keys.counter), String(after.update.seq));
  assert.deepEqual(await rows(store, channel, history, 0), [["a", "completed", after.update.seq]]);
});

test("gives a channel of a restarted in-memory store a larger seq than the previous process", async () => {
  const channel = freshChannel();
  const first = new MemoryJobStore();
  const before = await first.publish(channel, { jobId: "a", status: "processing" }, history);
  await new Promise((r) => setTimeout(r, 2));
  const restarted = new MemoryJobStore();
  const after = await restarted.publish(channel, { jobId: "a", status: "completed" }, history);
  assert.ok(after.update.seq! > before.update.seq!, `${after.update.seq} > ${before.update.seq}`);
  assert.ok(Number.isSafeInteger(after.update.seq));
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

/** A channel's snapshot as [jobId, status, seq - base] rows. */
async function rows(
  store: JobStore,
  channel: string,
  h: History,
  base: number | undefined,
): Promise<unknown[]> {
  return (await store.snapshot(channel, h)).map((j) => [j.jobId, j.status, j.seq! - base!]);
}

/** Publishes a channel's first update and returns its seq - 1, so later seqs read as 1, 2, 3... */
async function firstSeqMinusOne(
  store: JobStore,
  channel: string,
  input: UpdateInput,
  h: History,
): Promise<number> {
  const { update } = await store.publish(channel, input, h);
  return update.seq! - 1;
}

/** The first `count` updates a backend published, once they have all arrived. */
async function stream(published: () => string[], count: number): Promise<JobUpdate[]> {
  await waitUntil(() => published().length >= count);
  return published()
    .slice(0, count)
    .map((text) => JSON.parse(text) as JobUpdate);
}

/** Fails unless every job's seq is larger than the one before it in `updates`. */
function assertSeqIncreases(updates: readonly JobUpdate[]): void {
  const last = new Map<string, number>();
  for (const { jobId, seq } of updates) {
    assert.ok(seq !== undefined && seq > (last.get(jobId) ?? 0), `seq ${seq} of ${jobId}`);
    last.set(jobId, seq);
  }
}

async function waitUntil(check: () => boolean): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("timed out waiting for published messages");
    await new Promise((r) => setTimeout(r, 10));
  }
}

for (const backend of backends) {
  describe(`${backend.name} job store retention`, () => {
    test("drops finished jobs first, then the least recently updated running ones, down to maxJobs", async () => {
      const { store } = await backend.make();
      const channel = freshChannel();
      const h = { maxJobs: 2, ttlSeconds: 0 };
      await store.publish(channel, { jobId: "a", status: "queued" }, h);
      await store.publish(channel, { jobId: "b", status: "completed" }, h);
      await store.publish(channel, { jobId: "c", status: "queued" }, h);
      const ids = async (): Promise<string[]> =>
        (await store.snapshot(channel, h)).map((u) => u.jobId).sort();
      assert.deepEqual(await ids(), ["a", "c"]);
      await store.publish(channel, { jobId: "d", status: "processing" }, h);
      assert.deepEqual(await ids(), ["c", "d"]);
      // Trimmed from the store, not only left out of the snapshot's last maxJobs.
      assert.equal(await store.get(channel, "a"), undefined);
      assert.equal(await store.get(channel, "b"), undefined);
      await store.close();
    });

    test("keeps every job when maxJobs is 0 or below", async () => {
      const { store } = await backend.make();
      for (const maxJobs of [0, -1]) {
        const channel = freshChannel();
        const h = { maxJobs, ttlSeconds: 0 };
        await store.publish(channel, { jobId: "a", status: "completed" }, h);
        await store.publish(channel, { jobId: "b", status: "queued" }, h);
        assert.deepEqual(
          (await store.snapshot(channel, h)).map((u) => u.jobId).sort(),
          ["a", "b"],
          `maxJobs ${maxJobs}`,
        );
      }
      await store.close();
    });

    test("refuses an invalid channel name with a coded error on the channel field", async () => {
      const { store } = await backend.make();
      await assert.rejects(
        store.publish("no spaces", { jobId: "a", status: "queued" }, history),
        (e: unknown) => {
          assert.ok(e instanceof StateError);
          assert.equal(e.field, "channel");
          assert.match(e.message, /^channel \S/);
          return true;
        },
      );
      await store.close();
    });
  });
}

describe("memory job store", () => {
  test("publishes on <prefix><channel>, with the default or a given prefix", async () => {
    const bus = new MemoryBus();
    const names: string[] = [];
    bus.subscribe((name) => names.push(name));
    await new MemoryJobStore(bus).publish("a", { jobId: "j", status: "queued" }, history);
    await new MemoryJobStore(bus, "jc:").publish("b", { jobId: "j", status: "queued" }, history);
    assert.deepEqual(names, ["jobchannel:a", "jc:b"]);
  });

  test("finds no job in an unknown channel, and guards a job its channel does not hold", async () => {
    const store = new MemoryJobStore();
    assert.equal(await store.get("nowhere", "a"), undefined);
    await store.publish("held", { jobId: "a", status: "queued" }, history);
    assert.equal(await store.get("held", "b"), undefined);
    const other = await store.publishGuarded(
      "held",
      { jobId: "b", status: "queued" },
      history,
      "absent",
    );
    assert.ok("update" in other && other.update.jobId === "b");
  });

  test("keeps a job whose last update is exactly ttlSeconds old", async (t) => {
    t.mock.timers.enable({ apis: ["Date"], now: 1_800_000_000_000 });
    const store = new MemoryJobStore();
    const h = { maxJobs: 0, ttlSeconds: 60 };
    const now = Date.now();
    await store.publish("edge", { jobId: "old", status: "queued", timestamp: now - 60_000 }, h);
    // Trimmed at `now - 60 s` by this publish, and snapshotted at the same bound.
    await store.publish("edge", { jobId: "new", status: "queued", timestamp: now }, h);
    assert.deepEqual(
      (await store.snapshot("edge", h)).map((u) => u.jobId),
      ["old", "new"],
    );
    assert.equal((await store.get("edge", "old"))?.status, "queued");
  });
});

describe("redis job store", () => {
  test("keeps state under the default prefix or the one it is given", async () => {
    await new RedisJobStore(client).publish("pfx-a", { jobId: "a", status: "queued" }, history);
    assert.notEqual(await client.hget("jobchannel:{pfx-a}:state", "a"), null);
    const prefixed = new RedisJobStore(client, { prefix: "jc:" });
    await prefixed.publish("pfx-b", { jobId: "a", status: "queued" }, history);
    assert.notEqual(await client.hget("jc:{pfx-b}:state", "a"), null);
    assert.equal(await client.hget("jobchannel:{pfx-b}:state", "a"), null);
    assert.equal((await prefixed.get("pfx-b", "a"))?.status, "queued");
  });

  test("publishes with SPUBLISH on the channel's sharded name when sharded", async () => {
    const sub = new Redis(redis.url);
    subscribers.push(sub);
    await sub.ssubscribe("jobchannel:{shard-a}");
    const store = new RedisJobStore(client, { sharded: true });
    const plain = await store.publish("shard-a", { jobId: "a", status: "queued" }, history);
    assert.equal(plain.receivers, 1);
    const guarded = await store.publishGuarded(
      "shard-a",
      { jobId: "b", status: "queued" },
      history,
      "absent",
    );
    assert.ok("update" in guarded && guarded.receivers === 1);
    sub.disconnect();
  });

  test("quits its connection on close only when it owns it", async () => {
    const own = new Redis(redis.url);
    const lent = new Redis(redis.url);
    await Promise.all([own.ping(), lent.ping()]);
    await new RedisJobStore(own, { ownsConnection: true }).close();
    await new RedisJobStore(lent).close();
    await assert.rejects(own.ping());
    assert.equal(await lent.ping(), "PONG");
    own.disconnect();
    lent.disconnect();
  });

  test("throws when a guarded publish meets a stored state that is not an update", async () => {
    const store = new RedisJobStore(client);
    await client.hset(channelKeys("corrupt").state, "a", "not json");
    await assert.rejects(
      store.publishGuarded("corrupt", { jobId: "a", status: "queued" }, history, "absent"),
      { message: "job a on corrupt has a stored state that is not an update" },
    );
  });
});
