// Gaps in the relay's Redis subscription, with real redis-server and jobchannel-relay processes:
// after each one every subscriber ends holding every job's final state, published through the
// state scripts while the relay was not subscribed.
import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { beforeEach, describe, test } from "node:test";
import { DEFAULT_HISTORY, RedisJobStore } from "@jobchannel/state";
import { Redis } from "ioredis";
import { recordFaults, waitFor } from "@jobchannel/testkit";
import { subscribed, type TestClient } from "./helpers/client.ts";
import { duplicatesShown, finalsMissed } from "./helpers/fault-figures.ts";
import { holdsAll } from "./helpers/holder.ts";
import { processFixture } from "./helpers/process-fixture.ts";
import { waitForReadiness } from "./helpers/readiness.ts";

const SUBSCRIBERS = 5;
const JOBS = ["job-a", "job-b", "job-c"];
/** Longest time from the final publish to every subscriber holding every final state, ms. */
const BOUND_MS = 15_000;

const fixture = processFixture({
  RELAY_WATCHDOG_SECONDS: "0.2",
  RELAY_WATCHDOG_TIMEOUT_SECONDS: "1",
});
let round = 0;

beforeEach(() => {
  round++;
});

function store(redis: Redis = fixture.publisher()): RedisJobStore {
  return new RedisJobStore(redis);
}

function channel(): string {
  return `recovery-${round}`;
}

/** Subscribers that hold every job in `processing`, seen live. */
async function subscribers(): Promise<TestClient[]> {
  const mine: TestClient[] = [];
  for (let i = 0; i < SUBSCRIBERS; i++) {
    const client = await fixture.open(`?channels=${channel()}`);
    mine.push(client);
    await subscribed(client, channel());
  }
  for (const jobId of JOBS) {
    await store().publish(
      channel(),
      { jobId, status: "processing", progress: 40 },
      DEFAULT_HISTORY,
    );
  }
  const processing = new Map(JOBS.map((j) => [j, "processing"]));
  await waitFor(() => mine.every((c) => holdsAll(c, channel(), processing)), {
    what: "every subscriber holding processing",
  });
  return mine;
}

function publishFinal(redis?: Redis): Promise<unknown> {
  return Promise.all(
    JOBS.map((jobId) =>
      store(redis).publish(
        channel(),
        { jobId, status: "completed", progress: 100 },
        DEFAULT_HISTORY,
      ),
    ),
  );
}

/**
 * Waits until every subscriber holds every job completed; prints and returns the time it took,
 * and records the scenario's figures for the reliability report, caught up or not.
 */
async function finalStateReached(mine: TestClient[], since: number, what: string): Promise<number> {
  const completed = new Map(JOBS.map((j) => [j, "completed"]));
  let took: number | undefined;
  try {
    await waitFor(() => mine.every((c) => holdsAll(c, channel(), completed)), {
      what: `every subscriber holding every final state after ${what}`,
      timeoutMs: BOUND_MS,
      intervalMs: 20,
    });
    took = Date.now() - since;
  } finally {
    const lost = finalsMissed(mine, channel(), completed);
    recordFaults({
      scenario: `relay on redis-server: ${what}`,
      load: `${SUBSCRIBERS} subscribers, ${JOBS.length} jobs`,
      faultsInjected: 1,
      updatesPublished: JOBS.length * 2,
      finalUpdatesDelivered: JOBS.length - lost,
      lost,
      duplicatesShown: duplicatesShown(mine, channel()),
      recoverySeconds: took === undefined ? null : took / 1000,
    });
  }
  console.log(
    `# ${what}: ${SUBSCRIBERS} subscribers held all ${JOBS.length} final states ${took} ms after the final publish (bound ${BOUND_MS} ms)`,
  );
  for (const c of mine) assert.equal(c.ws.readyState, c.ws.OPEN);
  return took;
}

async function recoveries(): Promise<number> {
  return Number(
    /^jobchannel_relay_recoveries_total (\d+)/m.exec(await fixture.relay().metrics())?.[1] ?? 0,
  );
}

