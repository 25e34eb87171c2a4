// The key layout, the retention arithmetic and the coded errors of the job-state store.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  DEFAULT_HISTORY,
  ERROR_CODES,
  MemoryBus,
  StateError,
  StateErrorCode,
  channelKeys,
  channelOfShardedPubsub,
  decodeStates,
  keySlot,
  pubsubPattern,
  retainedSince,
  shardedPubsubChannel,
} from "../src/index.ts";

describe("keys", () => {
  test("names every key of a channel under its hash tag, with the default or a given prefix", () => {
    assert.deepEqual(channelKeys("file-upload"), {
      state: "jobchannel:{file-upload}:state",
      counter: "jobchannel:{file-upload}:counter",
      index: "jobchannel:{file-upload}:index",
      done: "jobchannel:{file-upload}:done",
      pubsub: "jobchannel:file-upload",
    });
    assert.deepEqual(channelKeys("a", "jc:"), {
      state: "jc:{a}:state",
      counter: "jc:{a}:counter",
      index: "jc:{a}:index",
      done: "jc:{a}:done",
      pubsub: "jc:a",
    });
    assert.equal(pubsubPattern(), "jobchannel:*");
    assert.equal(pubsubPattern("jc:"), "jc:*");
    assert.equal(shardedPubsubChannel("a", "jc:"), "jc:{a}");
  });

  test("reads a channel back from a sharded pub/sub name only when it is one", () => {
    assert.equal(channelOfShardedPubsub("jobchannel:{a}"), "a");
    assert.equal(channelOfShardedPubsub("jc:{a}", "jc:"), "a");
    assert.equal(channelOfShardedPubsub("jobchannel:{"), undefined);
    assert.equal(channelOfShardedPubsub("jobchannel:"), undefined);
    assert.equal(channelOfShardedPubsub("jobchannel:{a"), undefined);
    assert.equal(channelOfShardedPubsub("jobchannel:a}"), undefined);
    assert.equal(channelOfShardedPubsub("jc:{a}"), undefined);
  });
});

describe("keySlot", () => {
  /** CRC16-XMODEM bit by bit: an oracle independent of the table keySlot uses. */
  const crc16 = (text: string): number => {
    let crc = 0;
    for (const byte of Buffer.from(text)) {
      crc ^= byte << 8;
      for (let bit = 0; bit < 8; bit++)
        crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
    }
    return crc % 16384;
  };

  test("hashes the first non-empty {tag}, else the whole key, as Redis Cluster does", () => {
    const cases: [string, string][] = [
      ["a{}b", "a{}b"],
      ["a}b{c", "a}b{c"],
      ["ab}c", "ab}c"],
      ["x{y}z", "y"],
      ["{}{y}", "{}{y}"],
      ["{user1000}.following", "user1000"],
      ["é{ü}", "ü"],
      ["plain", "plain"],
    ];
    for (const [key, hashed] of cases) assert.equal(keySlot(key), crc16(hashed), key);
  });
});

describe("MemoryBus", () => {
  test("delivers to each listener until it unsubscribes, and counts the receivers", () => {
    const bus = new MemoryBus();
    const got: string[] = [];
    const off = bus.subscribe((channel, payload) => got.push(`${channel}=${payload}`));
    assert.equal(bus.publish("jobchannel:a", "1"), 1);
    off();
    assert.equal(bus.publish("jobchannel:a", "2"), 0);
    assert.deepEqual(got, ["jobchannel:a=1"]);
  });
});

describe("history", () => {
  test("keeps what is newer than ttlSeconds, and everything when ttlSeconds is 0", () => {
    assert.equal(retainedSince({ maxJobs: 1, ttlSeconds: 10 }, 100_000), 90_000);
    assert.equal(retainedSince({ maxJobs: 1, ttlSeconds: 0 }, 100_000), 0);
    assert.equal(retainedSince({ maxJobs: 1, ttlSeconds: -5 }, 100_000), 0);
    assert.deepEqual(DEFAULT_HISTORY, { maxJobs: 1000, ttlSeconds: 86400 });
    assert.ok(Object.isFrozen(DEFAULT_HISTORY));
  });
});

describe("errors", () => {
  test("lists its codes with descriptions, and makes errors that carry code and field", () => {
    assert.deepEqual(
      ERROR_CODES.map((e) => e.code),
      ["invalid_update", "invalid_channel"],
    );
    for (const { description } of ERROR_CODES) assert.match(description, /nothing was written\.$/);
    const e = new StateError(StateErrorCode.InvalidChannel, "bad name", "channel");
    assert.equal(e.name, "StateError");
    assert.equal(e.message, "bad name");
    assert.deepEqual([e.code, e.field], ["invalid_channel", "channel"]);
    assert.equal(new StateError(StateErrorCode.InvalidUpdate, "x").field, "");
  });
});

describe("channelOfShardedPubsub, at the edges", () => {
  test("reads only names that start with the prefix, and an empty hash tag as the empty name", () => {
    assert.equal(channelOfShardedPubsub("jobchannelX{a}"), undefined);
    assert.equal(channelOfShardedPubsub("jc:{a}", "jc:"), "a");
    assert.equal(channelOfShardedPubsub("xx:{a}", "jc:"), undefined);
    assert.equal(channelOfShardedPubsub("jobchannel:{}"), "");
  });
});

describe("decodeStates", () => {
  test("keeps valid updates and skips missing, corrupt and invalid ones", () => {
    const valid = { jobId: "a", status: "queued", timestamp: 1, seq: 2 };
    assert.deepEqual(
      decodeStates([null, "not json", '{"jobId":"b"}', JSON.stringify(valid), "null"]),
      [valid],
    );
  });
});
