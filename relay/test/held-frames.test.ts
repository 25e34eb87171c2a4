// Frames that cannot go out at once, on the in-memory broker: those held while a snapshot is read
// are bounded like a slow client's queue, and writes a slow client's queue deferred are measured.
import assert from "node:assert/strict";
import type { Socket } from "node:net";
import { describe, test } from "node:test";
import type { JobUpdate } from "@jobchannel/protocol";
import { DEFAULT_HISTORY, MemoryJobStore, type MemoryBus } from "@jobchannel/state";
import { waitFor } from "@jobchannel/testkit";
import type { Registry } from "prom-client";
import type { TestClient } from "./helpers/client.ts";
import { memoryRelays } from "./helpers/memory-relay.ts";
import { subscribed } from "./helpers/client.ts";

const startRelay = memoryRelays();

/** A store whose snapshots never answer (until the relay's timeout). */
class StalledStore extends MemoryJobStore {
  override snapshot(): Promise<JobUpdate[]> {
    return new Promise(() => {});
  }
}

async function metric(registry: Registry, pattern: RegExp): Promise<number> {
  return Number(pattern.exec(await registry.metrics())?.[1] ?? 0);
}

function publishAll(bus: MemoryBus, updates: { jobId: string; progress: number; pad: string }[]) {
  const store = new MemoryJobStore(bus);
  return Promise.all(
    updates.map((u) =>
      store.publish("held", { ...u, status: "processing", timestamp: 1 }, DEFAULT_HISTORY),
    ),
  );
}

describe("held frames", () => {
  test("collapses the updates held during a snapshot read and closes past the queue limit with 4000", async () => {
    const { bus, registry, open } = await startRelay(
      { snapshotTimeoutMs: 60_000, limits: { sendQueueLimitBytes: 256 * 1024 } },
      (b) => new StalledStore(b),
    );
    const client = await open("?channels=held");
    await waitFor(
      async () => (await metric(registry, /subscriptions\{channel="held"\} (\d+)/)) === 1,
      {
        what: "the subscription registered",
      },
    );
    // One job's progress updates collapse to the latest while held.
    await publishAll(
      bus,
      Array.from({ length: 100 }, (_, i) => ({ jobId: "one", progress: i, pad: "" })),
    );
    assert.equal(await metric(registry, /dropped_total\{reason="collapsed"\} (\d+)/), 99);
    // Distinct jobs do not collapse: past 256 KiB held, the client is closed as a slow consumer.
    const pad = "x".repeat(4096);
    await publishAll(
      bus,
      Array.from({ length: 100 }, (_, i) => ({ jobId: `job-${i}`, progress: 1, pad })),
    );
    assert.equal((await client.closed).code, 4000);
    assert.ok((await metric(registry, /dropped_total\{reason="slow_consumer"\} (\d+)/)) > 0);
  });
});

describe("fan-out latency", () => {
  test("observes the writes a slow client's queue deferred, with their delay", async () => {
    const { bus, registry, open } = await startRelay({
      limits: { sendBufferBytes: 1024, sendQueueLimitBytes: 64 * 1024 * 1024 },
    });
    const slow: TestClient = await open("?channels=held");
    await subscribed(slow, "held");
    const socket = (slow.ws as unknown as { _socket: Socket })._socket;
    socket.pause();
    const count = /fanout_latency_seconds_count\{channel="held"\} (\d+)/;
    // 8 MB of distinct jobs: more than loopback socket buffers take from a client not reading.
    const updates = Array.from({ length: 1000 }, (_, i) => ({
      jobId: `job-${i}`,
      progress: 1,
      pad: "x".repeat(8192),
    }));
    await publishAll(bus, updates);
    // One observation per update at fan-out.
    assert.equal(await metric(registry, count), 1000);
    socket.resume();
    await waitFor(() => slow.jobs().length === 1000, { what: "every update at the slow client" });
    // And one per deferred write: the slow client's delays are in the histogram.
    assert.ok((await metric(registry, count)) > 1000);
  });
});
