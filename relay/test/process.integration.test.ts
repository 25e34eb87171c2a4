// The jobchannel-relay command as a separate process: --help, bad settings, a config file that
// changes, a slow client beside a fast one, and the SIGTERM drain.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync, renameSync } from "node:fs";
import type { Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { startRedis, waitFor, type TestRedis } from "@jobchannel/testkit";
import { Redis } from "ioredis";
import { connect, subscribed, type TestClient } from "./helpers/client.ts";
import { waitForReadiness } from "./helpers/readiness.ts";
import { RELAY_BIN, startRelayProcess, type RelayProcess } from "./helpers/relay-process.ts";

let redis: TestRedis;
let publisher: Redis;
let dir: string;
const clients: TestClient[] = [];
const relays: RelayProcess[] = [];

before(async () => {
  redis = await startRedis();
  publisher = new Redis(redis.url);
  dir = mkdtempSync(join(tmpdir(), "jobchannel-relay-test-"));
});

after(async () => {
  for (const c of clients) c.ws.terminate();
  for (const r of relays) await r.process.stop(2000);
  publisher.disconnect();
  await redis.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function start(env: Record<string, string>): Promise<RelayProcess> {
  const relay = await startRelayProcess({ REDIS_URL: redis.url, ...env });
  relays.push(relay);
  return relay;
}

async function open(relay: RelayProcess, query = ""): Promise<TestClient> {
  const client = await connect(relay.url + query);
  clients.push(client);
  return client;
}

function writeConfig(file: string, channels: unknown[]): void {
  // Written aside and renamed, as editors and ConfigMap volumes do.
  writeFileSync(`${file}.tmp`, JSON.stringify({ channels }));
  renameSync(`${file}.tmp`, file);
}

function job(jobId: string, progress: number, status = "processing", pad = 0): string {
  return JSON.stringify({ jobId, status, progress, timestamp: Date.now(), pad: "x".repeat(pad) });
}

describe("jobchannel-relay command", () => {
  test("prints every variable with --help and exits 0", () => {
    const run = spawnSync(process.execPath, [RELAY_BIN, "--help"], { encoding: "utf8" });
    assert.equal(run.status, 0);
    for (const name of [
      "PORT",
      "REDIS_URL",
      "RELAY_CONFIG_FILE",
      "RELAY_CONFIG_CONFIGMAP",
      "RELAY_JWT_SECRET",
      "RELAY_JWKS_URL",
      "RELAY_JWT_ISSUER",
      "RELAY_JWT_AUDIENCE",
      "LOG_LEVEL",
    ]) {
      assert.ok(run.stdout.includes(name), name);
    }
  });

  test("exits 1 naming a bad variable", () => {
    const run = spawnSync(process.execPath, [RELAY_BIN], {
      encoding: "utf8",
      env: { ...process.env, RELAY_DRAIN_SECONDS: "soon" },
    });
    assert.equal(run.status, 1);
    assert.match(run.stderr, /RELAY_DRAIN_SECONDS/);
  });

  test("applies a changed config file live: removed channels and lost access unsubscribe", async () => {
    const file = join(dir, "channels.json");
    writeConfig(file, [
      { name: "alpha", access: "public" },
      { name: "beta", access: "public" },
      { name: "gamma", access: "public" },
    ]);
    const relay = await start({
      RELAY_CONFIG_FILE: file,
      RELAY_JWT_SECRET: "process-test-secret-0123456789abcdef",
    });
    const client = await open(relay, "?channels=alpha,beta,gamma");
    for (const c of ["alpha", "beta", "gamma"]) await subscribed(client, c);
    writeConfig(file, [
      { name: "beta", access: "authenticated" },
      { name: "gamma", access: "public" },
    ]);
    const removed = await client.frame((f) => f.type === "unsubscribed" && f.channel === "alpha");
    const lost = await client.frame((f) => f.type === "unsubscribed" && f.channel === "beta");
    assert.equal(removed.reason, "channel_removed");
    assert.equal(lost.reason, "unauthorized");
    await publisher.publish("jobchannel:gamma", job("still-here", 1));
    await client.frame((f) => f.type === "job");
    client.send({ type: "subscribe", channels: ["alpha"] });
    assert.equal(
      (await client.frame((f) => f.type === "error" && f.channel === "alpha")).code,
      "unknown_channel",
    );
  });

  test("a slow client does not delay others and still receives every terminal update", async () => {
    const relay = await start({
      RELAY_SEND_BUFFER_BYTES: "16384",
      RELAY_SEND_QUEUE_LIMIT_BYTES: String(64 << 20),
    });
    const fast = await open(relay, "?channels=load");
    const slow = await open(relay, "?channels=load");
    await subscribed(fast, "load");
    await subscribed(slow, "load");
    // Stop reading the slow client's socket: its TCP window fills, then the relay's queue.
    const slowSocket = (slow.ws as unknown as { _socket: Socket })._socket;
    slowSocket.pause();

    const jobs = 40;
    const steps = 100;
    for (let i = 1; i <= steps; i++) {
      const batch = publisher.pipeline();
      for (let j = 0; j < jobs; j++)
        batch.publish("jobchannel:load", job(`job-${j}`, i, "processing", 4000));
      await batch.exec();
    }
    const terminal = publisher.pipeline();
    for (let j = 0; j < jobs; j++)
      terminal.publish("jobchannel:load", job(`job-${j}`, 100, "completed"));
    await terminal.exec();
    const publishedAt = Date.now();

    const done = (c: TestClient): boolean =>
      c.jobs().filter((j) => j.status === "completed").length === jobs;
    await waitFor(() => done(fast), {
      what: "every terminal update at the fast client",
      timeoutMs: 30_000,
    });
    const fastLag = Date.now() - publishedAt;
    assert.equal(slow.jobs().length, 0, "the slow client read nothing yet");
    assert.ok(fastLag < 5000, `the fast client finished ${fastLag} ms after the last publish`);
    const metrics = await relay.metrics();
    assert.ok(
      Number(/dropped_total\{reason="collapsed"\} (\d+)/.exec(metrics)?.[1]) > 0,
      "queued progress collapsed",
    );

    slowSocket.resume();
    await waitFor(() => done(slow), {
      what: "every terminal update at the slow client",
      timeoutMs: 30_000,
    });
    const received = slow.jobs();
    assert.ok(received.length < jobs * (steps + 1), `collapsed to ${received.length} frames`);
    for (let j = 0; j < jobs; j++) {
      const mine = received.filter((u) => u.jobId === `job-${j}`);
      const progress = mine.map((u) => u.progress as number);
      assert.deepEqual(
        progress,
        [...progress].sort((a, b) => a - b),
        `job-${j} in order`,
      );
      assert.equal(mine.at(-1)?.status, "completed");
    }
    assert.equal(slow.ws.readyState, slow.ws.OPEN);
  });

  test("drains on SIGTERM: /readyz 503 and jobchannel_relay_ready 0, every client closed with 1001 over the window, exit 0", async () => {
    const relay = await start({ RELAY_DRAIN_SECONDS: "2" });
    const list = await Promise.all(Array.from({ length: 20 }, () => open(relay, "?channels=load")));
    await Promise.all(list.map((c) => subscribed(c, "load")));
    const closedAt: number[] = [];
    const codes = Promise.all(
      list.map((c) =>
        c.closed.then((closed) => {
          closedAt.push(Date.now());
          return closed.code;
        }),
      ),
    );
    const exited = new Promise<number | null>((resolve) =>
      relay.process.child.once("exit", resolve),
    );
    await waitForReadiness(relay.http, true, { what: "/readyz 200 before the signal" });
    const signalledAt = Date.now();
    relay.process.child.kill("SIGTERM");
    const draining = await waitForReadiness(relay.http, false, {
      what: "/readyz 503 while draining",
    });
    assert.equal(draining.body.draining, true);
    assert.deepEqual(
      await codes,
      list.map(() => 1001),
    );
    assert.equal(await exited, 0);
    const spread = Math.max(...closedAt) - Math.min(...closedAt);
    assert.ok(spread > 400, `closes spread over ${spread} ms`);
    assert.ok(Math.max(...closedAt) - signalledAt < 4000, "within the window");
  });
});
