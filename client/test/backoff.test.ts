// Tests of the reconnect delays: exponential growth, a ceiling, and full jitter.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { backoffDelay, resolveBackoff } from "../src/backoff.ts";

describe("backoffDelay", () => {
  it("doubles the ceiling with each attempt up to maxMs", () => {
    const backoff = resolveBackoff({ initialMs: 100, maxMs: 1000, random: () => 0.999999 });
    assert.deepEqual(
      [0, 1, 2, 3, 4, 50].map((a) => backoffDelay(a, backoff)),
      [99, 199, 399, 799, 999, 999],
    );
  });

  it("draws uniformly between zero and the ceiling", () => {
    assert.equal(backoffDelay(3, resolveBackoff({ initialMs: 100, random: () => 0 })), 0);
    assert.equal(backoffDelay(3, resolveBackoff({ initialMs: 100, random: () => 0.5 })), 400);
  });

  it("has documented defaults", () => {
    const { initialMs, maxMs, stableAfterMs } = resolveBackoff();
    assert.deepEqual(
      { initialMs, maxMs, stableAfterMs },
      { initialMs: 500, maxMs: 30_000, stableAfterMs: 5_000 },
    );
  });
});
