// Cluster mode against a real 3-primary Redis Cluster: two relays, channels on different shards,
// snapshots and live updates through the sharded publish script, the original guide's raw PUBLISH,
// and sharded subscriptions held only for channels with local subscribers (PUBSUB on each shard).
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { describe, test } from "node:test";
import { DEFAULT_HISTORY, keySlot, shardedPubsubChannel } from "@jobchannel/state";
import { freePort, startProcess, waitFor } from "@jobchannel/testkit";
import { subscribed } from "./helpers/client.ts";
import { clusterFixture } from "./helpers/cluster-fixture.ts";
import { held } from "./helpers/holder.ts";

const fixture = clusterFixture({ primaries: 3 });

/** The channels each shard holds sharded subscriptions for, canaries left out, by primary port. */
async function shardChannels(): Promise<Map<number, string[]>> {
  const out = new Map<number, string[]>();
  const primaries = (await fixture.cluster().nodes()).filter((n) => n.primary);
  for (const { port } of primaries) {
    const text = await fixture.cluster().cli(port, "PUBSUB", "SHARDCHANNELS", "jobchannel:{*");
    const names = text
      .split("\n")
      .map((l) => l.trim())
      .filter((l) => l && !l.includes("__canary__"));
    out.set(port, names.sort());
  }
  return out;
}

async function subscribers(channel: string): Promise<number> {
  const cluster = fixture.cluster();
  const port = await cluster.primaryOf(keySlot(shardedPubsubChannel(channel)));
  const text = await cluster.cli(port, "PUBSUB", "SHARDNUMSUB", shardedPubsubChannel(channel));
  return Number(text.trim().split("\n")[1]);
}

