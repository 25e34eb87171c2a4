// Tests of the heartbeat interval's bounds and the client's dead-connection timeout.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  DEFAULT_HEARTBEAT_INTERVAL_MS,
  HEARTBEAT_TIMEOUT_SLACK_MS,
  MAX_HEARTBEAT_INTERVAL_MS,
  heartbeatIntervalProblem,
  heartbeatTimeoutMs,
} from "../src/index.ts";

test("defaults to 25 s, with a 1 s slack and a one hour ceiling", () => {
  assert.equal(DEFAULT_HEARTBEAT_INTERVAL_MS, 25_000);
  assert.equal(HEARTBEAT_TIMEOUT_SLACK_MS, 1_000);
  assert.equal(MAX_HEARTBEAT_INTERVAL_MS, 3_600_000);
});

test("counts two silent intervals plus the slack as a dead connection", () => {
  assert.equal(heartbeatTimeoutMs(DEFAULT_HEARTBEAT_INTERVAL_MS), 51_000);
  assert.equal(heartbeatTimeoutMs(100), 1_200);
  // The longest timeout still fits a browser timer (2^31 - 1 ms).
  assert.ok(heartbeatTimeoutMs(MAX_HEARTBEAT_INTERVAL_MS) < 2 ** 31 - 1);
});

test("names the problem of an interval a relay cannot announce", () => {
  assert.equal(heartbeatIntervalProblem(25_000), undefined);
  assert.match(heartbeatIntervalProblem("25000") ?? "", /integer/);
  assert.match(heartbeatIntervalProblem(Number.NaN) ?? "", /integer/);
  assert.match(heartbeatIntervalProblem(0) ?? "", /from 1 to 3600000/);
  assert.match(heartbeatIntervalProblem(3_600_001) ?? "", /from 1 to 3600000/);
});
