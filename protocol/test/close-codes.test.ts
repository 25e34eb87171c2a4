// Tests of the close-code table and the reconnect rule.
import assert from "node:assert/strict";
import { test } from "node:test";
import { CLOSE_CODES, CloseCode, closeCodeInfo, shouldReconnect } from "../src/close-codes.ts";

test("lists exactly the close codes of the contract", () => {
  assert.deepEqual(
    CLOSE_CODES.map((c) => c.code),
    [1001, 1011, 1013, 4000, 4001, 4002, 4400, 4401, 4403, 4413],
  );
});

test("reconnects below 4400 and not from 4400", () => {
  for (const code of [1000, 1001, 1006, 1011, 1013, 4000, 4001, 4002, 4399]) {
    assert.equal(shouldReconnect(code), true, String(code));
  }
  for (const code of [4400, 4401, 4403, 4413, 4999]) {
    assert.equal(shouldReconnect(code), false, String(code));
  }
});

test("describes each code and marks whether it reconnects", () => {
  assert.deepEqual(closeCodeInfo(CloseCode.TokenExpired), {
    code: 4001,
    name: "TokenExpired",
    reconnect: true,
    description: "token expired: refresh, then reconnect",
  });
  assert.equal(closeCodeInfo(CloseCode.FrameTooLarge)?.reconnect, false);
  assert.equal(closeCodeInfo(1234), undefined);
});

test("gives each code the meaning of the contract's table", () => {
  assert.deepEqual(Object.fromEntries(CLOSE_CODES.map((c) => [c.code, c.description])), {
    1001: "relay shutting down (drain)",
    1011: "internal error",
    1013: "overloaded, try later",
    4000: "slow consumer",
    4001: "token expired: refresh, then reconnect",
    4002: "heartbeat timeout",
    4400: "protocol violation",
    4401: "unauthorized",
    4403: "forbidden",
    4413: "frame too large",
  });
});
