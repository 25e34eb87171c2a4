// Tests of a slow connection's send queue: progress collapses, terminal updates never drop.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { JobStatus } from "@jobchannel/protocol";
import { SendQueue } from "../src/send-queue.ts";
import { jobFrame, textFrame, type OutboundFrame } from "../src/wire.ts";

function update(jobId: string, seq: number, status: JobStatus = "processing"): OutboundFrame {
  return jobFrame({ jobId, seq, status, progress: seq, timestamp: 1000 + seq, channel: "c" }, "c");
}

function drain(queue: SendQueue): OutboundFrame[] {
  const out: OutboundFrame[] = [];
  for (let f = queue.shift(); f; f = queue.shift()) out.push(f);
  return out;
}

describe("SendQueue", () => {
  test("collapses queued progress updates of one job to the latest, in place", () => {
    const queue = new SendQueue();
    assert.equal(queue.push(update("a", 1)), false);
    assert.equal(queue.push(update("b", 1)), false);
    assert.equal(queue.push(update("a", 2)), true);
    assert.equal(queue.push(update("a", 3)), true);
    assert.equal(queue.length, 2);
    assert.deepEqual(
      drain(queue).map((f) => [f.jobId, f.seq]),
      [
        ["a", 3],
        ["b", 1],
      ],
    );
    assert.equal(queue.bytes, 0);
  });

  test("never drops a terminal update", () => {
    const queue = new SendQueue();
    queue.push(update("a", 1));
    assert.equal(queue.push(update("a", 2, "completed")), true);
    assert.equal(queue.push(update("b", 1, "failed")), false);
    assert.equal(queue.push(update("b", 2, "processing")), false);
    const out = drain(queue);
    assert.deepEqual(
      out.map((f) => [f.jobId, f.seq, f.terminal]),
      [
        ["a", 2, true],
        ["b", 1, true],
        ["b", 2, false],
      ],
    );
  });

  test("queues a job's update after its terminal one instead of replacing it", () => {
    const queue = new SendQueue();
    queue.push(update("a", 1));
    assert.equal(queue.push(update("a", 2, "completed")), true);
    assert.equal(queue.push(update("a", 3)), false);
    assert.equal(queue.push(update("a", 4)), true, "the later progress updates collapse again");
    assert.deepEqual(
      drain(queue).map((f) => [f.seq, f.terminal]),
      [
        [2, true],
        [4, false],
      ],
    );
  });

  test("keeps collapsing a job's queued progress when its earlier terminal update is taken", () => {
    const queue = new SendQueue();
    queue.push(update("a", 1, "failed"));
    queue.push(update("a", 2));
    assert.equal(queue.shift()?.seq, 1);
    assert.equal(queue.push(update("a", 3)), true);
    assert.deepEqual(
      drain(queue).map((f) => f.seq),
      [3],
    );
  });

  test("queues a job's update anew once its queued one was taken", () => {
    const queue = new SendQueue();
    queue.push(update("a", 1));
    queue.push(update("b", 1));
    assert.equal(queue.shift()?.seq, 1);
    assert.equal(queue.push(update("a", 2)), false);
    assert.equal(queue.length, 2);
    assert.deepEqual(
      drain(queue).map((f) => [f.jobId, f.seq]),
      [
        ["b", 1],
        ["a", 2],
      ],
    );
  });

  test("collapses by channel and job: the same job id on two channels is two jobs", () => {
    const queue = new SendQueue();
    const on = (channel: string, seq: number) =>
      jobFrame({ jobId: "a", seq, status: "processing", timestamp: 1, channel }, channel);
    queue.push(on("c1", 1));
    assert.equal(queue.push(on("c2", 1)), false);
    assert.equal(queue.length, 2);
  });

  test("never collapses control frames", () => {
    const queue = new SendQueue();
    queue.push(textFrame('{"type":"subscribed","channel":"c","jobs":[]}'));
    queue.push(textFrame('{"type":"subscribed","channel":"c","jobs":[]}'));
    assert.equal(queue.length, 2);
  });

  test("counts bytes as frames are queued, replaced and taken", () => {
    const queue = new SendQueue();
    const small = update("a", 1);
    const big = jobFrame(
      { jobId: "a", seq: 2, status: "processing", timestamp: 1, note: "x".repeat(500) },
      "c",
    );
    queue.push(small);
    assert.equal(queue.bytes, small.bytes.length);
    queue.push(big);
    assert.equal(queue.bytes, big.bytes.length);
    queue.shift();
    assert.equal(queue.bytes, 0);
    assert.equal(queue.shift(), undefined);
  });

  test("keeps collapsing right after compacting a long queue", () => {
    const queue = new SendQueue();
    for (let i = 0; i < 5000; i++) queue.push(update(`job-${i}`, 1));
    for (let i = 0; i < 3000; i++) queue.shift();
    assert.equal(queue.push(update("job-4000", 2)), true);
    const rest = drain(queue);
    assert.equal(rest.length, 2000);
    assert.equal(rest[1000]!.seq, 2);
    assert.equal(rest[1000]!.jobId, "job-4000");
  });
});
