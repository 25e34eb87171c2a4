// Tokens on a live relay: refusal codes, expiry, refresh, the channels claim, and the three modes.
import assert from "node:assert/strict";
import { before, describe, test } from "node:test";
import { parseChannelConfig } from "../src/channel-config.ts";
import { subscribed, type TestClient } from "./helpers/client.ts";
import { relayFixture } from "./helpers/fixture.ts";
import { token, type TestRelay } from "./helpers/relay.ts";

const CONFIG = parseChannelConfig(
  JSON.stringify({
    channels: [
      { name: "open-news", access: "public" },
      { name: "reports", access: "authenticated" },
      { name: "payroll", access: "authenticated" },
    ],
  }),
);

const { relayWith: start, open: connectTo } = relayFixture();

function relayWith(options: { channels?: boolean; secret?: boolean }): Promise<TestRelay> {
  return start({
    ...(options.channels ? { channels: CONFIG } : {}),
    secret: options.secret ?? false,
  });
}

function open(relay: TestRelay, query = "", headers = {}): Promise<TestClient> {
  return connectTo(relay, query, { headers });
}

describe("tokens", () => {
  let relay: TestRelay;
  before(async () => {
    relay = await relayWith({ channels: true, secret: true });
  });

  test("serves public channels without a token and refuses the others with unauthorized", async () => {
    const client = await open(relay);
    client.send({ type: "subscribe", channels: ["open-news", "reports"] });
    await subscribed(client, "open-news");
    const refusal = await client.frame((f) => f.type === "error" && f.channel === "reports");
    assert.equal(refusal.code, "unauthorized");
  });

  test("closes a forged token with 4401", async () => {
    const forged = await token({ sub: "mallory" }, 3600, "some-other-secret-0123456789abcdef");
    const client = await open(relay, "", { authorization: `Bearer ${forged}` });
    assert.equal((await client.closed).code, 4401);
  });

  test("closes an expired token with 4001", async () => {
    const expired = await token({ sub: "alice" }, -60);
    const client = await open(relay, `?access_token=${expired}`);
    assert.equal((await client.closed).code, 4001);
  });

  test("closes with 4001 when the token expires, unless an auth frame refreshed it", async () => {
    const short = await token({ sub: "alice" }, 2);
    const expiring = await open(relay, `?access_token=${short}&channels=reports`);
    const refreshed = await open(relay, `?access_token=${short}&channels=reports`);
    await subscribed(expiring, "reports");
    await subscribed(refreshed, "reports");
    refreshed.send({ type: "auth", token: await token({ sub: "alice" }, 3600) });
    assert.equal((await expiring.closed).code, 4001);
    await relay.redis.publish(
      "jobchannel:reports",
      JSON.stringify({ jobId: "r", status: "queued", timestamp: Date.now() }),
    );
    await refreshed.frame((f) => f.type === "job");
    assert.equal(refreshed.ws.readyState, refreshed.ws.OPEN);
  });

  test("authenticates an anonymous connection with an auth frame", async () => {
    const client = await open(relay);
    client.send({ type: "auth", token: await token({ sub: "bob" }) });
    client.send({ type: "subscribe", channels: ["reports"] });
    await subscribed(client, "reports");
  });

  test("refuses a refused auth frame with unauthorized and keeps the connection", async () => {
    const client = await open(relay);
    client.send({ type: "auth", token: "not-a-token" });
    assert.equal((await client.frame((f) => f.type === "error")).code, "unauthorized");
    assert.equal(client.ws.readyState, client.ws.OPEN);
  });

  test("forbids channels outside the token's channels claim", async () => {
    const limited = await token({ sub: "carol", channels: ["reports"] });
    const client = await open(relay, "", { authorization: `Bearer ${limited}` });
    client.send({ type: "subscribe", channels: ["reports", "payroll"] });
    await subscribed(client, "reports");
    const refusal = await client.frame((f) => f.type === "error" && f.channel === "payroll");
    assert.equal(refusal.code, "forbidden");
  });

  test("unsubscribes a channel whose access a refreshed token no longer grants", async () => {
    const client = await open(relay, "?channels=reports,payroll", {
      authorization: `Bearer ${await token({ sub: "dave" })}`,
    });
    await subscribed(client, "payroll");
    client.send({ type: "auth", token: await token({ sub: "dave", channels: ["reports"] }) });
    const frame = await client.frame((f) => f.type === "unsubscribed");
    assert.deepEqual(frame, { type: "unsubscribed", channel: "payroll", reason: "forbidden" });
  });
});

describe("modes without a channel config", () => {
  test("serves every valid channel to anyone in open development mode", async () => {
    const relay = await relayWith({});
    const client = await open(relay, "?channels=anything-at-all");
    await subscribed(client, "anything-at-all");
    await relay.redis.publish(
      "jobchannel:anything-at-all",
      JSON.stringify({ jobId: "x", status: "queued", timestamp: Date.now() }),
    );
    await client.frame((f) => f.type === "job");
  });

  test("serves every valid channel to token holders when a secret is set", async () => {
    const relay = await relayWith({ secret: true });
    const anonymous = await open(relay, "?channels=anything-at-all");
    assert.equal((await anonymous.frame((f) => f.type === "error")).code, "unauthorized");
    const holder = await open(
      relay,
      `?access_token=${await token({ sub: "eve" })}&channels=anything-at-all`,
    );
    await subscribed(holder, "anything-at-all");
  });
});
