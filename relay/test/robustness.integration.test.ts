// The relay under stress on a real redis-server: slow consumers, Redis restarts, and the limits
// that protect it (frame size, rate, origin, heartbeat, connection count).
import assert from "node:assert/strict";
import type { Socket } from "node:net";
import { before, describe, test } from "node:test";
import { waitFor } from "@jobchannel/testkit";
import { parseChannelConfig } from "../src/channel-config.ts";
import { subscribed, type ConnectOptions, type TestClient } from "./helpers/client.ts";
import { relayFixture } from "./helpers/fixture.ts";
import { waitForReadiness } from "./helpers/readiness.ts";
import type { TestRelay } from "./helpers/relay.ts";

const CONFIG = parseChannelConfig('{"channels":[{"name":"load","access":"public"}]}');
const ORIGIN = "https://app.example.com";

const { relayWith, open: connectTo, redis } = relayFixture({ channels: CONFIG });

function open(relay: TestRelay, options: ConnectOptions = {}, query = ""): Promise<TestClient> {
  return connectTo(relay, query, options);
}

/** The raw socket under a ws client, to stop reading and play a slow consumer. */
function rawSocket(client: TestClient): Socket {
  return (client.ws as unknown as { _socket: Socket })._socket;
}

function update(jobId: string, i: number, status = "processing", pad = 0): string {
  return JSON.stringify({
    jobId,
    status,
    progress: i,
    timestamp: Date.now(),
    pad: "x".repeat(pad),
  });
}

async function metric(relay: TestRelay, pattern: RegExp): Promise<number> {
  return Number(pattern.exec(await relay.metrics())?.[1] ?? 0);
}

describe("slow consumers", () => {
  test("closes a client with 4000 when its queue passes the hard limit", async () => {
    const relay = await relayWith({
      limits: { sendBufferBytes: 16384, sendQueueLimitBytes: 256 * 1024 },
    });
    const slow = await open(relay, {}, "?channels=load");
    await subscribed(slow, "load");
    rawSocket(slow).pause();
    // Distinct jobs never collapse, so the queue only grows.
    for (let i = 0; i < 20; i++) {
      const batch = relay.redis.pipeline();
      for (let j = 0; j < 100; j++)
        batch.publish("jobchannel:load", update(`job-${i}-${j}`, 1, "processing", 8000));
      await batch.exec();
      if ((await metric(relay, /dropped_total\{reason="slow_consumer"\} (\d+)/)) > 0) break;
    }
    await waitFor(
      async () => (await metric(relay, /dropped_total\{reason="slow_consumer"\} (\d+)/)) > 0,
      {
        what: "the queue dropped",
      },
    );
    rawSocket(slow).resume();
    assert.equal((await slow.closed).code, 4000);
    await waitFor(
      async () => (await metric(relay, /disconnects_total\{code="4000"\} (\d+)/)) === 1,
      {
        what: "the 4000 close counted",
      },
    );
  });
});

describe("Redis restarts", () => {
  test("resumes delivery after Redis is killed and restarted, without restarting the relay; not ready meanwhile", async () => {
    const relay = await relayWith({});
    const client = await open(relay, {}, "?channels=load");
    await subscribed(client, "load");
    await relay.redis.publish("jobchannel:load", update("before", 1));
    await client.frame((f) => f.type === "job");

    await redis().kill();
    await waitForReadiness(relay.http, false, { what: "/readyz to fail" });
    assert.equal(await metric(relay, /^jobchannel_relay_redis_up (\d+)/m), 0);
    await redis().start();
    await waitForReadiness(relay.http, true, { what: "/readyz to recover", timeoutMs: 20_000 });
    assert.equal(await metric(relay, /^jobchannel_relay_redis_up (\d+)/m), 1);
    await waitFor(async () => (await relay.redis.ping()) === "PONG", {
      what: "the test's own connection",
    });
    await relay.redis.publish("jobchannel:load", update("after", 2));
    await client.frame((f) => f.type === "job" && (f.job as { jobId: string }).jobId === "after");
    assert.equal(client.ws.readyState, client.ws.OPEN);
  });
});

describe("limits", () => {
  let relay: TestRelay;
  before(async () => {
    relay = await relayWith({
      limits: { rateLimit: 5, rateLimitBurst: 5, maxFrameBytes: 4096 },
      allowedOrigins: [ORIGIN],
      heartbeatMs: 200,
    });
  });

  test("refuses an upgrade from an origin not on the allow-list", async () => {
    await assert.rejects(open(relay, { origin: "https://evil.example.com" }), /403/);
    await assert.rejects(open(relay), /403/);
    const allowed = await open(relay, { origin: ORIGIN });
    assert.equal(allowed.ws.readyState, allowed.ws.OPEN);
  });

  test("closes a frame over the size limit with 4413", async () => {
    const client = await open(relay, { origin: ORIGIN });
    client.ws.send(
      JSON.stringify({ type: "subscribe", channels: ["load"], pad: "x".repeat(5000) }),
    );
    assert.equal((await client.closed).code, 4413);
    await waitFor(
      async () => (await metric(relay, /disconnects_total\{code="4413"\} (\d+)/)) === 1,
      { what: "the 4413 counted" },
    );
  });

  test("answers rate_limited past the rate, then closes with 4400 if the flood goes on", async () => {
    const client = await open(relay, { origin: ORIGIN });
    for (let i = 0; i < 6; i++) client.send({ type: "unsubscribe", channels: ["load"] });
    const limited = await client.frame((f) => f.type === "error");
    assert.equal(limited.code, "rate_limited");
    for (let i = 0; i < 20; i++) client.send({ type: "unsubscribe", channels: ["load"] });
    assert.equal((await client.closed).code, 4400);
  });

  test("closes a client that stops answering pings with 4002", async () => {
    const client = await open(relay, { origin: ORIGIN, autoPong: false });
    assert.equal((await client.closed).code, 4002);
  });

  test("keeps a client that answers pings", async () => {
    const client = await open(relay, { origin: ORIGIN }, "?channels=load");
    await subscribed(client, "load");
    await new Promise((r) => setTimeout(r, 700));
    assert.equal(client.ws.readyState, client.ws.OPEN);
  });

  test("closes connections past the connection limit with 1013", async () => {
    const capped = await relayWith({ maxConnections: 1 });
    const first = await open(capped);
    const second = await open(capped);
    assert.equal((await second.closed).code, 1013);
    assert.equal(first.ws.readyState, first.ws.OPEN);
  });
});
