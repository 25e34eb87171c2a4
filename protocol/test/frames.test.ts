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
  validateServerFrame,
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

describe("refusal messages and bounds", () => {
  const problem = (result: { ok: boolean; error?: { message: string } }) =>
    result.ok ? "ok" : result.error!.message;
  const channels = (n: number) => Array.from({ length: n }, (_, i) => `c${i}`);

  test("names what is wrong with a client frame", () => {
    const cases: [unknown, string][] = [
      [[1], "a frame must be a JSON object, got array"],
      [null, "a frame must be a JSON object, got null"],
      ["subscribe", "a frame must be a JSON object, got string"],
      [{}, "type: is required"],
      [{ type: 7 }, "type: must be a string, got number"],
      [
        { type: "publish" },
        "type: unknown frame type; expected one of subscribe, unsubscribe, auth",
      ],
      [
        { type: "subscribe", channels: "a" },
        "channels: must be an array of channel names, got string",
      ],
      [{ type: "subscribe", channels: [] }, "channels: must name at least one channel"],
      [{ type: "subscribe", channels: channels(101) }, "channels: must name at most 100 channels"],
      [{ type: "auth", token: "" }, "token: must be a non-empty string"],
      [{ type: "auth", token: "t".repeat(8193) }, "token: must be at most 8192 characters"],
    ];
    for (const [value, message] of cases)
      assert.equal(
        problem(validateClientFrame(value)),
        message,
        JSON.stringify(value).slice(0, 60),
      );
  });

  test("accepts a frame at each bound", () => {
    assert.equal(
      problem(validateClientFrame({ type: "subscribe", channels: channels(100) })),
      "ok",
    );
    assert.equal(problem(validateClientFrame({ type: "auth", token: "t".repeat(8192) })), "ok");
  });

  test("names what is wrong with a relay frame, down to the field of a job inside it", () => {
    const job = { jobId: "a", status: "queued", timestamp: 1 };
    const cases: [unknown, string][] = [
      [[], "a frame must be a JSON object, got array"],
      [{ type: 1 }, "type: must be a string, got number"],
      [
        { type: "publish" },
        "type: unknown frame type; expected one of subscribed, job, unsubscribed, error, heartbeat",
      ],
      [{ type: "subscribed", channel: 1, jobs: [] }, "channel: must be a string"],
      [{ type: "subscribed", channel: "c", jobs: {} }, "jobs: must be an array"],
      [
        { type: "subscribed", channel: "c", jobs: [job, { ...job, status: "x" }] },
        "jobs[1].status: must be one of queued, processing, completed, failed",
      ],
      [
        { type: "subscribed", channel: "c", jobs: [job, 5] },
        "jobs[1]: a job update must be a JSON object, got number",
      ],
      [{ type: "job", job: { ...job, seq: 0 } }, "job.seq: must be an integer of at least 1"],
      [{ type: "job", job: "x" }, "job: a job update must be a JSON object, got string"],
      [{ type: "unsubscribed", channel: null }, "channel: must be a string"],
      [{ type: "error", code: 3 }, "code: must be a string"],
    ];
    for (const [value, message] of cases)
      assert.equal(problem(validateServerFrame(value)), message, JSON.stringify(value));
  });

  test("fills a missing reason or message with an empty string and keeps a given one", () => {
    assert.deepEqual(validateServerFrame({ type: "unsubscribed", channel: "c", reason: 5 }), {
      ok: true,
      value: { type: "unsubscribed", channel: "c", reason: "" },
    });
    assert.deepEqual(validateServerFrame({ type: "unsubscribed", channel: "c", reason: "gone" }), {
      ok: true,
      value: { type: "unsubscribed", channel: "c", reason: "gone" },
    });
    assert.deepEqual(validateServerFrame({ type: "error", code: "forbidden", message: [] }), {
      ok: true,
      value: { type: "error", code: "forbidden", message: "" },
    });
    assert.deepEqual(
      validateServerFrame({ type: "error", code: "forbidden", message: "no", channel: "c" }),
      {
        ok: true,
        value: { type: "error", code: "forbidden", message: "no", channel: "c" },
      },
    );
  });

  test("parses relay frames up to 16 MiB and client frames up to 16 KiB by default", () => {
    const big = JSON.stringify({ type: "error", code: "x", message: "m".repeat(100_000) });
    assert.equal(problem(parseServerFrame(big)), "ok");
    assert.equal(problem(parseServerFrame(big, { maxBytes: 1000 })).startsWith("message is"), true);
    // Padded with JSON whitespace to an exact size.
    const client = (bytes: number) => '{"type":"auth","token":"t"}'.padEnd(bytes, " ");
    assert.equal(client(16384).length, 16384);
    assert.equal(problem(parseClientFrame(client(16384))), "ok");
    assert.match(problem(parseClientFrame(client(16385))), /^message is 16385 bytes/);
  });

  test("builds error frames with the channel only when given", () => {
    assert.deepEqual(errorFrame("forbidden", "no"), {
      type: "error",
      code: "forbidden",
      message: "no",
    });
    assert.deepEqual(errorFrame("forbidden", "no", "c"), {
      type: "error",
      code: "forbidden",
      message: "no",
      channel: "c",
    });
  });
});
