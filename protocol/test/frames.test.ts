// Tests of the WebSocket frame validators (design section 4).
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  SERVER_FRAME_TYPES,
  errorFrame,
  heartbeatFrame,
  parseClientFrame,
  parseServerFrame,
  validateClientFrame,
} from "../src/frames.ts";

describe("client frames", () => {
  test("accepts subscribe, unsubscribe and auth as the contract shows them", () => {
    assert.deepEqual(parseClientFrame('{"type":"subscribe","channels":["file-upload"]}'), {
      ok: true,
      value: { type: "subscribe", channels: ["file-upload"] },
    });
    assert.deepEqual(parseClientFrame('{"type":"unsubscribe","channels":["file-upload"]}'), {
      ok: true,
      value: { type: "unsubscribe", channels: ["file-upload"] },
    });
    assert.deepEqual(parseClientFrame('{"type":"auth","token":"abc"}'), {
      ok: true,
      value: { type: "auth", token: "abc" },
    });
  });

  test("removes duplicate channels", () => {
    const result = validateClientFrame({ type: "subscribe", channels: ["a", "a", "b"] });
    assert.ok(result.ok);
    assert.deepEqual(result.value, { type: "subscribe", channels: ["a", "b"] });
  });

  test("refuses unknown types and missing types", () => {
    const unknown = validateClientFrame({ type: "publish", channels: ["a"] });
    assert.ok(!unknown.ok);
    assert.equal(unknown.error.field, "type");
    assert.match(unknown.error.message, /unknown frame type/);
    const missing = validateClientFrame({ channels: ["a"] });
    assert.ok(!missing.ok);
    assert.equal(missing.error.field, "type");
  });

  test("refuses invalid channel names, naming the index", () => {
    for (const name of ["File-Upload", "-a", "a-", "a_b", "", "a".repeat(64), 5]) {
      const result = validateClientFrame({ type: "subscribe", channels: ["ok", name] });
      assert.ok(!result.ok, String(name));
      assert.equal(result.error.field, "channels[1]");
    }
  });

  test("refuses a channel list that is not an array, empty, or too long", () => {
    for (const channels of ["a", [], Array.from({ length: 101 }, (_, i) => `c${i}`), null]) {
      const result = validateClientFrame({ type: "subscribe", channels });
      assert.ok(!result.ok);
      assert.equal(result.error.field, "channels");
    }
  });

  test("refuses an auth frame without a usable token", () => {
    for (const token of [undefined, "", 5, "t".repeat(8193)]) {
      const result = validateClientFrame({ type: "auth", token });
      assert.ok(!result.ok);
      assert.equal(result.error.field, "token");
    }
  });

  test("refuses non-JSON, non-objects, oversized and polluting frames", () => {
    for (const text of ["nope", "[]", "null", "42", '"subscribe"']) {
      const result = parseClientFrame(text);
      assert.ok(!result.ok, text);
      assert.equal(result.error.code, "bad_request");
    }
    const big = JSON.stringify({ type: "auth", token: "t".repeat(20_000) });
    const tooBig = parseClientFrame(big);
    assert.ok(!tooBig.ok);
    assert.match(tooBig.error.message, /larger than the limit/);
    const polluted = parseClientFrame('{"type":"subscribe","channels":["a"],"__proto__":{}}');
    assert.ok(!polluted.ok);
  });
});

describe("relay frames", () => {
  test("validates each relay frame type", () => {
    const job = { jobId: "j", status: "queued", timestamp: 1, channel: "a" };
    for (const frame of [
      { type: "subscribed", channel: "a", jobs: [job] },
      { type: "job", job },
      { type: "unsubscribed", channel: "a", reason: "channel removed" },
      errorFrame("forbidden", "not allowed", "a"),
      errorFrame("bad_request", "bad"),
      heartbeatFrame(25_000),
    ]) {
      const result = parseServerFrame(JSON.stringify(frame));
      assert.ok(result.ok, JSON.stringify(frame));
      assert.deepEqual(result.value, frame);
    }
  });

  test("names the bad job inside a snapshot", () => {
    const result = parseServerFrame(
      JSON.stringify({
        type: "subscribed",
        channel: "a",
        jobs: [{ jobId: "j", status: "x", timestamp: 1 }],
      }),
    );
    assert.ok(!result.ok);
    assert.equal(result.error.field, "jobs[0].status");
  });

  test("refuses a job frame whose job is invalid", () => {
    const result = parseServerFrame('{"type":"job","job":{"jobId":"j","timestamp":1}}');
    assert.ok(!result.ok);
    assert.equal(result.error.field, "job.status");
  });
});

describe("heartbeat frames", () => {
  test("encodes the contract's shape, with the default interval when none is given", () => {
    assert.equal(JSON.stringify(heartbeatFrame(150)), '{"type":"heartbeat","interval":150}');
    assert.deepEqual(heartbeatFrame(), { type: "heartbeat", interval: 25_000 });
    assert.ok(SERVER_FRAME_TYPES.includes("heartbeat"));
  });

  test("accepts intervals from 1 ms to one hour", () => {
    for (const interval of [1, 100, 25_000, 3_600_000]) {
      assert.deepEqual(parseServerFrame(JSON.stringify({ type: "heartbeat", interval })), {
        ok: true,
        value: { type: "heartbeat", interval },
      });
    }
  });

  test("refuses a missing, fractional, non-positive or too large interval", () => {
    for (const interval of [undefined, "25000", 0, -5, 1.5, 3_600_001, null]) {
      const result = parseServerFrame(JSON.stringify({ type: "heartbeat", interval }));
      assert.ok(!result.ok, String(interval));
      assert.equal(result.error.field, "interval");
    }
  });

  test("drops fields it does not know", () => {
    const result = parseServerFrame('{"type":"heartbeat","interval":100,"at":5}');
    assert.ok(result.ok);
    assert.deepEqual(result.value, { type: "heartbeat", interval: 100 });
  });
});
