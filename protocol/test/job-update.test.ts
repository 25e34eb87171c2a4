// Tests of the job update validator: every rule of design section 2, and hostile input.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { parseJobUpdate, validateJobUpdate, type JobUpdate } from "../src/job-update.ts";
import { isJobStatus, isTerminalStatus } from "../src/job-update.ts";

const base = { jobId: "job-1", status: "processing", progress: 50, timestamp: 1764108000000 };

function refused(value: unknown): { code: string; field: string; message: string } {
  const result = validateJobUpdate(value);
  assert.equal(result.ok, false, `expected ${JSON.stringify(value)} to be refused`);
  return result.ok ? { code: "", field: "", message: "" } : result.error;
}

describe("validateJobUpdate", () => {
  test("accepts the original guide's message format unchanged, custom fields included", () => {
    const guide = { ...base, channel: "file-upload", customField: "x", nested: { a: [1, 2] } };
    const result = validateJobUpdate(guide);
    assert.ok(result.ok);
    assert.deepEqual(result.value, guide);
  });

  test("accepts every status", () => {
    for (const status of ["queued", "processing", "completed", "failed"]) {
      assert.ok(validateJobUpdate({ ...base, status }).ok, status);
    }
  });

  test("accepts the optional fields with valid values", () => {
    const full = { ...base, userId: "123", seq: 7, error: "boom", progress: 0 };
    assert.ok(validateJobUpdate(full).ok);
    assert.ok(validateJobUpdate({ ...base, progress: 100 }).ok);
    const { progress: _p, ...noProgress } = base;
    assert.ok(validateJobUpdate(noProgress).ok);
  });

  test("refuses a missing required field, naming it", () => {
    for (const field of ["jobId", "status", "timestamp"]) {
      const { [field]: _omit, ...rest } = base as Record<string, unknown>;
      const error = refused(rest);
      assert.equal(error.code, "bad_request");
      assert.equal(error.field, field);
      assert.match(error.message, /is required/);
    }
  });

  test("refuses wrong types, naming the field and the type found", () => {
    const cases: [string, unknown][] = [
      ["jobId", 42],
      ["status", 1],
      ["timestamp", "now"],
      ["progress", "50"],
      ["userId", 123],
      ["seq", "1"],
      ["error", { message: "x" }],
      ["channel", 5],
    ];
    for (const [field, value] of cases) {
      const error = refused({ ...base, [field]: value });
      assert.equal(error.field, field, `${field}: ${error.message}`);
      assert.equal(error.code, "bad_request");
    }
  });

  test("refuses out-of-range values", () => {
    assert.equal(refused({ ...base, jobId: "" }).field, "jobId");
    assert.equal(refused({ ...base, jobId: "x".repeat(129) }).field, "jobId");
    assert.ok(validateJobUpdate({ ...base, jobId: "x".repeat(128) }).ok);
    assert.equal(refused({ ...base, status: "running" }).field, "status");
    assert.equal(refused({ ...base, progress: -1 }).field, "progress");
    assert.equal(refused({ ...base, progress: 100.5 }).field, "progress");
    assert.equal(refused({ ...base, progress: Number.NaN }).field, "progress");
    assert.equal(refused({ ...base, timestamp: 1.5 }).field, "timestamp");
    assert.equal(refused({ ...base, timestamp: -1 }).field, "timestamp");
    assert.equal(refused({ ...base, seq: 0 }).field, "seq");
    assert.equal(refused({ ...base, seq: 2.5 }).field, "seq");
    assert.equal(refused({ ...base, userId: "" }).field, "userId");
  });

  test("refuses values that are not objects", () => {
    for (const value of [null, 1, "x", [base], true, undefined]) {
      const error = refused(value);
      assert.equal(error.field, "");
      assert.match(error.message, /must be a JSON object/);
    }
  });

  test("treats completed and failed as terminal", () => {
    assert.equal(isTerminalStatus("completed"), true);
    assert.equal(isTerminalStatus("failed"), true);
    assert.equal(isTerminalStatus("queued"), false);
    assert.equal(isTerminalStatus("processing"), false);
  });
});

