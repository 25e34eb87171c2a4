// A connection storm on one jobchannel-relay process and a real redis-server: thousands of clients
// connect at once (10,000 in the full profile, 2,500 in make test's), the relay stays ready, every
// client is subscribed or told 1013, each one then receives every final update, and the relay's
// memory per connection is printed.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createInterface, type Interface } from "node:readline";
import { fileURLToPath } from "node:url";
import { after, test } from "node:test";
import { DEFAULT_HISTORY, RedisJobStore } from "@jobchannel/state";
import { nextEvent, recordFaults, startProcess, waitFor, type Started } from "@jobchannel/testkit";
import { processFixture } from "./helpers/process-fixture.ts";

const FULL = process.env.JOBCHANNEL_RELIABILITY_PROFILE === "full";
const CLIENTS = FULL ? 10_000 : 2_500;
/** Clients per child process, so that no process nears its file-descriptor limit. */
const PER_CHILD = 5_000;
const JOBS = 10;
const CHANNEL = "storm";
/** A gross-leak guard, far above the ~14 KB per idle connection bench/RESULTS.md measures after GC. */
const MAX_RSS_PER_CONNECTION = 200 * 1024;
const CHILD = fileURLToPath(new URL("./helpers/storm-clients.ts", import.meta.url));

/** What a storm child reports: its clients' outcomes. */
interface Report {
  clients: number;
  settled: number;
  subscribed: number;
  open: number;
  closes: Record<string, number>;
  refused: Record<string, number>;
  errors: Record<string, number>;
  /** Open clients by how many completed jobs they hold. */
  completed: Record<string, number>;
  duplicates: number;
  settleMs?: number;
}

interface Child {
  process: Started;
  lines: Interface;
  report(): Promise<Report>;
}

function startChild(port: number, count: number): Child {
  const started = startProcess(
    process.execPath,
    [CHILD, "--port", String(port), "--path", `/ws?channels=${CHANNEL}`, "--count", String(count)],
    { stdio: ["pipe", "pipe", "pipe"] },
  );
  const lines = createInterface({ input: started.child.stdout! });
  return {
    process: started,
    lines,
    async report() {
      const answer = nextEvent<[string]>(lines, "line", (l) => l.includes('"event":"report"'));
      started.child.stdin!.write("report\n");
      return JSON.parse((await answer)[0]) as Report;
    },
  };
}

function sum(reports: Report[]): Report {
  const add = (into: Record<string, number>, from: Record<string, number>): void => {
    for (const [k, n] of Object.entries(from)) into[k] = (into[k] ?? 0) + n;
  };
  const total: Report = {
    clients: 0,
    settled: 0,
    subscribed: 0,
    open: 0,
    closes: {},
    refused: {},
    errors: {},
    completed: {},
    duplicates: 0,
    settleMs: 0,
  };
  for (const r of reports) {
    total.clients += r.clients;
    total.settled += r.settled;
    total.subscribed += r.subscribed;
    total.open += r.open;
    total.duplicates += r.duplicates;
    add(total.closes, r.closes);
    add(total.refused, r.refused);
    add(total.errors, r.errors);
    add(total.completed, r.completed);
    total.settleMs =
      r.settleMs === undefined || total.settleMs === undefined
        ? undefined
        : Math.max(total.settleMs, r.settleMs);
  }
  return total;
}

/** User + system CPU seconds of a process (/proc/<pid>/stat fields 14 and 15, at 100 ticks/s). */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) * 1024;
}

/**
 * Fails early, naming the fix, when the open-file limit cannot hold the storm: the relay holds a
 * socket per client, each child one per client of its share. Node raises its own soft limit to
 * the hard one at start-up, and the processes the test spawns inherit it.
 */
function checkFileLimit(needed: number): void {
  const soft = /^Max open files\s+(\d+|unlimited)/m.exec(
    readFileSync("/proc/self/limits", "utf8"),
  )![1]!;
  if (soft !== "unlimited" && Number(soft) < needed)
    throw new Error(
      `the storm needs ${needed} open files per process, the limit is ${soft}: raise the hard limit (ulimit -Hn, or LimitNOFILE)`,
    );
}

checkFileLimit(CLIENTS + 512);
const { publisher: redisClient, relay: relayProcess } = processFixture();
const children: Child[] = [];

after(async () => {
  for (const c of children) {
    c.process.child.stdin!.write("exit\n");
    await c.process.stop(2000);
  }
});

