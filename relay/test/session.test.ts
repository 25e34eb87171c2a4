// A connection's session on the in-memory broker: frames queued behind a token check, close codes
// sent by clients as metric labels, and token expiry beyond the longest Node timer.
import assert from "node:assert/strict";
import type { Duplex } from "node:stream";
import { describe, mock, test } from "node:test";
import { waitFor } from "@jobchannel/testkit";
import type { AuthResult, Authenticator } from "../src/auth.ts";
import { Connection, type ConnectionHost, type RelaySocket } from "../src/connection.ts";
import { DEFAULT_LIMITS } from "../src/relay.ts";
import { memoryRelays } from "./helpers/memory-relay.ts";

const DAY_MS = 86_400_000;

/** Accepts every token for user u1 after `delayMs`, as a slow JWKS fetch would. */
function slowAuthenticator(delayMs: number): Authenticator {
  return {
    verify: () =>
      new Promise<AuthResult>((resolve) =>
        setTimeout(
          () =>
            resolve({
              ok: true,
              identity: { authenticated: true, sub: "u1", expiresAt: Date.now() + DAY_MS },
            }),
          delayMs,
        ),
      ),
  };
}

const startRelay = memoryRelays();

describe("connection session", () => {
  test("makes no subscription for a connection that closed while its token was verified", async () => {
    const { registry, open } = await startRelay({ auth: slowAuthenticator(100) });
    const client = await open("?access_token=t");
    client.send({ type: "auth", token: "t" });
    client.send({ type: "subscribe", channels: ["orphan"] });
    client.ws.close(1000);
    await client.closed;
    // The check answers 100 ms after the auth frame, long after the close.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const text = await registry.metrics();
    const subscriptions = Number(
      /jobchannel_relay_subscriptions\{channel="orphan"\} (\d+)/.exec(text)?.[1] ?? 0,
    );
    assert.equal(subscriptions, 0);
  });

  test("counts close codes outside the known ones under one label value", async () => {
    const { registry, open } = await startRelay();
    for (const code of [4999, 3123, 4001]) {
      const client = await open();
      client.ws.close(code);
      await client.closed;
    }
    await waitFor(
      async () =>
        /jobchannel_relay_disconnects_total\{code="other"\} 2/.test(await registry.metrics()),
      { what: "two unknown codes counted as other" },
    );
    const text = await registry.metrics();
    assert.doesNotMatch(text, /code="4999"|code="3123"/);
    assert.match(text, /jobchannel_relay_disconnects_total\{code="4001"\} 1/);
  });
});

describe("token expiry", () => {
  /** A Connection over a stand-in socket that records the close code. */
  function connection(): { connection: Connection; closes: number[] } {
    const closes: number[] = [];
    const ws = {
      OPEN: 1,
      readyState: 1,
      on() {},
      close(code: number) {
        closes.push(code);
      },
      terminate() {},
    } as unknown as RelaySocket;
    const host: ConnectionHost = {
      onFrame() {},
      onClose() {},
      onDeferredWrite() {},
      onDrop() {},
      onRefusal() {},
    };
    return { connection: new Connection(ws, {} as Duplex, host, DEFAULT_LIMITS), closes };
  }

  test("keeps a connection whose token is valid for 30 days past the 24.8-day timer limit", () => {
    mock.timers.enable({ apis: ["setTimeout", "Date"], now: 0 });
    try {
      const { connection: c, closes } = connection();
      c.setIdentity({ authenticated: true, sub: "u1", expiresAt: 30 * DAY_MS });
      mock.timers.tick(2 ** 31);
      assert.deepEqual(closes, [], "not closed at 24.8 days");
      mock.timers.tick(29 * DAY_MS - 2 ** 31);
      assert.deepEqual(closes, [], "not closed at 29 days");
      mock.timers.tick(DAY_MS);
      assert.deepEqual(closes, [4001], "closed with 4001 at 30 days");
    } finally {
      mock.timers.reset();
    }
  });
});