describe("relays on a Redis Cluster with sharded pub/sub", () => {
  test("two clients on two relays get snapshots and live updates from channels on three shards", async () => {
    const [a, b, c] = await fixture.channelsOnEveryShard("cluster");
    const store = fixture.store();
    const slots = [a, b, c].map((ch) => keySlot(shardedPubsubChannel(ch!)));
    const owners = await Promise.all(slots.map((s) => fixture.cluster().primaryOf(s)));
    assert.equal(new Set(owners).size, 3, `three shards: ${owners.join(", ")}`);
    for (const channel of [a!, b!, c!]) {
      await store.publish(
        channel,
        { jobId: "early", status: "processing", progress: 10 },
        DEFAULT_HISTORY,
      );
    }
    // Client 1 on relay 0 watches a and b; client 2 on relay 1 watches b and c.
    const one = await fixture.open(0, `?channels=${a},${b}`);
    const two = await fixture.open(1, `?channels=${b},${c}`);
    for (const [client, channels] of [
      [one, [a!, b!]],
      [two, [b!, c!]],
    ] as const) {
      for (const channel of channels) {
        const frame = await subscribed(client, channel);
        assert.deepEqual(
          (frame.jobs as { jobId: string; status: string }[]).map((j) => [j.jobId, j.status]),
          [["early", "processing"]],
          `snapshot of ${channel}`,
        );
      }
    }
    for (const channel of [a!, b!, c!]) {
      const published = await store.publish(
        channel,
        { jobId: "early", status: "completed", progress: 100 },
        DEFAULT_HISTORY,
      );
      assert.equal(published.receivers, channel === b ? 2 : 1, `SPUBLISH receivers on ${channel}`);
    }
    const completed = (client: typeof one, channel: string): boolean =>
      held(client, channel).get("early")?.status === "completed";
    await waitFor(
      () => completed(one, a!) && completed(one, b!) && completed(two, b!) && completed(two, c!),
      {
        what: "every live update",
      },
    );
    assert.equal(held(one, c!).size, 0, "client 1 never sees channel c");
    assert.equal(held(two, a!).size, 0, "client 2 never sees channel a");
  });

  test("the original guide's raw PUBLISH jobchannel:<channel> reaches subscribers (the cluster-wide slow path)", async () => {
    const [a, , c] = await fixture.channelsOnEveryShard("raw");
    const one = await fixture.open(0, `?channels=${a}`);
    const two = await fixture.open(1, `?channels=${c}`);
    await subscribed(one, a!);
    await subscribed(two, c!);
    const cluster = fixture.cluster();
    const port = cluster.ports[0]!;
    for (const channel of [a!, c!]) {
      const update = { jobId: "guide", status: "processing", progress: 50, timestamp: Date.now() };
      await cluster.cli(port, "PUBLISH", `jobchannel:${channel}`, JSON.stringify(update));
    }
    await waitFor(() => one.jobs().some((j) => j.jobId === "guide" && j.channel === a), {
      what: "the raw publish on relay 0",
    });
    await waitFor(() => two.jobs().some((j) => j.jobId === "guide" && j.channel === c), {
      what: "the raw publish on relay 1",
    });
  });

  test("a relay holds sharded subscriptions only for channels it has local subscribers on", async () => {
    const [a, b, c] = await fixture.channelsOnEveryShard("interest");
    const idle = (await fixture.channelsOnEveryShard("idle"))[0]!;
    const one = await fixture.open(0, `?channels=${a},${b}`);
    const two = await fixture.open(1, `?channels=${b}`);
    await subscribed(one, a!);
    await subscribed(one, b!);
    await subscribed(two, b!);
    const owner = async (ch: string): Promise<number> =>
      fixture.cluster().primaryOf(keySlot(shardedPubsubChannel(ch)));
    let shards = await shardChannels();
    for (const [port, names] of shards) {
      const mine = names.filter((n) => /^jobchannel:\{interest-|^jobchannel:\{idle-/.test(n));
      const expected = [];
      if (port === (await owner(a!))) expected.push(shardedPubsubChannel(a!));
      if (port === (await owner(b!))) expected.push(shardedPubsubChannel(b!));
      assert.deepEqual(mine, expected.sort(), `PUBSUB SHARDCHANNELS on ${port}`);
    }
    assert.equal(await subscribers(a!), 1, "a: relay 0 only");
    assert.equal(await subscribers(b!), 2, "b: both relays");
    assert.equal(await subscribers(c!), 0, "c: nobody watches it");
    assert.equal(await subscribers(idle), 0, "an idle channel: nobody");
    // The last local subscriber leaves: the relay's sharded subscription ends.
    one.send({ type: "unsubscribe", channels: [a, b] });
    await waitFor(async () => (await subscribers(a!)) === 0, { what: "a unsubscribed" });
    await waitFor(async () => (await subscribers(b!)) === 1, { what: "b held by relay 1 only" });
    two.close();
    await waitFor(async () => (await subscribers(b!)) === 0, { what: "b unsubscribed" });
    shards = await shardChannels();
    for (const [port, names] of shards) {
      assert.deepEqual(
        names.filter((n) => n.startsWith("jobchannel:{interest-")),
        [],
        `no interest-* subscription left on ${port}`,
      );
    }
    // Subscribing again after the last one left works from a fresh subscription.
    const three = await fixture.open(1, `?channels=${a}`);
    await subscribed(three, a!);
    assert.equal(await subscribers(a!), 1);
    await fixture.store().publish(a!, { jobId: "again", status: "completed" }, DEFAULT_HISTORY);
    await waitFor(() => three.jobs().some((j) => j.jobId === "again"), {
      what: "the update after resubscribing",
    });
  });

  test("a slot moved to another primary: the relay follows it and keeps delivering, the snapshot read follows MOVED", async () => {
    const [channel] = await fixture.channelsOnEveryShard("moving");
    const slot = keySlot(shardedPubsubChannel(channel!));
    const from = await fixture.cluster().primaryOf(slot);
    const primaries = (await fixture.cluster().nodes()).filter((n) => n.primary).map((n) => n.port);
    const to = primaries.find((p) => p !== from)!;
    const store = fixture.store();
    await store.publish(channel!, { jobId: "before", status: "completed" }, DEFAULT_HISTORY);
    const client = await fixture.open(0, `?channels=${channel}`);
    await subscribed(client, channel!);
    assert.equal(await subscribers(channel!), 1);
    await fixture.cluster().moveSlot(slot, to);
    assert.equal(await fixture.cluster().primaryOf(slot), to);
    // Published on the new owner (the publisher follows MOVED); the relay must be subscribed there.
    await waitFor(async () => (await subscribers(channel!)) === 1, {
      what: "the relay's sharded subscription on the slot's new primary",
    });
    await store.publish(channel!, { jobId: "after", status: "completed" }, DEFAULT_HISTORY);
    await waitFor(() => held(client, channel!).get("after")?.status === "completed", {
      what: "the update published after the move",
    });
    // A new subscriber's snapshot comes from the new owner, with the job stored before the move.
    const late = await fixture.open(1, `?channels=${channel}`);
    const frame = await subscribed(late, channel!);
    assert.deepEqual(
      (frame.jobs as { jobId: string }[]).map((j) => j.jobId),
      ["before", "after"],
    );
  });

  test("the jobchannel-worker runs a job on the cluster: BullMQ queue, state and SPUBLISH on the channel's shard", async () => {
    const bin = fileURLToPath(new URL("../../worker/bin/jobchannel-worker.js", import.meta.url));
    const port = await freePort();
    const worker = startProcess(process.execPath, [bin], {
      env: {
        ...process.env,
        LOG_LEVEL: "warn",
        PORT: String(port),
        REDIS_URL: fixture.cluster().url,
        JOBCHANNEL_JOB_TYPES: "job-updates",
      },
    });
    try {
      const api = `http://127.0.0.1:${port}`;
      await waitFor(
        async () => {
          if (worker.child.exitCode !== null) throw new Error(`worker exited: ${worker.logTail()}`);
          return (await fetch(`${api}/readyz`).catch(() => undefined))?.status === 200;
        },
        { what: "the worker on the cluster to be ready", timeoutMs: 20_000 },
      );
      const client = await fixture.open(0, "?channels=job-updates");
      await subscribed(client, "job-updates");
      const res = await fetch(`${api}/api/jobs/job-updates`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          company: { name: "Harbour Foods Ltd", country: "gb", directors: ["Anna Berg"] },
          financials: { revenue: 50e6, ebitda: 7.5e6, netDebt: 15e6, previousRevenue: 45e6 },
          deal: { enterpriseValue: 60e6, currency: "gbp" },
        }),
      });
      assert.equal(res.status, 202, await res.clone().text());
      const { jobId } = (await res.json()) as { jobId: string };
      await waitFor(() => held(client, "job-updates").get(jobId)?.status === "completed", {
        what: `job ${jobId} completed on the relay`,
        timeoutMs: 20_000,
      });
      const stored = await fixture.store().get("job-updates", jobId);
      assert.equal(stored?.status, "completed", "the final state is stored on the channel's shard");
      // BullMQ's keys carry the channel's hash tag, so they live on the channel's shard too.
      const slot = keySlot(shardedPubsubChannel("job-updates"));
      const owner = await fixture.cluster().primaryOf(slot);
      const keys = await fixture
        .cluster()
        .cli(owner, "--scan", "--pattern", "jobchannel:{job-updates}*");
      assert.match(keys, /queue/, "BullMQ keys under the channel's hash tag");
    } finally {
      await worker.stop(5000);
    }
  });
});
