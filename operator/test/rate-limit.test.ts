// Per-key exponential backoff combined with a global token bucket.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { RateLimiter } from "../src/rate-limit.ts";

describe("RateLimiter", () => {
  it("doubles a key's delay on each failure up to the cap", () => {
    const limiter = new RateLimiter({ baseDelayMs: 10, maxDelayMs: 50, burst: 1000, now: () => 0 });
    assert.deepEqual(
      [1, 2, 3, 4, 5].map(() => limiter.when("a")),
      [10, 20, 40, 50, 50],
    );
    assert.equal(limiter.failures("a"), 5);
  });

  it("keeps each key's backoff separate and resets it on forget", () => {
    const limiter = new RateLimiter({ baseDelayMs: 10, burst: 1000, now: () => 0 });
    limiter.when("a");
    limiter.when("a");
    assert.equal(limiter.when("b"), 10);
    limiter.forget("a");
    assert.equal(limiter.when("a"), 10);
  });

  it("spaces retries across all keys once the burst is spent", () => {
    let now = 0;
    const limiter = new RateLimiter({
      baseDelayMs: 1,
      ratePerSecond: 10,
      burst: 2,
      now: () => now,
    });
    assert.equal(limiter.when("a"), 1);
    assert.equal(limiter.when("b"), 1);
    assert.equal(limiter.when("c"), 100);
    assert.equal(limiter.when("d"), 200);
    now = 1000;
    // Ten tokens refilled, two were owed: the bucket is back within its burst.
    assert.equal(limiter.when("e"), 1);
  });
});
