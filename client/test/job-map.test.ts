// Tests of the per-channel job map: merge, dedupe by seq, order and eviction.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { JobUpdate } from "@jobchannel/protocol";
import { JobMap, isNewer, mergeNewestFirst } from "../src/job-map.ts";

function job(jobId: string, fields: Partial<JobUpdate> & Record<string, unknown> = {}): JobUpdate {
  return { jobId, status: "processing", timestamp: 1, channel: "c", ...fields } as JobUpdate;
}

function counter(): () => number {
  let n = 0;
  return () => ++n;
}

describe("isNewer", () => {
  it("takes an update with a greater seq", () => {
    assert.equal(isNewer(job("a", { seq: 1 }), job("a", { seq: 2 })), true);
  });
  it("drops an update whose seq is equal or smaller", () => {
    assert.equal(isNewer(job("a", { seq: 2 }), job("a", { seq: 2 })), false);
    assert.equal(isNewer(job("a", { seq: 3 }), job("a", { seq: 2 })), false);
  });
  it("takes updates without seq, which cannot be ordered", () => {
    assert.equal(isNewer(job("a", { seq: 3 }), job("a")), true);
    assert.equal(isNewer(job("a"), job("a", { seq: 1 })), true);
    assert.equal(isNewer(undefined, job("a", { seq: 9 })), true);
  });
});

describe("JobMap", () => {
  it("replaces a job's state with an update that carries seq, dropping fields it left out", () => {
    const map = new JobMap(0, counter());
    map.applyAll([
      job("a", { seq: 1, fileName: "a.pdf", progress: 0, error: "retrying" }),
      job("b", { seq: 2 }),
    ]);
    assert.equal(map.apply(job("a", { seq: 2, fileName: "a.pdf", progress: 40 })), true);
    assert.deepEqual(map.get("a"), { ...job("a"), seq: 2, fileName: "a.pdf", progress: 40 });
  });

  it("merges an update without seq field by field, as a raw PUBLISH may send only what changed", () => {
    const map = new JobMap(0, counter());
    map.apply(job("a", { seq: 3, fileName: "a.pdf", progress: 10 }));
    assert.equal(map.apply(job("a", { progress: 60 })), true);
    assert.deepEqual(map.get("a"), { ...job("a"), seq: 3, fileName: "a.pdf", progress: 60 });
    map.apply(job("b", { fileName: "b.csv" }));
    map.apply(job("b", { status: "completed" }));
    assert.deepEqual(map.get("b"), { ...job("b"), status: "completed", fileName: "b.csv" });
  });

  it("drops a stale update by seq and keeps the list identity", () => {
    const map = new JobMap(0, counter());
    map.apply(job("a", { seq: 5, progress: 50 }));
    const list = map.jobs();
    assert.equal(map.apply(job("a", { seq: 4, progress: 10 })), false);
    assert.equal(map.applyAll([job("a", { seq: 5, progress: 10 })]), false);
    assert.equal(map.jobs(), list);
    assert.equal(map.get("a")?.progress, 50);
  });

  it("lists jobs newest first by when they were first seen", () => {
    const map = new JobMap(0, counter());
    map.applyAll([job("a"), job("b"), job("c")]);
    map.apply(job("a", { progress: 99 }));
    assert.deepEqual(
      map.jobs().map((j) => j.jobId),
      ["c", "b", "a"],
    );
  });

  it("evicts the oldest finished job first when full", () => {
    const map = new JobMap(3, counter());
    map.applyAll([job("a"), job("b", { status: "completed" }), job("c"), job("d")]);
    assert.deepEqual(
      map.jobs().map((j) => j.jobId),
      ["d", "c", "a"],
    );
    map.apply(job("e"));
    assert.deepEqual(
      map.jobs().map((j) => j.jobId),
      ["e", "d", "c"],
    );
  });

  it("merges the lists of several channels by first sight", () => {
    const next = counter();
    const one = new JobMap(0, next);
    const two = new JobMap(0, next);
    one.apply(job("a"));
    two.apply(job("b"));
    one.apply(job("c"));
    assert.deepEqual(
      mergeNewestFirst([one.entries(), two.entries()]).map((j) => j.jobId),
      ["c", "b", "a"],
    );
  });
});
