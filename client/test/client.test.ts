// Tests of the client against an in-process WebSocket server that plays the relay.
import assert from "node:assert/strict";
import { after, afterEach, before, describe, it } from "node:test";
import { CLOSE_CODES } from "@jobchannel/protocol";
import { nextEvent, waitFor } from "@jobchannel/testkit";
import WebSocket from "ws";
import {
  ClientError,
  JobChannelClient,
  type ClientOptions,
  type ConnectionState,
} from "../src/index.ts";
import { clientEvent } from "./helpers/client-events.ts";
import { jwt, startFakeRelay, update, type FakeRelay } from "./helpers/fake-relay.ts";

let relay: FakeRelay;
const clients: JobChannelClient[] = [];

function makeClient(options: ClientOptions = {}): JobChannelClient {
  const client = new JobChannelClient({
    url: relay.url,
    WebSocket,
    // random() = 1 makes each delay its ceiling: 10 ms, 20 ms, 40 ms, ...
    backoff: { initialMs: 10, maxMs: 80, random: () => 1 },
    ...options,
  });
  clients.push(client);
  return client;
}

async function connected(client: JobChannelClient, channels: string[] = ["file-upload"]) {
  const opened =
    client.state === "open" ? Promise.resolve() : clientEvent(client, "state", (s) => s === "open");
  client.subscribe(channels);
  const connection = await relay.nextConnection();
  await opened;
  assert.deepEqual((await connection.frame("subscribe")).channels, channels);
  return connection;
}

