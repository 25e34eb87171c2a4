// A jobchannel-relay process under hostile input: its channel config file, a canary client that
// keeps receiving a steady stream while the cases run, and the check that the process survived.
import assert from "node:assert/strict";
import { mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before } from "node:test";
import { percentile, waitFor } from "@jobchannel/testkit";
import type { TestClient } from "./client.ts";
import { processFixture, type ProcessFixture } from "./process-fixture.ts";
import { SECRET } from "./relay.ts";

/** The public channel the canary listens on; every hostile relay's config has it. */
export const CANARY_CHANNEL = "canary";

/** A channel entry of the relay's config file. */
export interface ChannelEntry {
  name: string;
  access: "public" | "authenticated";
  visibility?: "channel" | "user";
  history?: { maxJobs: number; ttlSeconds: number };
  maxMessageBytes?: number;
}

/** A client on the canary channel and the latencies (publish timestamp to receipt) it saw. */
export interface Canary {
  /** Forgets the latencies so far: the next p99 covers only what follows. */
  reset(): void;
  /** The p99 of the latencies since the last reset, ms. */
  p99Ms(): number;
  /** Resolves once an update published after this call has arrived, and the client is open. */
  flowing(): Promise<void>;
}

export interface HostileRelay extends ProcessFixture {
  readonly configFile: string;
  /** Replaces the channel config (the canary channel is kept), written aside and renamed. */
  writeConfig(channels: ChannelEntry[]): void;
  readonly canary: Canary;
  /** 1 when the relay process exited before the file ended, else 0. */
  crashes(): number;
  /**
   * Asserts that the relay process is alive, /healthz and /readyz answer 200, and the canary
   * still receives: the checks run after each batch of cases.
   */
  survived(): Promise<void>;
}

/** Interval of the canary's updates, ms. */
const CANARY_INTERVAL_MS = 50;

/**
 * Registers a relay process with `channels` (plus the canary's) and the HS256 secret of
 * `token()`, and a canary started before the first test; `env` adds to the relay's environment
 * (a function is called once the file starts).
 */
export function hostileRelayFixture(
  channels: ChannelEntry[],
  env: Record<string, string> | (() => Promise<Record<string, string>>) = {},
): HostileRelay {
  const dir = mkdtempSync(join(tmpdir(), "jobchannel-hostile-"));
  const configFile = join(dir, "channels.json");
  const writeConfig = (entries: ChannelEntry[]): void => {
    const all = [{ name: CANARY_CHANNEL, access: "public" }, ...entries];
    writeFileSync(`${configFile}.tmp`, JSON.stringify({ channels: all }));
    renameSync(`${configFile}.tmp`, configFile);
  };
  writeConfig(channels);

  let timer: NodeJS.Timeout | undefined;
  let client: TestClient | undefined;
  let latencies: number[] = [];
  let published = 0;
  // Registered before the process fixture's hooks, so it runs first: the publishing stops before
  // the relay and Redis do.
  let stopping = false;
  let crashed = 0;
  after(() => {
    stopping = true;
    clearInterval(timer);
    rmSync(dir, { recursive: true, force: true });
  });
  const fixture = processFixture(async () => ({
    RELAY_CONFIG_FILE: configFile,
    RELAY_JWT_SECRET: SECRET,
    ...(typeof env === "function" ? await env() : env),
  }));
  before(async () => {
    // Top-level hooks of a running file start at once: wait for the fixture's relay.
    await waitFor(() => fixture.relay(), { what: "the relay process", timeoutMs: 30_000 });
    fixture.relay().process.child.once("exit", () => {
      if (!stopping) crashed = 1;
    });
    client = await fixture.open(`?channels=${CANARY_CHANNEL}`);
    await client.frame((f) => f.type === "subscribed", "the canary's subscription");
    client.ws.on("message", (data) => {
      const frame = JSON.parse(String(data)) as { type: string; job?: { timestamp: number } };
      if (frame.type === "job" && frame.job) latencies.push(Date.now() - frame.job.timestamp);
    });
    timer = setInterval(() => {
      published++;
      void fixture
        .publisher()
        .publish(
          `jobchannel:${CANARY_CHANNEL}`,
          JSON.stringify({ jobId: `canary-${published}`, status: "queued", timestamp: Date.now() }),
        );
    }, CANARY_INTERVAL_MS);
  });

  const canary: Canary = {
    reset() {
      latencies = [];
    },
    p99Ms: () => Math.round(percentile(latencies, 99) * 10) / 10,
    async flowing() {
      const seen = client!.frames.length;
      await waitFor(() => client!.frames.length > seen + 1, {
        what: "the canary to receive another update",
      });
      assert.equal(client!.ws.readyState, client!.ws.OPEN, "the canary client is still open");
    },
  };

  return {
    ...fixture,
    configFile,
    writeConfig,
    canary,
    crashes: () => crashed,
    async survived() {
      const relay = fixture.relay();
      assert.equal(
        relay.process.child.exitCode,
        null,
        `the relay process is alive: ${relay.process.logTail()}`,
      );
      assert.equal((await fetch(`${relay.http}/healthz`)).status, 200, "/healthz");
      assert.equal((await fetch(`${relay.http}/readyz`)).status, 200, "/readyz");
      await canary.flowing();
    },
  };
}