test(`${CLIENTS.toLocaleString("en-US")} clients connecting at once: the relay stays ready, each is subscribed or told 1013, and every final update reaches each one`, async () => {
  const relay = relayProcess();
  const store = new RedisJobStore(redisClient());
  for (let i = 0; i < JOBS; i++)
    await store.publish(CHANNEL, { jobId: `job-${i}`, status: "processing" }, DEFAULT_HISTORY);
  const pid = relay.process.child.pid!;
  const rssBefore = rssBytes(pid);
  const cpuBefore = cpuSeconds(pid);

  // /readyz is sampled through the storm: every answer must be 200.
  const readiness: number[] = [];
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      const started = Date.now();
      const status = await fetch(`${relay.http}/readyz`, { signal: AbortSignal.timeout(5000) })
        .then((r) => r.status)
        .catch(() => 0);
      readiness.push(status);
      await new Promise((r) => setTimeout(r, Math.max(0, 100 - (Date.now() - started))));
    }
  })();

  const port = Number(new URL(relay.url).port);
  const startedAt = Date.now();
  for (let left = CLIENTS; left > 0; left -= PER_CHILD)
    children.push(startChild(port, Math.min(PER_CHILD, left)));
  const storm = await waitFor(
    async () => {
      for (const c of children)
        if (c.process.child.exitCode !== null)
          throw new Error(`a storm child exited: ${c.process.logTail()}`);
      const r = sum(await Promise.all(children.map((c) => c.report())));
      return r.settleMs !== undefined && r;
    },
    { what: "every client subscribed or refused", timeoutMs: 120_000, intervalMs: 250 },
  );
  const stormSeconds = (Date.now() - startedAt) / 1000;
  sampling = false;
  await sampler;

  const rssAfter = rssBytes(pid);
  const cpuPerConnection = (cpuSeconds(pid) - cpuBefore) / CLIENTS;
  const perConnection = (rssAfter - rssBefore) / Math.max(1, storm.open);
  const connections = Number(
    /^jobchannel_relay_connections (\d+)/m.exec(await relay.metrics())?.[1] ?? NaN,
  );
  console.log(
    `# storm: ${CLIENTS} clients settled in ${stormSeconds.toFixed(1)} s (${storm.subscribed} subscribed, closes ${JSON.stringify(storm.closes)}, refused ${JSON.stringify(storm.refused)}, errors ${JSON.stringify(storm.errors)}); /readyz sampled ${readiness.length} times, ${readiness.filter((s) => s !== 200).length} not 200; relay RSS ${(rssBefore / 2 ** 20).toFixed(1)} -> ${(rssAfter / 2 ** 20).toFixed(1)} MiB, ${(perConnection / 1024).toFixed(1)} KiB per connection (no forced GC); relay CPU ${(cpuPerConnection * 1000).toFixed(2)} ms per connection; jobchannel_relay_connections ${connections}; load average ${readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ")}`,
  );

  for (let i = 0; i < JOBS; i++)
    await store.publish(
      CHANNEL,
      { jobId: `job-${i}`, status: "completed", progress: 100 },
      DEFAULT_HISTORY,
    );
  let final = storm;
  const publishedAt = Date.now();
  await waitFor(
    async () => {
      final = sum(await Promise.all(children.map((c) => c.report())));
      return final.completed[String(JOBS)] === final.open;
    },
    { what: "every open client holding every completed job", timeoutMs: 60_000, intervalMs: 250 },
  ).catch(() => {});
  const holdingAll = final.completed[String(JOBS)] ?? 0;
  const missingPairs = final.open - holdingAll;
  recordFaults({
    scenario: "connection storm on one relay",
    load: `${CLIENTS.toLocaleString("en-US")} clients connecting in ${stormSeconds.toFixed(1)} s, ${JOBS} jobs`,
    faultsInjected: 0,
    updatesPublished: JOBS * 2,
    finalUpdatesDelivered: missingPairs === 0 ? JOBS : 0,
    lost: missingPairs === 0 ? 0 : JOBS,
    duplicatesShown: final.duplicates,
    recoverySeconds: null,
  });
  console.log(
    `# storm: ${JOBS} final updates reached ${holdingAll} of ${final.open} open clients in ${Date.now() - publishedAt} ms; ${final.duplicates} duplicates`,
  );

  assert.ok(readiness.length > 0, "/readyz was sampled");
  assert.deepEqual(
    readiness.filter((s) => s !== 200),
    [],
    "/readyz answered 200 throughout",
  );
  assert.deepEqual(storm.refused, {}, "no upgrade refused");
  assert.deepEqual(storm.errors, {}, "no socket error");
  assert.deepEqual(
    Object.keys(storm.closes).filter((code) => code !== "1013"),
    [],
    "no close other than 1013",
  );
  assert.equal(storm.subscribed + (storm.closes["1013"] ?? 0), CLIENTS);
  assert.equal(connections, storm.open, "the relay counts every open client");
  assert.equal(missingPairs, 0, "every open client holds every completed job");
  assert.equal(final.duplicates, 0, "no update shown twice");
  assert.ok(
    perConnection < MAX_RSS_PER_CONNECTION,
    `${(perConnection / 1024).toFixed(1)} KiB RSS per connection`,
  );
});
