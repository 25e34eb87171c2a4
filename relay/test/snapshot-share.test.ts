// Tests of shared snapshot reads: who joins a read, and what a late joiner's snapshot holds.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { JobUpdate } from "@jobchannel/protocol";
import { SnapshotShares } from "../src/snapshot-share.ts";

function job(jobId: string, seq: number, progress = 0): JobUpdate {
  return { jobId, seq, status: "processing", progress, timestamp: 1 };
}

/** Shares over a store whose reads the test answers by hand. */
function shares(windowMs = 1000): {
  shares: SnapshotShares;
  reads: string[];
  answer(jobs: JobUpdate[]): void;
} {
  const reads: string[] = [];
  const pending: ((jobs: JobUpdate[]) => void)[] = [];
  const s = new SnapshotShares({
    windowMs,
    read: (channel) => {
      reads.push(channel);
      return new Promise((resolve) => pending.push(resolve));
    },
  });
  s.setEnabled(true);
  return { shares: s, reads, answer: (jobs) => pending.shift()!(jobs) };
}

const ids = (jobs: JobUpdate[]): string[] => jobs.map((j) => `${j.jobId}@${j.seq}`);

describe("SnapshotShares", () => {
  test("serves a subscription joining a read in flight with the updates received since", async () => {
    const { shares: s, reads, answer } = shares();
    const first = s.join("c");
    s.record("c", job("a", 5), 10);
    const second = s.join("c");
    answer([job("a", 3), job("b", 4)]);
    assert.deepEqual(reads, ["c"]);
    assert.deepEqual(ids(await first.jobs), ["a@3", "b@4"]);
    // Job a moved last: the snapshot runs from the least to the most recently updated job.
    assert.deepEqual(ids(await second.jobs), ["b@4", "a@5"]);
  });

  test("reads again after the window, after forget, and while disabled", async () => {
    const { shares: s, reads, answer } = shares(0);
    const first = s.join("c");
    answer([]);
    await first.jobs;
    await new Promise((resolve) => setTimeout(resolve, 5));
    s.join("c");
    assert.equal(reads.length, 2);
    s.forget("c");
    s.join("c");
    assert.equal(reads.length, 3);
    s.setEnabled(false);
    s.join("d");
    s.join("d");
    assert.equal(reads.length, 5);
  });

  test("keeps no failed read for later subscriptions", async () => {
    const s = new SnapshotShares({ read: () => Promise.reject(new Error("down")) });
    s.setEnabled(true);
    await assert.rejects(s.join("c").jobs, /down/);
    await assert.rejects(s.join("c").jobs, /down/);
  });
});
