// The shared broker suite on the Redis backend (a real redis-server), plus the watchdog.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { startRedis, waitFor, type TestRedis } from "@jobchannel/testkit";
import { Redis } from "ioredis";
import pino from "pino";
import type { Broker } from "../src/broker.ts";
import { createRedisBroker } from "../src/broker-redis.ts";
import { brokerSuite } from "./helpers/broker-suite.ts";

const logger = pino({ level: "silent" });

brokerSuite("redis", async () => {
  const redis = await startRedis();
  const publisher = new Redis(redis.url);
  return {
    create: () =>
      createRedisBroker({
        url: redis.url,
        logger,
        watchdogIntervalMs: 100,
        watchdogTimeoutMs: 1000,
      }),
    publish: async (channel, payload) => void (await publisher.publish(channel, payload)),
    teardown: async () => {
      publisher.disconnect();
      await redis.stop();
    },
  };
});

describe("redis broker watchdog", () => {
  let redis: TestRedis;
  let broker: Broker;
  const health: boolean[] = [];
  const received: string[] = [];

  before(async () => {
    redis = await startRedis();
    broker = createRedisBroker({
      url: redis.url,
      logger,
      watchdogIntervalMs: 100,
      watchdogTimeoutMs: 600,
    });
    await broker.start({ message: (c) => received.push(c), health: (up) => health.push(up) });
    await waitFor(() => broker.healthy(), { what: "a live subscription" });
  });

  after(async () => {
    await broker.close();
    await redis.stop();
  });

  test("holds exactly one pattern subscription and never passes canaries on", async () => {
    const probe = new Redis(redis.url);
    try {
      assert.equal(await probe.call("PUBSUB", "NUMPAT"), 1);
      await new Promise((r) => setTimeout(r, 300));
      assert.deepEqual(received, []);
    } finally {
      probe.disconnect();
    }
  });

  test("notices a silent subscription through the canary and recovers", async () => {
    const probe = new Redis(redis.url);
    const pid = Number(/process_id:(\d+)/.exec(await probe.info("server"))?.[1]);
    probe.disconnect();
    assert.ok(pid > 0);
    // A stopped server keeps every connection open but answers nothing: only the canary can tell.
    process.kill(pid, "SIGSTOP");
    try {
      await waitFor(() => !broker.healthy(), { what: "the watchdog to notice", timeoutMs: 5000 });
    } finally {
      process.kill(pid, "SIGCONT");
    }
    await waitFor(() => broker.healthy(), { what: "the broker to recover", timeoutMs: 10_000 });
    const after = new Redis(redis.url);
    try {
      await after.publish("jobchannel:after", "x");
      await waitFor(() => received.includes("after"), { what: "delivery after recovery" });
    } finally {
      after.disconnect();
    }
  });

  test("survives a Redis restart on the same port", async () => {
    await redis.kill();
    await waitFor(() => !broker.healthy(), { what: "unhealthy while Redis is down" });
    await redis.start();
    await waitFor(() => broker.healthy(), { what: "healthy after restart", timeoutMs: 15_000 });
    const probe = new Redis(redis.url);
    try {
      await probe.publish("jobchannel:restarted", "x");
      await waitFor(() => received.includes("restarted"), { what: "delivery after restart" });
    } finally {
      probe.disconnect();
    }
  });
});