describe("JobChannelClient", () => {
  before(async () => {
    relay = await startFakeRelay();
  });
  afterEach(() => {
    for (const client of clients.splice(0)) client.close();
  });
  after(async () => {
    await relay.stop();
  });

  it("connects on the first subscribe and reports connecting then open", async () => {
    const client = makeClient();
    const states: ConnectionState[] = [];
    client.on("state", (s) => states.push(s));
    assert.equal(client.state, "closed");
    await connected(client);
    assert.deepEqual(states, ["connecting", "open"]);
  });

  it("merges the snapshot and live updates into a job map keyed by jobId", async () => {
    const client = makeClient();
    const connection = await connected(client);
    const snapshot = clientEvent(client, "jobs");
    connection.send({
      type: "subscribed",
      channel: "file-upload",
      jobs: [
        update("a", { status: "completed", progress: 100, seq: 4, fileName: "a.txt" }),
        update("b", { progress: 10, seq: 1, fileName: "b.txt" }),
      ],
    });
    await snapshot;
    assert.equal(client.channel("file-upload")?.status, "subscribed");
    assert.deepEqual(
      client.jobs("file-upload").map((j) => j.jobId),
      ["b", "a"],
      "newest first",
    );
    const live = clientEvent(client, "jobs");
    connection.send({ type: "job", job: update("b", { progress: 60, seq: 2 }) });
    await live;
    const b = client.job("file-upload", "b");
    assert.equal(b?.progress, 60);
    assert.equal(b?.fileName, undefined, "an update with seq is the whole state: fileName dropped");
    const raw = clientEvent(client, "jobs");
    connection.send({
      type: "job",
      job: {
        jobId: "a",
        status: "failed",
        error: "disk full",
        timestamp: 1,
        channel: "file-upload",
      },
    });
    await raw;
    assert.equal(client.job("file-upload", "a")?.fileName, "a.txt", "an update without seq merges");
    assert.equal(client.job("file-upload", "a")?.error, "disk full");
    connection.send({ type: "job", job: update("c", { status: "queued", seq: 1 }) });
    await clientEvent(client, "jobs");
    assert.deepEqual(
      client.jobs("file-upload").map((j) => j.jobId),
      ["c", "b", "a"],
    );
  });

  it("drops a stale update by seq", async () => {
    const client = makeClient();
    const connection = await connected(client);
    // The seq of job "a" at every change the client reports: what a user could have seen.
    const seen: (number | undefined)[] = [];
    client.on("jobs", () => seen.push(client.job("file-upload", "a")?.seq));
    connection.send({ type: "job", job: update("a", { progress: 50, seq: 5 }) });
    await waitFor(() => seen.length === 1, { what: "seq 5" });
    // A snapshot older than the live update, then a duplicate: both dropped.
    connection.send({
      type: "subscribed",
      channel: "file-upload",
      jobs: [update("a", { progress: 20, seq: 3 })],
    });
    connection.send({ type: "job", job: update("a", { progress: 50, seq: 5 }) });
    connection.send({ type: "job", job: update("a", { progress: 70, seq: 6 }) });
    await waitFor(() => client.job("file-upload", "a")?.seq === 6, { what: "seq 6" });
    assert.deepEqual(
      seen,
      [5, 5, 6],
      "the snapshot left seq 5 in place (its own change event) and the duplicate changed nothing",
    );
    assert.equal(client.job("file-upload", "a")?.progress, 70);
  });

  it("reports an error frame and keeps the connection", async () => {
    const client = makeClient();
    const connection = await connected(client);
    const error = clientEvent<[ClientError]>(client, "error");
    connection.send({
      type: "error",
      code: "forbidden",
      message: "not in your channels claim",
      channel: "file-upload",
    });
    const [e] = await error;
    assert.equal(e.code, "forbidden");
    assert.equal(e.fromRelay, true);
    assert.equal(e.channel, "file-upload");
    assert.deepEqual(client.channel("file-upload"), {
      status: "refused",
      reason: "not in your channels claim",
    });
    assert.equal(client.state, "open");
  });

  it("reports an invalid frame and ignores it", async () => {
    const client = makeClient();
    const connection = await connected(client);
    const error = clientEvent<[ClientError]>(client, "error");
    connection.send({
      type: "job",
      job: { jobId: "x", status: "exploded", timestamp: 1, channel: "file-upload" },
    });
    const [e] = await error;
    assert.equal(e.code, "invalid_frame");
    assert.equal(client.jobs("file-upload").length, 0);
  });

  it("refuses an invalid channel name before sending anything", () => {
    const client = makeClient();
    assert.throws(
      () => client.subscribe("File_Upload"),
      (e: unknown) => e instanceof ClientError && e.code === "invalid_channel",
    );
    assert.equal(client.state, "closed");
  });

  it("counts subscriptions and unsubscribes when the last one is released", async () => {
    const client = makeClient();
    const connection = await connected(client);
    const second = client.subscribe("file-upload");
    second();
    second();
    assert.equal(connection.frames.filter((f) => f.type === "unsubscribe").length, 0);
    client.unsubscribe("file-upload");
    assert.deepEqual((await connection.frame("unsubscribe")).channels, ["file-upload"]);
    assert.deepEqual(client.channels(), []);
  });

  for (const { code, name, reconnect } of CLOSE_CODES) {
    it(`${reconnect ? "reconnects and resubscribes" : "stays closed"} after close code ${code} (${name})`, async () => {
      // After 4001 the client needs a fresh token to reconnect.
      let n = 0;
      const client = makeClient({ getToken: () => `token-${++n}` });
      const first = await connected(client, ["file-upload", "pdf-extraction"]);
      const closed = clientEvent<[{ code: number; reconnectInMs: number | undefined }]>(
        client,
        "close",
      );
      first.close(code, name);
      const [info] = await closed;
      assert.equal(info.code, code);
      if (reconnect) {
        assert.equal(typeof info.reconnectInMs, "number");
        assert.equal(client.state, "reconnecting");
        const second = await relay.nextConnection();
        assert.deepEqual((await second.frame("subscribe")).channels, [
          "file-upload",
          "pdf-extraction",
        ]);
        await waitFor(() => client.state === "open", { what: "open again" });
      } else {
        assert.equal(info.reconnectInMs, undefined);
        assert.equal(client.state, "closed");
        assert.equal(client.lastError?.code, "final_close");
        assert.equal(client.lastError?.closeCode, code);
        // Far beyond the 10-80 ms backoff: a reconnect would have arrived by now.
        await assert.rejects(relay.nextConnection(300), /timed out/);
      }
    });
  }

  it("backs off exponentially while the relay keeps refusing", async () => {
    const client = makeClient();
    await connected(client);
    const delays: (number | undefined)[] = [];
    client.on("close", (info) => delays.push(info.reconnectInMs));
    for (let i = 0; i < 4; i++) {
      const connection = i === 0 ? relay.connections.at(-1)! : await relay.nextConnection();
      connection.close(1013, "overloaded");
      await waitFor(() => delays.length === i + 1, { what: `close ${i + 1}` });
    }
    assert.deepEqual(delays, [10, 20, 40, 80]);
    await relay.nextConnection();
  });

  it("calls getToken again after close 4001 and reconnects with the new token", async () => {
    let calls = 0;
    const client = makeClient({ getToken: async () => `token-${++calls}` });
    const first = await connected(client);
    assert.equal(first.url.searchParams.get("access_token"), "token-1");
    first.close(4001, "token expired");
    const second = await relay.nextConnection();
    assert.equal(second.url.searchParams.get("access_token"), "token-2");
    assert.equal(calls, 2);
    await second.frame("subscribe");
  });

  it("stops after close 4001 with a fixed token, which cannot get fresher", async () => {
    const client = makeClient({ token: "expired" });
    const first = await connected(client);
    const closed = clientEvent<[{ code: number; reconnectInMs: number | undefined }]>(
      client,
      "close",
    );
    first.close(4001, "token expired");
    assert.equal((await closed)[0].reconnectInMs, undefined);
    assert.equal(client.state, "closed");
    assert.equal(client.lastError?.code, "token_expired");
    assert.equal(client.lastError?.closeCode, 4001);
    await assert.rejects(relay.nextConnection(300), /timed out/);
  });

  for (const [what, again] of [
    ["the same token", "token-1"],
    ["no token", undefined],
  ] as const) {
    it(`stops after close 4001 when getToken returns ${what}`, async () => {
      let calls = 0;
      const client = makeClient({
        getToken: () => (++calls === 1 ? "token-1" : again),
      });
      const first = await connected(client);
      const stopped = clientEvent<[ClientError]>(
        client,
        "error",
        (e) => e.code === "token_expired",
      );
      first.close(4001, "token expired");
      const [error] = await stopped;
      assert.equal(error.closeCode, 4001);
      assert.match(error.message, /fresh token/);
      assert.equal(client.state, "closed");
      assert.equal(calls, 2, "asked once for a fresh token");
      await assert.rejects(relay.nextConnection(300), /timed out/);
    });
  }

  it("connects again when given a new token after stopping on 4001", async () => {
    const client = makeClient({ token: "expired" });
    const first = await connected(client);
    first.close(4001, "token expired");
    await waitFor(() => client.lastError?.code === "token_expired", { what: "token_expired" });
    client.setToken("fresh");
    const second = await relay.nextConnection();
    assert.equal(second.url.searchParams.get("access_token"), "fresh");
    assert.deepEqual((await second.frame("subscribe")).channels, ["file-upload"]);
    await waitFor(() => client.state === "open", { what: "open again" });
  });

  it("asks getToken again on connect() after stopping on 4001", async () => {
    const tokens = ["token-1", "token-1", "token-2"];
    let calls = 0;
    const client = makeClient({ getToken: () => tokens[calls++] });
    const first = await connected(client);
    first.close(4001, "token expired");
    await waitFor(() => client.lastError?.code === "token_expired", { what: "token_expired" });
    client.connect();
    const second = await relay.nextConnection();
    assert.equal(second.url.searchParams.get("access_token"), "token-2");
    assert.equal(calls, 3);
  });

  it("keeps a valid token across an ordinary reconnect", async () => {
    let calls = 0;
    const exp = Math.floor(Date.now() / 1000) + 3600;
    const client = makeClient({ getToken: () => jwt({ sub: "u1", exp, n: ++calls }) });
    const first = await connected(client);
    first.close(1001, "draining");
    const second = await relay.nextConnection();
    assert.equal(
      second.url.searchParams.get("access_token"),
      first.url.searchParams.get("access_token"),
    );
    assert.equal(calls, 1);
  });

  it("sends the token in an auth frame when asked to", async () => {
    const client = makeClient({ token: "secret", sendTokenAs: "frame" });
    client.subscribe("file-upload");
    const connection = await relay.nextConnection();
    assert.equal(connection.url.searchParams.get("access_token"), null);
    assert.deepEqual(await connection.frame("auth"), { type: "auth", token: "secret" });
    assert.equal(connection.frames[0]?.type, "auth", "auth comes before subscribe");
  });

  it("refreshes a JWT before it expires and sends it in an auth frame", async () => {
    const tokens = [
      jwt({ sub: "u1", exp: Math.floor(Date.now() / 1000) + 2 }),
      jwt({ sub: "u1", exp: Math.floor(Date.now() / 1000) + 3600 }),
    ];
    let calls = 0;
    // A 1.5 s margin on a token valid for 2 s: the refresh is due within about half a second.
    const client = makeClient({ getToken: () => tokens[calls++], refreshMarginMs: 1500 });
    const connection = await connected(client);
    const auth = await connection.frame("auth", 5000);
    assert.equal(auth.token, tokens[1]);
    assert.equal(calls, 2);
  });

  it("retries with backoff when getToken fails", async () => {
    let calls = 0;
    const client = makeClient({
      getToken: async () => {
        if (++calls === 1) throw new Error("auth server down");
        return "ok";
      },
    });
    const error = clientEvent<[ClientError]>(client, "error");
    client.subscribe("file-upload");
    assert.equal((await error)[0].code, "token_failed");
    const connection = await relay.nextConnection();
    assert.equal(connection.url.searchParams.get("access_token"), "ok");
  });

  it("stops reconnecting after close()", async () => {
    const client = makeClient();
    const connection = await connected(client);
    const closed = nextEvent(connection, "closed");
    client.close();
    assert.equal(client.state, "closed");
    await closed;
    await assert.rejects(relay.nextConnection(300), /timed out/);
  });
});
