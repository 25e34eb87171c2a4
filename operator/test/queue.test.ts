// The work queue: dedup, one holder per key, backoff.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { WorkQueue } from "../src/queue.ts";
import { RateLimiter } from "../src/rate-limit.ts";

describe("WorkQueue", () => {
  it("stores a key added twice while it waits once", async () => {
    const queue = new WorkQueue();
    queue.add("a");
    queue.add("b");
    queue.add("a");
    assert.equal(queue.length, 2);
    assert.equal(await queue.get(), "a");
    assert.equal(await queue.get(), "b");
    queue.shutDown();
  });

  it("never hands out a key a worker still holds, and requeues it on done", async () => {
    const queue = new WorkQueue();
    queue.add("a");
    const key = await queue.get();
    assert.equal(key, "a");
    queue.add("a");
    assert.equal(queue.length, 0, "held key is not queued again while held");
    assert.equal(queue.isProcessing("a"), true);
    let second: string | undefined;
    const waiting = queue.get().then((k) => (second = k));
    await new Promise((r) => setImmediate(r));
    assert.equal(second, undefined);
    queue.done("a");
    await waiting;
    assert.equal(second, "a");
    queue.shutDown();
  });

  it("hands a key to a waiting worker as soon as it is added", async () => {
    const queue = new WorkQueue();
    const next = queue.get();
    queue.add("x");
    assert.equal(await next, "x");
    queue.shutDown();
  });

  it("delays a failed key by its backoff, longer on each failure", async () => {
    const queue = new WorkQueue({ limiter: new RateLimiter({ baseDelayMs: 20, burst: 100 }) });
    assert.equal(queue.addRateLimited("a"), 20);
    const started = Date.now();
    assert.equal(await queue.get(), "a");
    assert.ok(Date.now() - started >= 15);
    queue.done("a");
    assert.equal(queue.addRateLimited("a"), 40);
    assert.equal(queue.retries("a"), 2);
    queue.forget("a");
    assert.equal(queue.retries("a"), 0);
    queue.shutDown();
  });

  it("keeps the earliest of several delayed adds for one key", async () => {
    const queue = new WorkQueue();
    queue.addAfter("a", 10_000);
    queue.addAfter("a", 10);
    assert.equal(await queue.get(), "a");
    queue.shutDown();
  });

  it("resolves waiting workers with undefined on shutdown and refuses new keys", async () => {
    const queue = new WorkQueue();
    const waiting = queue.get();
    queue.shutDown();
    assert.equal(await waiting, undefined);
    queue.add("a");
    assert.equal(await queue.get(), undefined);
  });

  it("reports depth, adds, retries and durations", async () => {
    const seen = { depth: [] as number[], added: 0, retried: 0, queued: 0, worked: 0 };
    const queue = new WorkQueue({
      metrics: {
        depth: (v) => seen.depth.push(v),
        added: () => seen.added++,
        retried: () => seen.retried++,
        queued: () => seen.queued++,
        worked: () => seen.worked++,
      },
    });
    queue.add("a");
    queue.add("a");
    const key = await queue.get();
    queue.done(key!);
    queue.addRateLimited("b");
    assert.equal(seen.added, 1);
    assert.equal(seen.retried, 1);
    assert.equal(seen.queued, 1);
    assert.equal(seen.worked, 1);
    assert.deepEqual(seen.depth, [1, 0]);
    queue.shutDown();
  });
});
