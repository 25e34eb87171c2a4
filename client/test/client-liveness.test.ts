// Tests of the client's liveness against a fake relay behind a TCP proxy that can go silent: dead
// connections noticed by heartbeat, the connect timeout, and reconnecting at once when the browser
// is back online or the page is shown again.
import assert from "node:assert/strict";
import { createServer, type Socket } from "node:net";
import type { AddressInfo } from "node:net";
import { afterEach, beforeEach, describe, it, mock } from "node:test";
import { heartbeatFrame } from "@jobchannel/protocol";
import { nextEvent, waitFor } from "@jobchannel/testkit";
import WebSocket from "ws";
import { JobChannelClient, type ClientOptions, type CloseInfo } from "../src/index.ts";
import { clientEvent } from "./helpers/client-events.ts";
import {
  startFakeRelay,
  update,
  type FakeConnection,
  type FakeRelay,
} from "./helpers/fake-relay.ts";
import { startSilentProxy, type SilentProxy } from "./helpers/silent-proxy.ts";

const INTERVAL_MS = 100;
// Two intervals and the protocol's 1 s slack.
const TIMEOUT_MS = 2 * INTERVAL_MS + 1_000;

let relay: FakeRelay;
let proxy: SilentProxy;
const clients: JobChannelClient[] = [];
const timers: ReturnType<typeof setInterval>[] = [];
const scope = globalThis as { window?: unknown; document?: unknown };

function makeClient(options: ClientOptions = {}): JobChannelClient {
  const client = new JobChannelClient({
    url: `ws://127.0.0.1:${proxy.port}/ws`,
    WebSocket,
    backoff: { initialMs: 10, maxMs: 80, random: () => 1 },
    ...options,
  });
  clients.push(client);
  return client;
}

async function connected(client: JobChannelClient): Promise<FakeConnection> {
  const opened = clientEvent(client, "state", (s) => s === "open");
  if (client.channels().length === 0) client.subscribe("file-upload");
  const connection = await relay.nextConnection();
  await connection.frame("subscribe");
  await opened;
  return connection;
}

/** Sends a heartbeat every interval, as a relay does on an idle connection. */
function heartbeats(connection: FakeConnection): void {
  const timer = setInterval(() => connection.send(heartbeatFrame(INTERVAL_MS)), INTERVAL_MS);
  timers.push(timer);
  connection.once("closed", () => clearInterval(timer));
}

