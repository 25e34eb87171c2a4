import { strict as assert } from "node:assert";
import { test } from "node:test";
import { parseBuckets, quantileMs } from "../src/fanout-histogram.ts";

const scrape = (counts: [string, number][], channel = "a"): string =>
  counts
    .map(
      ([le, n]) =>
        `jobchannel_relay_fanout_latency_seconds_bucket{channel="${channel}",le="${le}"} ${n}`,
    )
    .join("\n");

test("sums the buckets of every channel", () => {
  const text = `${scrape(
    [
      ["0.001", 1],
      ["+Inf", 2],
    ],
    "a",
  )}\n${scrape(
    [
      ["0.001", 3],
      ["+Inf", 3],
    ],
    "b",
  )}\njobchannel_relay_fanout_latency_seconds_count 5`;
  const buckets = parseBuckets(text);
  assert.equal(buckets.get(0.001), 4);
  assert.equal(buckets.get(Infinity), 5);
});

test("interpolates a quantile inside its bucket, over the difference of two scrapes", () => {
  const before = parseBuckets(
    scrape([
      ["0.001", 10],
      ["0.01", 10],
      ["+Inf", 10],
    ]),
  );
  // 100 new observations: 50 under 1 ms, 50 between 1 and 10 ms.
  const after = parseBuckets(
    scrape([
      ["0.001", 60],
      ["0.01", 110],
      ["+Inf", 110],
    ]),
  );
  assert.equal(quantileMs(before, after, 0.5), 1);
  assert.equal(quantileMs(before, after, 0.25), 0.5);
  assert.ok(Math.abs(quantileMs(before, after, 0.75) - 5.5) < 1e-9);
});

test("gives NaN for an interval without observations", () => {
  const same = parseBuckets(
    scrape([
      ["0.001", 3],
      ["+Inf", 3],
    ]),
  );
  assert.ok(Number.isNaN(quantileMs(same, same, 0.5)));
});
