// Tests of the error-code table against docs/errors.md, and of the ProtocolError shape.
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { ERROR_CODES, ErrorCode, ProtocolError, badRequest } from "../src/errors.ts";

/** docs/errors.md of the checkout, found upwards (the tests may run from a copy of protocol/ inside it). */
function errorsDoc(): string {
  for (let dir = import.meta.dirname; dir !== dirname(dir); dir = dirname(dir)) {
    const file = join(dir, "docs", "errors.md");
    if (existsSync(file)) return readFileSync(file, "utf8");
  }
  throw new Error("docs/errors.md not found above the test");
}

const doc = errorsDoc();

test("lists every error code once, each with the description docs/errors.md opens its row with", () => {
  assert.deepEqual(
    ERROR_CODES.map((e) => e.code),
    Object.values(ErrorCode),
  );
  for (const { code, description } of ERROR_CODES) {
    assert.ok(description.length > 20, `${code} has a description`);
    const row = doc.split("\n").find((line) => line.startsWith(`| \`${code}\` | `));
    assert.ok(row?.startsWith(`| \`${code}\` | ${description}`), `${code}: ${row}`);
  }
});

test("makes coded errors that name the field in the message", () => {
  const e = badRequest("channels[1]", "must be a DNS label");
  assert.ok(e instanceof ProtocolError);
  assert.equal(e.name, "ProtocolError");
  assert.equal(e.code, "bad_request");
  assert.equal(e.field, "channels[1]");
  assert.equal(e.message, "channels[1]: must be a DNS label");
  assert.equal(badRequest("", "whole message").message, "whole message");
});
