// Failover in cluster mode: a 3-primary Redis Cluster with one replica each, two relays, and a
// shard's primary killed with SIGKILL. After the replica takes over, every subscriber holds every
// job's final state, on the failed shard and on the others; the test prints the recovery time.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { DEFAULT_HISTORY, keySlot, shardedPubsubChannel } from "@jobchannel/state";
import { recordFaults, waitFor } from "@jobchannel/testkit";
import { subscribed, type TestClient } from "./helpers/client.ts";
import { clusterFixture } from "./helpers/cluster-fixture.ts";
import { duplicatesShown, finalsMissed } from "./helpers/fault-figures.ts";
import { holdsAll } from "./helpers/holder.ts";

const fixture = clusterFixture({ primaries: 3, replicasPerPrimary: 1, nodeTimeoutMs: 1000 });
const JOBS = ["job-a", "job-b", "job-c"];
const SUBSCRIBERS_PER_RELAY = 2;
/** Longest time from the kill to every subscriber holding every final state, ms. */
const BOUND_MS = 30_000;

async function recoveries(index: number): Promise<number> {
  const text = await fixture.relays()[index]!.metrics();
  return Number(/^jobchannel_relay_recoveries_total (\d+)/m.exec(text)?.[1] ?? 0);
}

/** Publishes until the shard answers: publishes to a failed primary fail until its replica leads. */
async function publishUntilAccepted(channel: string, jobId: string, status: string): Promise<void> {
  await waitFor(
    async () => {
      await fixture
        .store()
        .publish(channel, { jobId, status: status as "completed", progress: 100 }, DEFAULT_HISTORY);
      return true;
    },
    { what: `${status} of ${jobId} on ${channel} accepted`, timeoutMs: BOUND_MS, intervalMs: 100 },
  );
}

describe("a shard's primary fails over", () => {
  test("every subscriber ends with every job's final state after the primary is killed", async () => {
    const channels = await fixture.channelsOnEveryShard("failover");
    const clients: TestClient[] = [];
    for (let relay = 0; relay < 2; relay++) {
      for (let i = 0; i < SUBSCRIBERS_PER_RELAY; i++) {
        const client = await fixture.open(relay, `?channels=${channels.join(",")}`);
        for (const channel of channels) await subscribed(client, channel);
        clients.push(client);
      }
    }
    for (const channel of channels) {
      for (const jobId of JOBS) {
        await fixture
          .store()
          .publish(channel, { jobId, status: "processing", progress: 40 }, DEFAULT_HISTORY);
      }
    }
    const processing = new Map(JOBS.map((j) => [j, "processing"]));
    await waitFor(() => clients.every((c) => channels.every((ch) => holdsAll(c, ch, processing))), {
      what: "every subscriber holding processing",
    });
    const before = await Promise.all([recoveries(0), recoveries(1)]);

    const victim = channels[0]!;
    const primary = await fixture.cluster().primaryOf(keySlot(shardedPubsubChannel(victim)));
    const killedAt = Date.now();
    await fixture.cluster().kill(primary);
    // Final states on every shard, published as soon as each shard takes writes again.
    await Promise.all(
      channels.flatMap((channel) =>
        JOBS.map((jobId) => publishUntilAccepted(channel, jobId, "completed")),
      ),
    );
    const publishedAt = Date.now();
    const completed = new Map(JOBS.map((j) => [j, "completed"]));
    let recovered: number | undefined;
    try {
      await waitFor(
        () => clients.every((c) => channels.every((ch) => holdsAll(c, ch, completed))),
        {
          what: "every subscriber holding every final state after the failover",
          timeoutMs: BOUND_MS,
          intervalMs: 20,
        },
      );
      recovered = Date.now();
    } finally {
      const lost = channels.reduce((n, ch) => n + finalsMissed(clients, ch, completed), 0);
      const finals = JOBS.length * channels.length;
      recordFaults({
        scenario: "Redis Cluster: a shard's primary SIGKILLed, its replica takes over",
        load: `3 primaries with a replica each, 2 relays, ${clients.length} subscribers, ${finals} jobs on ${channels.length} channels`,
        faultsInjected: 1,
        updatesPublished: finals * 2,
        finalUpdatesDelivered: finals - lost,
        lost,
        duplicatesShown: channels.reduce((n, ch) => n + duplicatesShown(clients, ch), 0),
        recoverySeconds: recovered === undefined ? null : (recovered - killedAt) / 1000,
      });
    }
    const newPrimary = await fixture.cluster().primaryOf(keySlot(shardedPubsubChannel(victim)));
    console.log(
      `# failover: primary ${primary} killed, ${newPrimary} took over; the last final state was accepted ${publishedAt - killedAt} ms after the kill, and all ${clients.length} subscribers on 2 relays held all ${JOBS.length * channels.length} final states ${recovered - killedAt} ms after the kill (${recovered - publishedAt} ms after the last publish)`,
    );
    assert.notEqual(newPrimary, primary);
    for (const c of clients) assert.equal(c.ws.readyState, c.ws.OPEN, "no client was disconnected");
    await waitFor(
      async () => (await recoveries(0)) > before[0]! && (await recoveries(1)) > before[1]!,
      { what: "jobchannel_relay_recoveries_total counting the gap on both relays" },
    );
    // The relays hold their sharded subscription on the new primary again.
    const text = await fixture
      .cluster()
      .cli(newPrimary, "PUBSUB", "SHARDNUMSUB", shardedPubsubChannel(victim));
    assert.equal(
      Number(text.trim().split("\n")[1]),
      2,
      "both relays resubscribed on the new primary",
    );
  });
});
