// Tests of the dashboard's formatting of sizes, durations and results.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  formatBytes,
  formatDuration,
  humanize,
  summarizeResult,
} from "../../dashboard/src/format.ts";

describe("formatBytes", () => {
  it("uses the largest unit below 1024 of it", () => {
    assert.equal(formatBytes(512), "512 B");
    assert.equal(formatBytes(1536), "1.5 KB");
    assert.equal(formatBytes(40 * 1024 * 1024), "40 MB");
  });
});

describe("formatDuration", () => {
  it("shows tenths under ten seconds, then seconds, minutes and hours", () => {
    assert.equal(formatDuration(4200), "4.2s");
    assert.equal(formatDuration(42_000), "42s");
    assert.equal(formatDuration(65_000), "1m 05s");
    assert.equal(formatDuration(3_720_000), "1h 02m");
    assert.equal(formatDuration(-5), "0.0s");
  });
});

describe("summarizeResult", () => {
  it("puts the built-in job types' headline facts first", () => {
    const sha = "a".repeat(64);
    assert.deepEqual(
      summarizeResult({ filename: "x.bin", bytes: 2048, sha256: sha, mimeType: "x/y" }),
      [
        { label: "Size", value: "2.0 KB" },
        { label: "SHA-256", value: `${"a".repeat(12)}…aaaa`, full: sha, code: true },
      ],
    );
    assert.deepEqual(
      summarizeResult({ pages: 40, text: [{ page: 1, text: "..." }], truncated: false }).map(
        (i) => `${i.label}=${i.value}`,
      ),
      ["Pages=40", "Truncated=no"],
    );
    assert.deepEqual(
      summarizeResult({
        decision: "review",
        riskScore: 35,
        matches: [{}, {}],
        countryRisk: "elevated",
      }).map((i) => i.label),
      ["Decision", "Risk score", "Matches", "Country risk"],
    );
  });

  it("shows a scalar result, and nothing for other shapes", () => {
    assert.deepEqual(summarizeResult(42), [{ label: "Result", value: "42" }]);
    assert.deepEqual(summarizeResult(null), []);
    assert.deepEqual(summarizeResult([1, 2]), []);
  });

  it("keeps to the limit and skips long values", () => {
    const many = Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`k${i}`, i]));
    assert.equal(summarizeResult({ ...many, long: "x".repeat(100) }).length, 8);
    assert.deepEqual(summarizeResult({ long: "x".repeat(100) }), []);
  });
});

describe("humanize", () => {
  it("turns keys into labels", () => {
    assert.equal(humanize("invalidRows"), "Invalid rows");
    assert.equal(humanize("errors_truncated"), "Errors truncated");
  });
});
