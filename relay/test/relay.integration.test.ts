// The relay against a real redis-server: delivery, snapshots, visibility, bad payloads, metrics.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { startRedis, waitFor, type TestRedis } from "@jobchannel/testkit";
import { parseChannelConfig } from "../src/channel-config.ts";
import { connect, subscribed, type TestClient } from "./helpers/client.ts";
import { startTestRelay, token, type TestRelay } from "./helpers/relay.ts";

const CONFIG = parseChannelConfig(
  JSON.stringify({
    channels: [
      { name: "file-upload", access: "public" },
      { name: "snapshots", access: "public" },
      { name: "stream", access: "public" },
      { name: "tiny", access: "public", maxMessageBytes: 256 },
      { name: "private-jobs", access: "authenticated", visibility: "user" },
    ],
  }),
);

describe("relay", () => {
  let redis: TestRedis;
  let relay: TestRelay;
  const clients: TestClient[] = [];
  const open = async (query = "", headers = {}): Promise<TestClient> => {
    const client = await connect(relay.url + query, { headers });
    clients.push(client);
    return client;
  };

  before(async () => {
    redis = await startRedis();
    relay = await startTestRelay({ redisUrl: redis.url, channels: CONFIG, secret: true });
    await waitFor(() => relay.relay.ready(), { what: "a ready relay" });
  });

  after(async () => {
    for (const c of clients) c.ws.terminate();
    await relay.close();
    await redis.stop();
  });

  test("delivers a raw PUBLISH of the original guide's JSON with the channel set", async () => {
    const client = await open();
    client.send({ type: "subscribe", channels: ["file-upload"] });
    assert.deepEqual((await subscribed(client, "file-upload")).jobs, []);
    const guide = {
      jobId: "3f1c2d4e-guide",
      timestamp: Date.now(),
      status: "processing",
      progress: 50,
      fileName: "test.pdf",
      channel: "a-publisher-value",
    };
    await relay.redis.publish("jobchannel:file-upload", JSON.stringify(guide));
    const frame = await client.frame((f) => f.type === "job");
    assert.deepEqual(frame, { type: "job", job: { ...guide, channel: "file-upload" } });
  });

  test("subscribes at connect time with ?channels=", async () => {
    const client = await open("?channels=file-upload,snapshots");
    await subscribed(client, "file-upload");
    await subscribed(client, "snapshots");
  });

  test("sends the five earlier updates in the snapshot, oldest first", async () => {
    const history = CONFIG.channels[1]!.history;
    const base = Date.now();
    for (let i = 1; i <= 5; i++) {
      await relay.store.publish(
        "snapshots",
        { jobId: `job-${i}`, status: "processing", progress: i * 10, timestamp: base + i },
        history,
      );
    }
    const client = await open();
    client.send({ type: "subscribe", channels: ["snapshots"] });
    const { jobs } = await subscribed(client, "snapshots");
    const rows = jobs as Record<string, unknown>[];
    // One seq counter per channel: the five jobs take five consecutive seqs.
    const first = rows[0]?.seq as number;
    assert.deepEqual(
      rows.map((j) => [j.jobId, j.progress, j.seq, j.channel]),
      [1, 2, 3, 4, 5].map((i) => [`job-${i}`, i * 10, first + i - 1, "snapshots"]),
    );
  });

  test("loses nothing between the snapshot and the live stream", async () => {
    const history = CONFIG.channels[2]!.history;
    const total = 300;
    let subscribedAt = -1;
    let client: TestClient | undefined;
    let last = -1;
    for (let i = 1; i <= total; i++) {
      const status = i === total ? "completed" : "processing";
      const { update } = await relay.store.publish(
        "stream",
        { jobId: "s", status, progress: (i * 100) / total },
        history,
      );
      last = update.seq!;
      if (i === 100) {
        // Subscribe while updates keep coming, so the snapshot read races the live stream.
        client = await open();
        client.send({ type: "subscribe", channels: ["stream"] });
        subscribedAt = last;
      }
    }
    assert.ok(client && subscribedAt > 0);
    const snapshot = (await subscribed(client, "stream")).jobs as { seq: number }[];
    await client.frame(
      (f) => f.type === "job" && (f.job as { seq: number }).seq === last,
      "the last update",
    );
    const start = snapshot[0]?.seq ?? 0;
    assert.ok(start >= subscribedAt - 1, `snapshot at seq ${start}`);
    const live = client.jobs().map((j) => j.seq as number);
    assert.deepEqual(
      live,
      Array.from({ length: last - start }, (_, i) => start + 1 + i),
      "every later seq exactly once, in order",
    );
  });

  test("never shows user A the jobs of user B, in snapshots or live", async () => {
    const history = CONFIG.channels[4]!.history;
    const owners = { "a-old": "alice", "b-old": "bob", "nobody-old": undefined };
    for (const [jobId, userId] of Object.entries(owners)) {
      const input = { jobId, status: "completed" as const };
      await relay.store.publish("private-jobs", userId ? { ...input, userId } : input, history);
    }
    const alice = await open("", { authorization: `Bearer ${await token({ sub: "alice" })}` });
    const bob = await open(`?access_token=${await token({ sub: "bob" })}`);
    alice.send({ type: "subscribe", channels: ["private-jobs"] });
    bob.send({ type: "subscribe", channels: ["private-jobs"] });
    const aliceSnapshot = (await subscribed(alice, "private-jobs")).jobs as { jobId: string }[];
    const bobSnapshot = (await subscribed(bob, "private-jobs")).jobs as { jobId: string }[];
    assert.deepEqual(
      aliceSnapshot.map((j) => j.jobId),
      ["a-old"],
    );
    assert.deepEqual(
      bobSnapshot.map((j) => j.jobId),
      ["b-old"],
    );

    // Raw publishes (one without an owner), then store publishes, interleaved across users.
    for (const raw of [{ jobId: "b-1", userId: "bob" }, { jobId: "n-1" }]) {
      const update = { ...raw, status: "processing", timestamp: Date.now() };
      await relay.redis.publish("jobchannel:private-jobs", JSON.stringify(update));
    }
    for (const [jobId, userId] of [
      ["a-1", "alice"],
      ["b-2", "bob"],
    ] as const) {
      await relay.store.publish("private-jobs", { jobId, status: "processing", userId }, history);
    }
    await alice.frame((f) => f.type === "job" && (f.job as { jobId: string }).jobId === "a-1");
    await bob.frame((f) => f.type === "job" && (f.job as { jobId: string }).jobId === "b-2");
    assert.deepEqual(
      alice.jobs().map((j) => j.jobId),
      ["a-1"],
    );
    assert.deepEqual(
      bob.jobs().map((j) => j.jobId),
      ["b-1", "b-2"],
    );
  });

  test("counts a malformed Redis payload as dropped and goes on delivering", async () => {
    const client = await open();
    client.send({ type: "subscribe", channels: ["file-upload", "tiny"] });
    await subscribed(client, "file-upload");
    await subscribed(client, "tiny");
    await relay.redis.publish("jobchannel:file-upload", "{not json");
    await relay.redis.publish(
      "jobchannel:file-upload",
      '{"jobId":7,"status":"queued","timestamp":1}',
    );
    await relay.redis.publish(
      "jobchannel:file-upload",
      '{"jobId":"x","status":"queued","timestamp":1,"__proto__":{"a":1}}',
    );
    await relay.redis.publish(
      "jobchannel:tiny",
      JSON.stringify({ jobId: "big", status: "queued", timestamp: 1, pad: "x".repeat(400) }),
    );
    await relay.redis.publish(
      "jobchannel:file-upload",
      JSON.stringify({ jobId: "fine", status: "queued", timestamp: Date.now() }),
    );
    await client.frame((f) => f.type === "job");
    assert.deepEqual(
      client.jobs().map((j) => j.jobId),
      ["fine"],
    );
    assert.equal(client.ws.readyState, client.ws.OPEN);
    const metrics = await relay.metrics();
    assert.match(metrics, /jobchannel_relay_messages_dropped_total\{reason="malformed"\} 3/);
    assert.match(metrics, /jobchannel_relay_messages_dropped_total\{reason="too_large"\} 1/);
  });

  test("refuses unknown channels, bad names and channels needing a token", async () => {
    const client = await open();
    client.send({ type: "subscribe", channels: ["no-such-channel"] });
    const unknown = await client.frame(
      (f) => f.type === "error" && f.channel === "no-such-channel",
    );
    assert.equal(unknown.code, "unknown_channel");
    client.send({ type: "subscribe", channels: ["private-jobs"] });
    const unauthorized = await client.frame(
      (f) => f.type === "error" && f.channel === "private-jobs",
    );
    assert.equal(unauthorized.code, "unauthorized");
    client.send({ type: "subscribe", channels: ["Bad Name"] });
    assert.equal(
      (await client.frame((f) => f.type === "error" && f.code === "bad_request")).code,
      "bad_request",
    );
    client.ws.send("not json");
    await waitFor(() => client.frames.filter((f) => f.code === "bad_request").length === 2, {
      what: "a second bad_request",
    });
    assert.equal(client.ws.readyState, client.ws.OPEN);
  });

  test("stops delivering after unsubscribe", async () => {
    const client = await open();
    client.send({ type: "subscribe", channels: ["file-upload"] });
    await subscribed(client, "file-upload");
    client.send({ type: "unsubscribe", channels: ["file-upload"] });
    const frame = await client.frame((f) => f.type === "unsubscribed");
    assert.deepEqual(frame, { type: "unsubscribed", channel: "file-upload", reason: "requested" });
    const marker = await open("?channels=file-upload");
    await subscribed(marker, "file-upload");
    await relay.redis.publish(
      "jobchannel:file-upload",
      JSON.stringify({ jobId: "after", status: "queued", timestamp: Date.now() }),
    );
    await marker.frame((f) => f.type === "job");
    assert.deepEqual(client.jobs(), []);
  });

  test("exposes every metric of design section 8 with real values after traffic", async () => {
    const leaving = await open("?channels=file-upload");
    await subscribed(leaving, "file-upload");
    leaving.ws.close(1000);
    await leaving.closed;
    await waitFor(
      async () =>
        /jobchannel_relay_disconnects_total\{code="1000"\} [1-9]/.test(await relay.metrics()),
      {
        what: "the disconnect counted",
      },
    );
    const text = await (await fetch(`${relay.http}/metrics`)).text();
    const value = (pattern: RegExp): number => Number(pattern.exec(text)?.[1] ?? NaN);
    assert.ok(
      value(/jobchannel_relay_fanout_latency_seconds_count\{channel="file-upload"\} (\d+)/) > 0,
    );
    assert.ok(
      text.includes(
        'jobchannel_relay_fanout_latency_seconds_bucket{le="0.0001",channel="file-upload"}',
      ),
    );
    assert.ok(value(/^jobchannel_relay_connections (\d+)/m) > 0);
    assert.ok(value(/jobchannel_relay_subscriptions\{channel="file-upload"\} (\d+)/) > 0);
    assert.ok(value(/jobchannel_relay_messages_received_total\{channel="file-upload"\} (\d+)/) > 0);
    assert.ok(
      value(/jobchannel_relay_messages_delivered_total\{channel="file-upload"\} (\d+)/) > 0,
    );
    assert.ok(value(/jobchannel_relay_messages_dropped_total\{reason="malformed"\} (\d+)/) > 0);
    assert.ok(value(/jobchannel_relay_disconnects_total\{code="1000"\} (\d+)/) > 0);
    assert.equal(value(/^jobchannel_relay_redis_up (\d+)/m), 1);
  });
});
