// The heartbeat frame, from the jobchannel-relay process with a short RELAY_HEARTBEAT_FRAME_SECONDS:
// an idle connection hears one at least once per interval, a busy one hears none.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { test } from "node:test";
import { waitFor } from "@jobchannel/testkit";
import { subscribed, type TestClient } from "./helpers/client.ts";
import { processFixture } from "./helpers/process-fixture.ts";
import { RELAY_BIN } from "./helpers/relay-process.ts";

const INTERVAL_MS = 200;
/** Timers may fire a little late on a busy machine. */
const SLACK_MS = 150;

const { open, publisher } = processFixture({
  RELAY_HEARTBEAT_FRAME_SECONDS: String(INTERVAL_MS / 1000),
});

/** Opens a client that records when each frame arrived. */
async function timedClient(query = ""): Promise<{ client: TestClient; times: number[] }> {
  const client = await open(query);
  const times: number[] = [];
  client.ws.on("message", () => times.push(Date.now()));
  return { client, times };
}

test("lists RELAY_HEARTBEAT_FRAME_SECONDS in --help", () => {
  const run = spawnSync(process.execPath, [RELAY_BIN, "--help"], { encoding: "utf8" });
  assert.match(run.stdout, /RELAY_HEARTBEAT_FRAME_SECONDS .*\(default 25\)/);
});

test("sends an idle connection a heartbeat frame at least once per interval", async () => {
  const openedAt = Date.now();
  const { client, times } = await timedClient();
  await waitFor(() => client.frames.length >= 8, { what: "8 heartbeats" });
  for (const frame of client.frames) {
    assert.deepEqual(frame, { type: "heartbeat", interval: INTERVAL_MS });
  }
  const gaps = times.map((t, i) => t - (i === 0 ? openedAt : times[i - 1]!));
  console.log(`# gaps between heartbeats on an idle connection, ms: ${gaps.join(", ")}`);
  for (const gap of gaps) assert.ok(gap <= INTERVAL_MS + SLACK_MS, `a silence of ${gap} ms`);
});

test("sends no heartbeat to a connection that gets other frames within the interval", async () => {
  const { client } = await timedClient("?channels=busy");
  await subscribed(client, "busy");
  for (let i = 0; i < 20; i++) {
    await publisher().publish(
      "jobchannel:busy",
      JSON.stringify({ jobId: "j", status: "processing", progress: i, timestamp: Date.now() }),
    );
    await new Promise((resolve) => setTimeout(resolve, INTERVAL_MS / 4));
  }
  assert.equal(client.jobs().length, 20);
  assert.equal(client.frames.filter((f) => f.type === "heartbeat").length, 0);
  await waitFor(() => client.frames.some((f) => f.type === "heartbeat"), {
    what: "a heartbeat once the updates stop",
  });
});
