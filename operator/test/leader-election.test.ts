// Lease-based leader election against an in-memory Lease with optimistic concurrency.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { pino } from "pino";
import { waitFor } from "@jobchannel/testkit";
import { LeaderElector, type LeaseClient, type LeaseRecord } from "../src/leader-election.ts";

/**
 * How the in-memory API answers: normally, with a fast error, never (until the request is aborted),
 * or, for a write, never while still applying it.
 */
type Mode = "up" | "down" | "hung" | "unanswered";

function memoryLease() {
  let stored: LeaseRecord | undefined;
  let version = 0;
  let mode: Mode = "up";
  let hung = 0;
  let aborted = 0;
  const answer = async <T>(
    signal: AbortSignal | undefined,
    act: () => T,
    write = false,
  ): Promise<T> => {
    if (mode === "down") throw new Error("connection refused");
    if (mode === "hung" || (mode === "unanswered" && write)) {
      if (mode === "unanswered") act();
      hung++;
      return new Promise<T>((_, reject) =>
        signal?.addEventListener("abort", () => {
          aborted++;
          reject(signal.reason);
        }),
      );
    }
    return act();
  };
  const client: LeaseClient = {
    get: (signal) => answer(signal, () => stored),
    create: (record, signal) =>
      answer(signal, () => {
        if (stored) throw Object.assign(new Error("exists"), { code: 409 });
        stored = { ...record, resourceVersion: String(++version) };
        return stored;
      }),
    update: (record, signal) =>
      answer(
        signal,
        () => {
          if (!stored || record.resourceVersion !== stored.resourceVersion) {
            throw Object.assign(new Error("conflict"), { code: 409 });
          }
          stored = { ...record, resourceVersion: String(++version) };
          return stored;
        },
        true,
      ),
  };
  return {
    client,
    current: () => stored,
    setDown: (d: boolean) => (mode = d ? "down" : "up"),
    setMode: (m: Mode) => (mode = m),
    hung: () => hung,
    aborted: () => aborted,
  };
}

function elector(client: LeaseClient, identity: string, log: string[], now?: () => number) {
  return new LeaderElector({
    client,
    identity,
    leaseDurationMs: 300,
    renewDeadlineMs: 200,
    retryPeriodMs: 20,
    logger: pino({ level: "silent" }),
    onStartedLeading: () => log.push(`${identity} leads`),
    onStoppedLeading: () => log.push(`${identity} stops`),
    ...(now ? { now } : {}),
  });
}

/** An in-memory Lease and candidate "a" that leads it. */
async function leading() {
  const lease = memoryLease();
  const log: string[] = [];
  const a = elector(lease.client, "a", log);
  a.start();
  await waitFor(() => a.isLeader);
  return { lease, log, a };
}

