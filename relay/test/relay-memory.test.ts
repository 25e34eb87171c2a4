// The relay on the in-memory broker and store, as the one-process local stack composes it.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { MemoryBus, MemoryJobStore, DEFAULT_HISTORY } from "@jobchannel/state";
import pino from "pino";
import { Registry } from "prom-client";
import { createMemoryBroker } from "../src/broker-memory.ts";
import { createRelay, type Relay } from "../src/relay.ts";
import { startRelayServer } from "../src/server.ts";
import type { Server } from "node:http";
import { connect, subscribed, type TestClient } from "./helpers/client.ts";
import { waitForReadiness } from "./helpers/readiness.ts";

describe("relay on the memory broker", () => {
  const bus = new MemoryBus();
  const store = new MemoryJobStore(bus);
  let relay: Relay;
  let server: Server;
  let url: string;
  let http: string;
  const clients: TestClient[] = [];

  before(async () => {
    const registry = new Registry();
    relay = createRelay({
      broker: createMemoryBroker(bus),
      store,
      registry,
      logger: pino({ level: "silent" }),
    });
    const started = await startRelayServer({ relay, registry, port: 0, host: "127.0.0.1" });
    server = started.server;
    url = `ws://127.0.0.1:${started.port}/ws`;
    http = `http://127.0.0.1:${started.port}`;
  });

  after(async () => {
    for (const c of clients) c.ws.terminate();
    await relay.close();
    await new Promise((resolve) => server.close(resolve));
  });

  test("is ready at once in open development mode, in /readyz and jobchannel_relay_ready", async () => {
    assert.deepEqual(relay.readiness(), {
      ready: true,
      broker: true,
      config: true,
      draining: false,
    });
    await waitForReadiness(http, true);
  });

  test("snapshots what the store holds and streams what it publishes", async () => {
    await store.publish(
      "uploads",
      { jobId: "a", status: "processing", progress: 10 },
      DEFAULT_HISTORY,
    );
    const client = await connect(`${url}?channels=uploads`);
    clients.push(client);
    const { jobs } = await subscribed(client, "uploads");
    const held = (jobs as Record<string, unknown>[])[0]?.seq as number;
    assert.deepEqual(
      (jobs as Record<string, unknown>[]).map((j) => [j.jobId, j.seq, j.channel]),
      [["a", held, "uploads"]],
    );
    await store.publish(
      "uploads",
      { jobId: "a", status: "completed", progress: 100 },
      DEFAULT_HISTORY,
    );
    const frame = await client.frame((f) => f.type === "job");
    assert.equal((frame.job as { seq: number }).seq, held + 1);
    assert.equal((frame.job as { channel: string }).channel, "uploads");
  });

  test("leaves the store's own objects untouched", async () => {
    const kept = await store.get("uploads", "a");
    assert.equal(kept?.channel, undefined);
  });

  test("turns /readyz and jobchannel_relay_ready off together once draining", async () => {
    await relay.drain(0);
    const reading = await waitForReadiness(http, false);
    assert.equal(reading.body.draining, true);
  });
});
