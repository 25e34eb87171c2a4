// The coded error a call throws, for assertions on its code and field.
import assert from "node:assert/strict";
import { RelayError } from "../../src/errors.ts";

export function relayErrorOf(call: () => unknown): RelayError {
  try {
    call();
  } catch (e) {
    assert.ok(e instanceof RelayError, `expected a RelayError, got ${String(e)}`);
    return e;
  }
  assert.fail("no error was thrown");
}
