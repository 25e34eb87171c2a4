// Tests of frames built once for every recipient.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { jobFrame, wireFrame } from "../src/wire.ts";

function payloadOf(frame: Buffer): string {
  const length = frame[1]! & 0x7f;
  const offset = length === 126 ? 4 : length === 127 ? 10 : 2;
  return frame.subarray(offset).toString("utf8");
}

describe("wire frames", () => {
  test("builds an unmasked final text frame for short, medium and long payloads", () => {
    for (const size of [5, 300, 70_000]) {
      const payload = Buffer.from("y".repeat(size));
      const frame = wireFrame(payload);
      assert.equal(frame[0], 0x81);
      assert.equal(frame[1]! & 0x80, 0, "server frames are not masked");
      assert.equal(payloadOf(frame), payload.toString());
    }
  });

  test("wraps an update in a job frame and marks terminal statuses", () => {
    const frame = jobFrame(
      { jobId: "j", status: "completed", timestamp: 5, seq: 2, channel: "c", extra: { a: 1 } },
      "c",
    );
    assert.deepEqual(JSON.parse(payloadOf(frame.bytes)), {
      type: "job",
      job: { jobId: "j", status: "completed", timestamp: 5, seq: 2, channel: "c", extra: { a: 1 } },
    });
    assert.equal(frame.terminal, true);
    assert.equal(frame.key, "c\0j");
  });
});
