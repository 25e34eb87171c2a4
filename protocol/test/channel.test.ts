// Tests of the channel-name rule and the Redis channel mapping.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  channelFromRedis,
  channelNameProblem,
  isValidChannelName,
  redisChannelFor,
} from "../src/channel.ts";

test("accepts DNS labels", () => {
  for (const name of ["a", "file-upload", "job-updates", "a1", "0", "a".repeat(63)]) {
    assert.equal(isValidChannelName(name), true, name);
    assert.equal(channelNameProblem(name), undefined);
  }
});

test("refuses anything that is not a DNS label, saying why", () => {
  assert.match(channelNameProblem("")!, /must not be empty/);
  assert.match(channelNameProblem("a".repeat(64))!, /at most 63/);
  assert.match(channelNameProblem("Upper")!, /DNS label/);
  assert.match(channelNameProblem("a.b")!, /DNS label/);
  assert.match(channelNameProblem(7)!, /must be a string, got number/);
  assert.equal(isValidChannelName("-x"), false);
  assert.equal(isValidChannelName(null), false);
});

test("maps channels to Redis pub/sub names and back", () => {
  assert.equal(redisChannelFor("file-upload"), "jobchannel:file-upload");
  assert.equal(redisChannelFor("x", "app:"), "app:x");
  assert.equal(channelFromRedis("jobchannel:file-upload"), "file-upload");
  assert.equal(channelFromRedis("other:file-upload"), undefined);
  assert.equal(channelFromRedis("jobchannel:Bad_Name"), undefined);
});

test("takes only strings as channel names, and names the type of anything else", () => {
  assert.equal(isValidChannelName(["uploads"]), false);
  assert.equal(isValidChannelName({ length: 3 }), false);
  assert.equal(channelNameProblem(null), "must be a string, got null");
  assert.equal(channelNameProblem(["uploads"]), "must be a string, got array");
  assert.equal(channelNameProblem(3), "must be a string, got number");
});
