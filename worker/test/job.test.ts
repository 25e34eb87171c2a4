import assert from "node:assert/strict";
import { test } from "node:test";
import { defineJob, invalidInput } from "../src/job.ts";

test("refuses a job type whose name is not a channel name", () => {
  assert.throws(
    () => defineJob({ name: "Bad Name", parseInput: () => ({}), handler: async () => 1 }),
    { code: "invalid_config" },
  );
});

test("returns a frozen definition", () => {
  const job = defineJob({ name: "ok", parseInput: () => ({}), handler: async () => 1 });
  assert.ok(Object.isFrozen(job));
});

test("makes a 400 invalid_input error naming the field", () => {
  const e = invalidInput("limit", "must be a number");
  assert.equal(e.status, 400);
  assert.equal(e.code, "invalid_input");
  assert.equal(e.field, "limit");
});
