// Snapshots on the in-memory broker: no second read for a channel already held, an error frame
// for a failed or slow read, and pages that let large histories through without a 4000.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { JobUpdate } from "@jobchannel/protocol";
import { DEFAULT_HISTORY, MemoryJobStore, type JobStore, type MemoryBus } from "@jobchannel/state";
import { waitFor } from "@jobchannel/testkit";
import type { ConnectionLimits } from "../src/connection.ts";
import { SNAPSHOT_PAGE_BYTES } from "../src/snapshot-pages.ts";
import { memoryRelays } from "./helpers/memory-relay.ts";
import { subscribed, type Frame, type TestClient } from "./helpers/client.ts";
import { held } from "./helpers/holder.ts";

/** A store that counts snapshot reads and can be told to fail, hang or hold them. */
class CountingStore implements JobStore {
  readonly inner: MemoryJobStore;
  reads = 0;
  mode: "normal" | "fail" | "hang" | "gate" = "normal";
  /** Reads held in "gate" mode, answered by {@link open}. */
  readonly #gated: (() => void)[] = [];

  /** Answers the reads held in "gate" mode. */
  open(): void {
    for (const release of this.#gated.splice(0)) release();
  }

  constructor(bus: MemoryBus) {
    this.inner = new MemoryJobStore(bus);
  }
  publish: JobStore["publish"] = (...args) => this.inner.publish(...args);
  get: JobStore["get"] = (...args) => this.inner.get(...args);
  close = (): Promise<void> => this.inner.close();
  snapshot(channel: string, history: typeof DEFAULT_HISTORY): Promise<JobUpdate[]> {
    this.reads++;
    if (this.mode === "fail") return Promise.reject(new Error("store down"));
    if (this.mode === "hang") return new Promise(() => {});
    if (this.mode === "gate") {
      return new Promise<void>((resolve) => this.#gated.push(resolve)).then(() =>
        this.inner.snapshot(channel, history),
      );
    }
    return this.inner.snapshot(channel, history);
  }
}

const startRelay = memoryRelays();

async function start(
  limits: Partial<ConnectionLimits> = {},
): Promise<{ store: CountingStore; open(query?: string): Promise<TestClient> }> {
  let store: CountingStore | undefined;
  const { open } = await startRelay({ snapshotTimeoutMs: 200, limits }, (bus: MemoryBus) => {
    store = new CountingStore(bus);
    return store;
  });
  return { store: store!, open };
}

function frames(client: TestClient, type: string, channel: string): Frame[] {
  return client.frames.filter((f) => f.type === type && f.channel === channel);
}

describe("snapshots", () => {
  test("answers a subscribe for a channel already held live without reading again", async () => {
    const { store, open } = await start();
    await store.publish("held", { jobId: "j1", status: "processing" }, DEFAULT_HISTORY);
    const client = await open("?channels=held");
    await subscribed(client, "held");
    const reads = store.reads;
    for (let i = 0; i < 15; i++) client.send({ type: "subscribe", channels: ["held"] });
    await waitFor(() => frames(client, "subscribed", "held").length === 16, {
      what: "16 subscribed frames",
    });
    assert.equal(store.reads, reads);
    assert.deepEqual(
      frames(client, "subscribed", "held")
        .slice(1)
        .map((f) => f.jobs),
      Array.from({ length: 15 }, () => []),
    );
    assert.equal(held(client, "held").get("j1")?.status, "processing");
  });

  test("answers a subscribe repeated while its snapshot is read with that snapshot only", async () => {
    const { store, open } = await start();
    await store.publish("waiting", { jobId: "j1", status: "processing" }, DEFAULT_HISTORY);
    store.mode = "gate";
    const client = await open("?channels=waiting");
    await waitFor(() => store.reads === 1, { what: "the read issued" });
    for (let i = 0; i < 5; i++) client.send({ type: "subscribe", channels: ["waiting"] });
    await new Promise((resolve) => setTimeout(resolve, 50));
    store.open();
    const snapshot = await subscribed(client, "waiting");
    assert.deepEqual(
      (snapshot.jobs as JobUpdate[]).map((j) => j.jobId),
      ["j1"],
    );
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(store.reads, 1);
    assert.equal(frames(client, "subscribed", "waiting").length, 1);
  });

  test("answers a failed read with snapshot_unavailable and no subscription", async () => {
    const { store, open } = await start();
    const client = await open();
    store.mode = "fail";
    client.send({ type: "subscribe", channels: ["broken"] });
    const error = await client.frame((f) => f.type === "error" && f.channel === "broken");
    assert.equal(error.code, "snapshot_unavailable");
    assert.equal(frames(client, "subscribed", "broken").length, 0);
    // Not subscribed: a live update does not reach it.
    store.mode = "normal";
    await store.publish("broken", { jobId: "live", status: "queued" }, DEFAULT_HISTORY);
    client.send({ type: "subscribe", channels: ["broken"] });
    const snapshot = await subscribed(client, "broken");
    assert.deepEqual(
      (snapshot.jobs as JobUpdate[]).map((j) => j.jobId),
      ["live"],
    );
    assert.equal(client.jobs().length, 0);
  });

  test("answers a read slower than the timeout with snapshot_unavailable", async () => {
    const { store, open } = await start();
    const client = await open();
    store.mode = "hang";
    client.send({ type: "subscribe", channels: ["slow"] });
    const error = await client.frame((f) => f.type === "error" && f.channel === "slow");
    assert.equal(error.code, "snapshot_unavailable");
    assert.equal(frames(client, "subscribed", "slow").length, 0);
  });

  test("pages large snapshots of several channels without closing the client as slow", async () => {
    // Three channels of 1,000 jobs of about 1 KiB each: 3 MiB of snapshots for a 1 MiB queue.
    const { store, open } = await start({ sendQueueLimitBytes: 1024 * 1024 });
    const channels = ["big-a", "big-b", "big-c"];
    const pad = "x".repeat(1000);
    await Promise.all(
      channels.flatMap((channel) =>
        Array.from({ length: 1000 }, (_, i) =>
          store.publish(channel, { jobId: `j${i}`, status: "processing", pad }, DEFAULT_HISTORY),
        ),
      ),
    );
    const client = await open();
    client.send({ type: "subscribe", channels });
    await waitFor(() => channels.every((c) => held(client, c).size === 1000), {
      what: "every job of every channel",
    });
    assert.equal(client.ws.readyState, client.ws.OPEN);
    for (const channel of channels) {
      const pages = frames(client, "subscribed", channel);
      assert.ok(pages.length > 1, `${channel} came in ${pages.length} pages`);
      for (const page of pages) {
        const bytes = (page.jobs as unknown[]).reduce<number>(
          (sum, job) => sum + Buffer.byteLength(JSON.stringify(job)) + 1,
          0,
        );
        assert.ok(bytes <= SNAPSHOT_PAGE_BYTES, `a page of ${bytes} bytes`);
      }
      // Oldest first across the pages, as one snapshot would be.
      const order = pages.flatMap((p) => (p.jobs as JobUpdate[]).map((j) => j.jobId));
      assert.deepEqual(
        order,
        Array.from({ length: 1000 }, (_, i) => `j${i}`),
      );
    }
  });
});