async function redisPid(): Promise<number> {
  const info = await fixture.publisher().info("server");
  return Number(/process_id:(\d+)/.exec(info)![1]);
}

/**
 * Stops Redis (unless already killed), waits for /readyz to fail, restarts it 3 s later and returns
 * a fresh connection: it publishes at once, while the relay's own still waits out its backoff.
 */
async function restartedRedis(): Promise<Redis> {
  await fixture.redis().kill();
  await waitForReadiness(fixture.relay().http, false, {
    what: "/readyz to fail with Redis down",
  });
  await new Promise((resolve) => setTimeout(resolve, 3000));
  await fixture.redis().start();
  return new Redis(fixture.redis().url);
}

describe("recovery after a gap in the Redis subscription", () => {
  test("Redis killed and restarted 3 s later, the final update published the moment it is back", async () => {
    const mine = await subscribers();
    const before = await recoveries();
    // Persisted as a Redis with persistence would be, so job state and seq counters survive.
    await fixture.publisher().save();
    const fresh = await restartedRedis();
    await publishFinal(fresh);
    fresh.disconnect();
    const since = Date.now();
    const readyz = await (await fetch(`${fixture.relay().http}/readyz`)).json();
    console.log(`# /readyz right after the final publish: ${JSON.stringify(readyz)}`);
    await finalStateReached(mine, since, "a Redis restart");
    await waitForReadiness(fixture.relay().http, true, { what: "/readyz back", timeoutMs: 10_000 });
    assert.ok((await recoveries()) > before, "jobchannel_relay_recoveries_total counted it");
  });

  test("Redis killed with SIGKILL without persistence, restarted empty, the final update published the moment it is back", async () => {
    const mine = await subscribers();
    const before = await recoveries();
    // No save: the earlier test's dump goes too, so Redis comes back with no keys at all.
    const [, dir] = (await fixture.publisher().config("GET", "dir")) as [string, string];
    rmSync(join(dir, "dump.rdb"), { force: true });
    process.kill(await redisPid(), "SIGKILL");
    const fresh = await restartedRedis();
    assert.equal(await fresh.dbsize(), 0, "Redis came back empty, the seq counters gone");
    await publishFinal(fresh);
    fresh.disconnect();
    const since = Date.now();
    await finalStateReached(mine, since, "a Redis restart that lost every key");
    await waitForReadiness(fixture.relay().http, true, { what: "/readyz back", timeoutMs: 10_000 });
    assert.ok((await recoveries()) > before, "jobchannel_relay_recoveries_total counted it");
  });

  test("Redis paused with SIGSTOP past the watchdog timeout, then SIGCONT", async () => {
    const mine = await subscribers();
    const before = await recoveries();
    const pid = await redisPid();
    process.kill(pid, "SIGSTOP");
    let published: Promise<unknown> | undefined;
    try {
      await waitForReadiness(fixture.relay().http, false, {
        what: "/readyz to fail on the watchdog",
      });
      // Sent while Redis sleeps: it runs the scripts when it wakes, beside the relay's resubscribe.
      published = publishFinal();
      await new Promise((resolve) => setTimeout(resolve, 1500));
    } finally {
      process.kill(pid, "SIGCONT");
    }
    await published;
    const since = Date.now();
    await finalStateReached(mine, since, "SIGSTOP and SIGCONT");
    await waitForReadiness(fixture.relay().http, true, { what: "/readyz back", timeoutMs: 10_000 });
    assert.ok((await recoveries()) > before, "jobchannel_relay_recoveries_total counted it");
  });

  test("CLIENT KILL TYPE pubsub, the final update published at once", async () => {
    const mine = await subscribers();
    const before = await recoveries();
    const killer = fixture.publisher().pipeline();
    killer.call("CLIENT", "KILL", "TYPE", "pubsub");
    await killer.exec();
    await publishFinal();
    const since = Date.now();
    await finalStateReached(mine, since, "CLIENT KILL TYPE pubsub");
    await waitFor(async () => (await recoveries()) > before, {
      what: "jobchannel_relay_recoveries_total counting it",
    });
  });
});
