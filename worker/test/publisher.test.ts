import assert from "node:assert/strict";
import { test } from "node:test";
import { MemoryJobStore } from "@jobchannel/state";
import { Publisher } from "../src/publisher.ts";
import { WorkerError } from "../src/errors.ts";

test("stamps timestamp and seq and publishes on jobchannel:<channel>", async () => {
  const store = new MemoryJobStore();
  const seen: [string, string][] = [];
  store.bus.subscribe((channel, payload) => seen.push([channel, payload]));
  const publisher = new Publisher(store, { now: () => 1234 });
  const first = await publisher.update("file-upload", "job-1", {
    status: "processing",
    progress: 10,
    custom: "x",
  });
  const second = await publisher.update("file-upload", "job-1", {
    status: "completed",
    progress: 100,
  });
  assert.ok(Number.isSafeInteger(first.seq), `seq ${first.seq}`);
  assert.equal(second.seq, first.seq! + 1);
  assert.equal(first.timestamp, 1234);
  assert.equal(seen[0]![0], "jobchannel:file-upload");
  assert.deepEqual(JSON.parse(seen[0]![1]), {
    seq: first.seq,
    jobId: "job-1",
    status: "processing",
    progress: 10,
    custom: "x",
    timestamp: 1234,
  });
  assert.equal((await store.get("file-upload", "job-1"))?.status, "completed");
});

test("replaces a caller's timestamp, seq and channel with its own", async () => {
  const publisher = new Publisher(new MemoryJobStore(), { now: () => 99 });
  const update = await publisher.update("a", "j", {
    status: "queued",
    timestamp: 5,
    seq: 40,
    channel: "other",
  } as never);
  assert.equal(update.timestamp, 99);
  // The store's own seq (seeded from the clock in microseconds), not the caller's 40.
  assert.ok(update.seq! > 1e15, `seq ${update.seq}`);
  assert.equal(update.channel, undefined);
});

test("refuses an invalid update with a coded error and writes nothing", async () => {
  const store = new MemoryJobStore();
  const publisher = new Publisher(store);
  const cases: [unknown, string, string][] = [
    [{ status: "running" }, "invalid_update", "status"],
    [{ status: "processing", progress: 101 }, "invalid_update", "progress"],
    [{ status: "failed", error: 5 }, "invalid_update", "error"],
    [
      { status: "queued", nested: JSON.parse('{"__proto__":1}') },
      "invalid_update",
      "nested.__proto__",
    ],
  ];
  for (const [fields, code, field] of cases) {
    await assert.rejects(
      publisher.update("file-upload", "job-1", fields as never),
      (e: unknown) => {
        assert.ok(e instanceof WorkerError);
        assert.equal(e.code, code);
        assert.equal(e.field, field);
        return true;
      },
    );
  }
  await assert.rejects(publisher.update("Bad_Channel", "j", { status: "queued" }), {
    code: "invalid_channel",
  });
  await assert.rejects(publisher.update("a", "", { status: "queued" }), {
    code: "invalid_update",
    field: "jobId",
  });
  assert.equal(await store.get("file-upload", "job-1"), undefined);
});

test("refuses an update larger than maxMessageBytes", async () => {
  const store = new MemoryJobStore();
  const publisher = new Publisher(store, { maxMessageBytes: 1000 });
  await assert.rejects(
    publisher.update("a", "j", { status: "completed", result: "x".repeat(1000) }),
    { code: "update_too_large" },
  );
  assert.equal(await store.get("a", "j"), undefined);
});

test("refuses values JSON cannot carry", async () => {
  const publisher = new Publisher(new MemoryJobStore());
  await assert.rejects(publisher.update("a", "j", { status: "queued", big: 10n }), {
    code: "invalid_update",
  });
});