function closes(client: JobChannelClient): CloseInfo[] {
  const seen: CloseInfo[] = [];
  client.on("close", (info) => seen.push(info));
  return seen;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("client liveness", () => {
  // A relay and proxy per test, so that no test takes another's connections.
  beforeEach(async () => {
    relay = await startFakeRelay();
    proxy = await startSilentProxy(Number(new URL(relay.url).port));
  });
  afterEach(async () => {
    mock.timers.reset();
    for (const timer of timers.splice(0)) clearInterval(timer);
    for (const client of clients.splice(0)) client.close();
    delete scope.window;
    delete scope.document;
    await proxy.stop();
    await relay.stop();
  });

  it("notices within two heartbeat intervals that the connection went silent, and reconnects", async (t) => {
    const client = makeClient();
    const first = await connected(client);
    heartbeats(first);
    first.send({ type: "subscribed", channel: "file-upload", jobs: [update("a", { seq: 1 })] });
    await sleep(3 * INTERVAL_MS);

    proxy.silence();
    const silentAt = Date.now();
    const [info] = await clientEvent<[CloseInfo]>(client, "close");
    const noticedAfter = Date.now() - silentAt;
    t.diagnostic(
      `noticed ${noticedAfter} ms after the proxy went silent (timeout ${TIMEOUT_MS} ms)`,
    );
    assert.equal(info.code, 4002);
    assert.match(info.reason, /no frame from the relay for \d+ ms/);
    // Not before two intervals of silence, and not after the timeout from the last frame, which
    // came before the silence (the bound allows for timers late under load).
    assert.ok(noticedAfter >= 2 * INTERVAL_MS, `${noticedAfter} ms`);
    assert.ok(noticedAfter <= TIMEOUT_MS + 400, `${noticedAfter} ms`);
    assert.equal(client.state, "reconnecting");
    assert.equal(first.socket.readyState, WebSocket.OPEN, "the relay never closed its side");

    const second = await relay.nextConnection();
    assert.deepEqual((await second.frame("subscribe")).channels, ["file-upload"]);
    heartbeats(second);
    second.send({
      type: "subscribed",
      channel: "file-upload",
      jobs: [update("a", { seq: 2, status: "completed", progress: 100 })],
    });
    await waitFor(() => client.state === "open", { what: "open again" });
    await waitFor(() => client.job("file-upload", "a")?.status === "completed", {
      what: "the job's final state",
    });
  });

  it("keeps a quiet connection while heartbeats arrive", async () => {
    const client = makeClient();
    const seen = closes(client);
    heartbeats(await connected(client));
    await sleep(2 * TIMEOUT_MS);
    assert.deepEqual(seen, []);
    assert.equal(client.state, "open");
  });

  it("keeps an idle connection to a relay without heartbeats, after closing it at most once", async () => {
    const client = makeClient();
    const seen = closes(client);
    const first = await connected(client);
    first.send(heartbeatFrame(INTERVAL_MS));
    await sleep(INTERVAL_MS);
    first.close(1001, "draining");
    // The next relay sends no heartbeats (an older one): the client, which saw heartbeats before,
    // watches it from the start and closes it when silent ...
    const older = await relay.nextConnection();
    await older.frame("subscribe");
    const [info] = await clientEvent<[CloseInfo]>(client, "close", (i) => i.code === 4002);
    assert.match(info.reason, /no frame from the relay/);
    // ... then stops expecting heartbeats until a connection brings one.
    await relay.nextConnection();
    await waitFor(() => client.state === "open", { what: "open again" });
    await sleep(2 * TIMEOUT_MS);
    assert.deepEqual(
      seen.map((i) => i.code),
      [1001, 4002],
    );
    assert.equal(client.state, "open");
  });

  it("gives up on a connection attempt that gets no answer, and tries again", async () => {
    const accepted: Socket[] = [];
    const mute = createServer((socket) => accepted.push(socket));
    mute.listen(0, "127.0.0.1");
    await nextEvent(mute, "listening");
    try {
      const client = makeClient({
        url: `ws://127.0.0.1:${(mute.address() as AddressInfo).port}/ws`,
        connectTimeoutMs: 200,
      });
      const startedAt = Date.now();
      client.subscribe("file-upload");
      const [info] = await clientEvent<[CloseInfo]>(client, "close");
      const after = Date.now() - startedAt;
      assert.equal(info.code, 1006);
      assert.equal(info.reason, "no answer from the relay within 200 ms");
      assert.ok(after >= 190 && after < 1_000, `${after} ms`);
      assert.equal(client.state, "reconnecting");
      await waitFor(() => accepted.length >= 2, { what: "a second attempt" });
    } finally {
      for (const socket of accepted) socket.destroy();
      mute.close();
    }
  });

  it("ignores a frame type it does not know and takes the next frame", async () => {
    const client = makeClient();
    const errors: string[] = [];
    client.on("error", (e) => errors.push(e.code));
    const connection = await connected(client);
    connection.send({ type: "presence", users: ["u1"] });
    connection.send({ type: "job", job: update("a", { seq: 1 }) });
    await waitFor(() => client.job("file-upload", "a"), { what: "the job" });
    assert.deepEqual(errors, []);
    assert.equal(client.state, "open");
  });

  it("reconnects at once when the browser is back online", async () => {
    const window = new EventTarget();
    scope.window = window;
    const client = makeClient({ backoff: { initialMs: 60_000, random: () => 1 } });
    const first = await connected(client);
    const closed = clientEvent<[CloseInfo]>(client, "close");
    window.dispatchEvent(new Event("online"));
    const [info] = await closed;
    assert.deepEqual(info, {
      code: 1006,
      reason: "the browser is back online",
      reconnectInMs: 0,
    });
    assert.equal((await nextEvent<[number]>(first, "closed"))[0], 1000);
    await (await relay.nextConnection()).frame("subscribe");
    // close() removes the listener: going online again opens nothing.
    client.close();
    window.dispatchEvent(new Event("online"));
    await assert.rejects(relay.nextConnection(300), /timed out/);
  });

  it("reconnects at once when the page is shown after being hidden longer than the timeout", async () => {
    const document = Object.assign(new EventTarget(), { visibilityState: "visible" });
    scope.document = document;
    const client = makeClient();
    await connected(client); // a relay without heartbeats: only the default interval is known
    const closed = clientEvent<[CloseInfo]>(client, "close");
    mock.timers.enable({ apis: ["Date"], now: Date.now() });
    document.visibilityState = "hidden";
    document.dispatchEvent(new Event("visibilitychange"));
    mock.timers.tick(60_000);
    document.visibilityState = "visible";
    document.dispatchEvent(new Event("visibilitychange"));
    mock.timers.reset();
    const [info] = await closed;
    assert.equal(info.code, 1006);
    assert.equal(info.reason, "the page was hidden for 60000 ms");
    assert.equal(info.reconnectInMs, 0);
    await (await relay.nextConnection()).frame("subscribe");
  });

  it("keeps a connection heard from lately when the page is shown again", async () => {
    const document = Object.assign(new EventTarget(), { visibilityState: "visible" });
    scope.document = document;
    const client = makeClient();
    const seen = closes(client);
    heartbeats(await connected(client));
    mock.timers.enable({ apis: ["Date"], now: Date.now() });
    document.visibilityState = "hidden";
    document.dispatchEvent(new Event("visibilitychange"));
    mock.timers.tick(60_000);
    await sleep(3 * INTERVAL_MS); // heartbeats still arrive while the page is hidden
    document.visibilityState = "visible";
    document.dispatchEvent(new Event("visibilitychange"));
    mock.timers.reset();
    await sleep(3 * INTERVAL_MS);
    assert.deepEqual(seen, []);
    assert.equal(client.state, "open");
  });

  it("shows a page hidden briefly without reconnecting", async () => {
    const document = Object.assign(new EventTarget(), { visibilityState: "visible" });
    scope.document = document;
    const client = makeClient();
    const seen = closes(client);
    await connected(client);
    document.visibilityState = "hidden";
    document.dispatchEvent(new Event("visibilitychange"));
    await sleep(50);
    document.visibilityState = "visible";
    document.dispatchEvent(new Event("visibilitychange"));
    await sleep(3 * INTERVAL_MS);
    assert.deepEqual(seen, []);
  });
});
