// Lease-based leader election against an in-memory Lease with optimistic concurrency.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { pino } from "pino";
import { waitFor } from "@jobchannel/testkit";
import { LeaderElector, type LeaseClient, type LeaseRecord } from "../src/leader-election.ts";

function memoryLease() {
  let stored: LeaseRecord | undefined;
  let version = 0;
  let down = false;
  const client: LeaseClient = {
    async get() {
      if (down) throw new Error("connection refused");
      return stored;
    },
    async create(record) {
      if (down) throw new Error("connection refused");
      if (stored) throw Object.assign(new Error("exists"), { code: 409 });
      stored = { ...record, resourceVersion: String(++version) };
      return stored;
    },
    async update(record) {
      if (down) throw new Error("connection refused");
      if (!stored || record.resourceVersion !== stored.resourceVersion) {
        throw Object.assign(new Error("conflict"), { code: 409 });
      }
      stored = { ...record, resourceVersion: String(++version) };
      return stored;
    },
  };
  return { client, current: () => stored, setDown: (d: boolean) => (down = d) };
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
    const lease = memoryLease();
    const log: string[] = [];
    const a = elector(lease.client, "a", log);
    a.start();
    await waitFor(() => a.isLeader);
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
    const lease = memoryLease();
    const log: string[] = [];
    const a = elector(lease.client, "a", log);
    a.start();
    await waitFor(() => a.isLeader);
    lease.setDown(true);
    await waitFor(() => !a.isLeader, { timeoutMs: 1000, what: "step down" });
    assert.deepEqual(log, ["a leads", "a stops"]);
    lease.setDown(false);
    await waitFor(() => a.isLeader, { timeoutMs: 1000, what: "lead again once the API is back" });
    await a.stop();
  });
});