describe("parseJobUpdate", () => {
  test("decodes a raw publish of the guide's JSON", () => {
    const text = JSON.stringify({ ...base, fileName: "test.pdf" });
    const result = parseJobUpdate(text);
    assert.ok(result.ok);
    assert.equal((result.value as JobUpdate<{ fileName: string }>).fileName, "test.pdf");
  });

  test("refuses non-JSON with a readable reason", () => {
    for (const text of ["", "{", "not json", "{'a':1}", "\u0000"]) {
      const result = parseJobUpdate(text);
      assert.ok(!result.ok);
      assert.equal(result.error.code, "bad_request");
      assert.match(result.error.message, /not valid JSON/);
    }
  });

  test("refuses a message over the size limit before parsing it", () => {
    const huge = JSON.stringify({ ...base, blob: "x".repeat(70_000) });
    const result = parseJobUpdate(huge);
    assert.ok(!result.ok);
    assert.match(result.error.message, /larger than the limit of 65536/);
    assert.ok(parseJobUpdate(huge, { maxBytes: 100_000 }).ok);
  });

  test("counts multi-byte characters as UTF-8 bytes for the limit", () => {
    const text = JSON.stringify({ ...base, note: "é".repeat(40) });
    assert.ok(parseJobUpdate(text, { maxBytes: text.length + 40 }).ok);
    assert.ok(!parseJobUpdate(text, { maxBytes: text.length + 39 }).ok);
  });

  test("refuses deep nesting without exhausting the stack", () => {
    const deep = "[".repeat(100_000) + "]".repeat(100_000);
    const text = `{"jobId":"a","status":"queued","timestamp":1,"x":${deep}}`;
    const result = parseJobUpdate(text, { maxBytes: 1_000_000 });
    assert.ok(!result.ok);
    assert.match(result.error.message, /nesting is deeper than 32/);
  });

  test("refuses prototype-pollution keys anywhere", () => {
    const texts = [
      `{"jobId":"a","status":"queued","timestamp":1,"__proto__":{"polluted":true}}`,
      `{"jobId":"a","status":"queued","timestamp":1,"meta":{"__proto__":{"polluted":true}}}`,
      `{"jobId":"a","status":"queued","timestamp":1,"constructor":{"prototype":{"polluted":true}}}`,
    ];
    for (const text of texts) {
      const result = parseJobUpdate(text);
      assert.ok(!result.ok, text);
      assert.match(result.error.message, /not allowed/);
    }
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });

  test("accepts huge strings within the limit", () => {
    const text = JSON.stringify({ ...base, jobId: "j", blob: "y".repeat(60_000) });
    assert.ok(parseJobUpdate(text).ok);
  });
});

describe("validateJobUpdate's messages and bounds", () => {
  const message = (value: unknown) => {
    const result = validateJobUpdate(value);
    return result.ok ? "ok" : result.error.message;
  };

  test("names each problem as a person can act on it", () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ jobId: 42 }, "jobId: must be a string, got number"],
      [{ jobId: "x".repeat(129) }, "jobId: must be 1-128 characters, got 129"],
      [{ status: "running" }, "status: must be one of queued, processing, completed, failed"],
      [{ status: 3 }, "status: must be one of queued, processing, completed, failed"],
      [{ timestamp: -1 }, "timestamp: must be a non-negative integer of Unix milliseconds"],
      [{ timestamp: "1" }, "timestamp: must be a non-negative integer of Unix milliseconds"],
      [{ timestamp: 2 ** 53 }, "timestamp: must be a non-negative integer of Unix milliseconds"],
      [{ progress: "5" }, "progress: must be a number, got string"],
      [{ progress: Number.POSITIVE_INFINITY }, "progress: must be a number, got number"],
      [{ progress: 101 }, "progress: must be between 0 and 100, got 101"],
      [{ userId: null }, "userId: must be a string, got null"],
      [{ userId: "u".repeat(257) }, "userId: must be 1-256 characters"],
      [{ userId: "" }, "userId: must be 1-256 characters"],
      [{ seq: 0 }, "seq: must be an integer of at least 1"],
      [{ seq: "2" }, "seq: must be an integer of at least 1"],
      [{ seq: 2 ** 53 }, "seq: must be an integer of at least 1"],
      [{ error: ["x"] }, "error: must be a string, got array"],
      [{ channel: 5 }, "channel: must be a string, got number"],
    ];
    for (const [fields, expected] of cases)
      assert.equal(message({ ...base, ...fields }), expected, JSON.stringify(fields).slice(0, 60));
  });

  test("accepts every field at its bound", () => {
    for (const fields of [
      { timestamp: 0 },
      { progress: 0 },
      { progress: 100 },
      { seq: 1 },
      { seq: Number.MAX_SAFE_INTEGER },
      { userId: "u" },
      { userId: "u".repeat(256) },
      { jobId: "j" },
    ])
      assert.equal(message({ ...base, ...fields }), "ok", JSON.stringify(fields));
  });

  test("takes only the listed statuses, and only as strings", () => {
    assert.equal(isJobStatus("queued"), true);
    assert.equal(isJobStatus(["queued"]), false);
    assert.equal(isJobStatus("Queued"), false);
  });
});