describe("LeaderElector", () => {
  it("lets exactly one of two candidates lead", async () => {
    const lease = memoryLease();
    const log: string[] = [];
    const a = elector(lease.client, "a", log);
    const b = elector(lease.client, "b", log);
    a.start();
    b.start();
    await waitFor(() => log.length >= 1);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal([a.isLeader, b.isLeader].filter(Boolean).length, 1);
    assert.equal(log.length, 1);
    await a.stop();
    await b.stop();
  });

  it("hands over when the leader stops, releasing the Lease at once", async () => {
    const { lease, log, a } = await leading();
    const b = elector(lease.client, "b", log);
    b.start();
    await a.stop();
    assert.equal(
      lease.current()?.holderIdentity === "" || lease.current()?.holderIdentity === "b",
      true,
    );
    await waitFor(() => b.isLeader, {
      timeoutMs: 200,
      what: "b to take over before the lease would expire",
    });
    assert.deepEqual(log, ["a leads", "a stops", "b leads"]);
    assert.equal(lease.current()?.leaseTransitions, 1);
    await b.stop();
  });

  it("takes over from a leader that stopped renewing once the lease duration passes", async () => {
    const lease = memoryLease();
    const log: string[] = [];
    // A crashed leader: its record stays and nobody renews it.
    const now = Date.now();
    await lease.client.create({
      holderIdentity: "crashed",
      leaseDurationSeconds: 1,
      acquireTime: now,
      renewTime: now,
      leaseTransitions: 4,
    });
    const b = elector(lease.client, "b", log);
    const started = Date.now();
    b.start();
    await waitFor(() => b.isLeader, { timeoutMs: 3000 });
    assert.ok(Date.now() - started >= 950, "waits for the lease duration of the record");
    assert.equal(lease.current()?.leaseTransitions, 5);
    await b.stop();
  });

  it("steps down when it cannot renew within the renew deadline", async () => {
    const { lease, log, a } = await leading();
    lease.setDown(true);
    await waitFor(() => !a.isLeader, { timeoutMs: 1000, what: "step down" });
    assert.deepEqual(log, ["a leads", "a stops"]);
    lease.setDown(false);
    await waitFor(() => a.isLeader, { timeoutMs: 1000, what: "lead again once the API is back" });
    await a.stop();
  });

  it("steps down at the renew deadline while a renew request hangs, after fast failures", async () => {
    const { lease, a } = await leading();
    // The last renewal the leader made; it steps down renewDeadlineMs (200) after that attempt began.
    const renewTime = () => lease.current()!.renewTime;
    const before = renewTime();
    await waitFor(() => renewTime() !== before, { timeoutMs: 1000, what: "a renewal" });
    const lastRenew = renewTime();
    lease.setDown(true);
    await new Promise<void>((resolve) => {
      const check = setInterval(() => {
        if (Date.now() - lastRenew >= 80) {
          clearInterval(check);
          resolve();
        }
      }, 5);
    });
    lease.setMode("hung");
    await waitFor(() => !a.isLeader, { timeoutMs: 1000, intervalMs: 2, what: "step down" });
    const steppedDown = Date.now() - lastRenew;
    assert.ok(steppedDown <= 200 + 30, `stepped down ${steppedDown} ms after the last renewal`);
    assert.ok(steppedDown < 300, "before the lease duration passed");
    assert.ok(lease.aborted() >= 1, "the hung request was aborted");
    lease.setMode("up");
    await a.stop();
  });

  it("bounds an acquire attempt that hangs and tries again", async () => {
    const lease = memoryLease();
    lease.setMode("hung");
    const log: string[] = [];
    const a = elector(lease.client, "a", log);
    a.start();
    await waitFor(() => lease.aborted() >= 2, { timeoutMs: 1000, what: "two aborted attempts" });
    lease.setMode("up");
    await waitFor(() => a.isLeader, { timeoutMs: 1000, what: "lead once the API answers" });
    await a.stop();
  });

  it("aborts a hung renewal at once when stopped, and bounds the release", async () => {
    const { lease, log, a } = await leading();
    lease.setMode("hung");
    await waitFor(() => lease.hung() >= 1, { timeoutMs: 200, what: "a renewal in flight" });
    const started = Date.now();
    const stopped = a.stop();
    await waitFor(() => lease.aborted() >= 1, {
      timeoutMs: 50,
      intervalMs: 2,
      what: "the renewal to be aborted",
    });
    await stopped;
    // The release hangs too, and gives up after the renew deadline.
    assert.ok(Date.now() - started < 200 + 50, "stop() is bounded");
    assert.deepEqual(log, ["a leads", "a stops"]);
  });

  it("releases the Lease when stop() aborted a renewal the API had applied", async () => {
    const { lease, log, a } = await leading();
    lease.setMode("unanswered");
    await waitFor(() => lease.hung() >= 1, { timeoutMs: 200, what: "a renewal in flight" });
    const renewed = lease.current()?.resourceVersion;
    lease.setMode("up");
    await a.stop();
    assert.equal(lease.current()?.holderIdentity, "");
    assert.notEqual(lease.current()?.resourceVersion, renewed, "the renewed version was released");
    assert.deepEqual(log, ["a leads", "a stops"]);
  });

  it("refuses a renew deadline that is not below the lease duration", () => {
    assert.throws(
      () =>
        new LeaderElector({
          client: memoryLease().client,
          identity: "a",
          leaseDurationMs: 200,
          renewDeadlineMs: 200,
          retryPeriodMs: 20,
          logger: pino({ level: "silent" }),
          onStartedLeading: () => {},
          onStoppedLeading: () => {},
        }),
      RangeError,
    );
  });
});
