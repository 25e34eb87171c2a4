// A reconnect storm on one jobchannel-relay process and a real redis-server: 1,000 clients of one
// channel holding 1,000 retained jobs cost a few snapshot script calls, not one per client.
import assert from "node:assert/strict";
import { test } from "node:test";
import { DEFAULT_HISTORY, RedisJobStore } from "@jobchannel/state";
import { waitFor } from "@jobchannel/testkit";
import type { TestClient } from "./helpers/client.ts";
import { held } from "./helpers/holder.ts";
import { processFixture } from "./helpers/process-fixture.ts";

const CLIENTS = 1000;
const JOBS = 1000;
const CHANNEL = "storm";
/** Most snapshot script calls the storm may cost on one relay. */
const MAX_READS = 10;

const { publisher, open } = processFixture();

/** Calls of scripts Redis served since the last reset (EVALSHA, plus EVAL after a NOSCRIPT). */
async function scriptCalls(): Promise<{ calls: number; lines: string[] }> {
  const stats = await publisher().info("commandstats");
  const lines = stats.split("\r\n").filter((l) => /^cmdstat_(evalsha|eval|fcall):/.test(l));
  const calls = lines.reduce((sum, l) => sum + Number(/calls=(\d+)/.exec(l)![1]), 0);
  return { calls, lines };
}

function connectAll(): Promise<TestClient[]> {
  return Promise.all(Array.from({ length: CLIENTS }, () => open(`?channels=${CHANNEL}`)));
}

test("1,000 clients reconnecting on one channel of 1,000 jobs cost a few snapshot reads", async () => {
  const store = new RedisJobStore(publisher());
  await Promise.all(
    Array.from({ length: JOBS }, (_, i) =>
      store.publish(
        CHANNEL,
        { jobId: `job-${i}`, status: "processing", progress: 50 },
        DEFAULT_HISTORY,
      ),
    ),
  );
  const first = await connectAll();
  await waitFor(() => first.every((c) => held(c, CHANNEL).size === JOBS), {
    what: "every client holding every job",
    timeoutMs: 60_000,
    intervalMs: 200,
  });
  for (const c of first) c.ws.terminate();

  await publisher().config("RESETSTAT");
  const startedAt = Date.now();
  const again = await connectAll();
  await waitFor(() => again.every((c) => held(c, CHANNEL).size === JOBS), {
    what: "every reconnected client holding every job",
    timeoutMs: 60_000,
    intervalMs: 200,
  });
  const took = Date.now() - startedAt;
  const { calls, lines } = await scriptCalls();
  console.log(
    `# ${CLIENTS} clients reconnected and held all ${JOBS} jobs in ${took} ms; snapshot script calls Redis served: ${calls} (${lines.join("; ")})`,
  );
  assert.ok(calls >= 1, "at least one read");
  assert.ok(calls <= MAX_READS, `${calls} snapshot script calls for ${CLIENTS} clients`);
});
