// A soak of one jobchannel-relay process on a real redis-server: updates published at a steady
// rate through the store's publish script while clients come and go at random, for
// JOBCHANNEL_SOAK_SECONDS (180 in make test, 1800 in make soak). The relay's RSS and event-loop
// delay and Redis's used_memory are sampled; after a warm-up their least-squares slopes must be
// flat, and every final update must reach every steady subscriber.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { test } from "node:test";
import { RedisJobStore, type History } from "@jobchannel/state";
import { recordFaults, waitFor } from "@jobchannel/testkit";
import WebSocket from "ws";
import { processFixture } from "./helpers/process-fixture.ts";

const SECONDS = Number(process.env.JOBCHANNEL_SOAK_SECONDS ?? 180);
/** Updates published per second. */
const RATE = 50;
/** Jobs in progress at once; each goes queued, processing, processing, then completed or failed. */
const ACTIVE_JOBS = 16;
const STEADY = 20;
/** Churning clients kept open on average, each for 0.2 to 8 s. */
const CHURN = 40;
const CHANNEL = "soak";
/** Retention that fills within the warm-up, so that Redis memory can level off. */
const HISTORY: History = { maxJobs: 200, ttlSeconds: 600 };
const WARM_UP_SECONDS = Math.max(30, SECONDS * 0.25);
const SAMPLE_MS = Math.min(10_000, Math.max(1000, (SECONDS * 1000) / 120));
const SEED = Number(process.env.JOBCHANNEL_SOAK_SEED ?? Date.now() % 2 ** 31);

/**
 * How much a series may grow over the fitted window (slope x window) and still count as flat:
 * the larger of an absolute floor and a share of its mean. The event-loop delay's bound is the
 * widest: in make test other suites share the cores, and their load comes and goes within the
 * window, while a delay that grows with the relay's own state keeps growing over a long soak.
 */
const FLAT = {
  rssMiB: { floor: 16, share: 0.1 },
  loopP99Ms: { floor: 20, share: 1 },
  redisMiB: { floor: 0.5, share: 0.1 },
} as const;

/** mulberry32: a small seeded generator, so a run's churn can be replayed from its seed. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Least-squares slope of y over x. */
function slope(points: readonly { x: number; y: number }[]): number {
  const n = points.length;
  const mx = points.reduce((s, p) => s + p.x, 0) / n;
  const my = points.reduce((s, p) => s + p.y, 0) / n;
  let num = 0;
  let den = 0;
  for (const p of points) {
    num += (p.x - mx) * (p.y - my);
    den += (p.x - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

interface JobMessage {
  jobId: string;
  seq: number;
  status: string;
}

/** A subscriber kept for the whole soak: which jobs' final updates it holds, and duplicates. */
class SteadySubscriber {
  readonly ws: WebSocket;
  /** Job number -> 1 once its final update arrived. */
  readonly finals = new Uint8Array(1 << 20);
  finalCount = 0;
  duplicates = 0;
  closeCode: number | undefined;
  readonly #seqs = new Map<string, number>();

  constructor(url: string) {
    this.ws = new WebSocket(url, { perMessageDeflate: false });
    this.ws.on("message", (data) => this.#onFrame(String(data)));
    this.ws.on("close", (code) => (this.closeCode = code));
  }

  #onFrame(text: string): void {
    const frame = JSON.parse(text) as { type: string; job?: JobMessage; jobs?: JobMessage[] };
    for (const job of frame.type === "job" ? [frame.job!] : (frame.jobs ?? [])) {
      const n = Number(job.jobId.slice(4));
      const held = this.#seqs.get(job.jobId);
      if ((held !== undefined && job.seq <= held) || this.finals[n] === 1) {
        this.duplicates++;
        continue;
      }
      if (job.status === "completed" || job.status === "failed") {
        this.#seqs.delete(job.jobId);
        this.finals[n] = 1;
        this.finalCount++;
      } else {
        this.#seqs.set(job.jobId, job.seq);
      }
    }
  }
}

interface Sample {
  /** Minutes since the soak began. */
  t: number;
  rssMiB: number;
  loopP99Ms: number;
  redisMiB: number;
  connections: number;
}

const GC_ON_SIGNAL = fileURLToPath(new URL("./helpers/gc-on-signal.ts", import.meta.url));
// The relay runs a full collection on SIGUSR2 before each sample: RSS between collections is a
// sawtooth of minutes (about 100 to 145 MiB here), which a slope over a short window would read
// as growth or shrinkage depending on where the window cuts it.
const { publisher: redis, relay: relayProcess } = processFixture({
  NODE_OPTIONS: `--expose-gc --import=${GC_ON_SIGNAL}`,
});

/** Runs a full collection in the relay and waits until it has answered a request since. */
async function collected(relay: ReturnType<typeof relayProcess>): Promise<void> {
  process.kill(relay.process.child.pid!, "SIGUSR2");
  await fetch(`${relay.http}/healthz`);
}

test(`a ${SECONDS} s soak at ${RATE} updates/s with client churn keeps the relay's RSS and event-loop delay and Redis memory flat, and loses no final update`, async () => {
  const relay = relayProcess();
  const url = `${relay.url}?channels=${CHANNEL}`;
  const pid = relay.process.child.pid!;
  const rand = random(SEED);
  console.log(`# soak: seed ${SEED} (JOBCHANNEL_SOAK_SEED replays the churn)`);

  const steady = Array.from({ length: STEADY }, () => new SteadySubscriber(url));
  await waitFor(() => steady.every((s) => s.ws.readyState === WebSocket.OPEN), {
    what: "the steady subscribers open",
  });

  // Churn: clients open through ?channels= or a subscribe frame and leave by close or a cut.
  const churning = new Set<{ ws: WebSocket; until: number }>();
  let connects = 0;
  let cuts = 0;
  const churn = setInterval(() => {
    const now = Date.now();
    for (const c of churning) {
      if (c.until > now) continue;
      churning.delete(c);
      if (rand() < 0.5) c.ws.close();
      else {
        c.ws.terminate();
        cuts++;
      }
    }
    while (churning.size < CHURN * (0.5 + rand())) {
      const byFrame = rand() < 0.5;
      const ws = new WebSocket(byFrame ? relay.url : url, { perMessageDeflate: false });
      ws.on("error", () => {});
      if (byFrame) ws.on("open", () => ws.send(`{"type":"subscribe","channels":["${CHANNEL}"]}`));
      churning.add({ ws, until: now + 200 + rand() * 7800 });
      connects++;
      if (churning.size >= CHURN * 1.5) break;
    }
  }, 100);

  // Steady publishing: each slot publishes the next stage of a random job in progress.
  const store = new RedisJobStore(redis());
  const stages = ["queued", "processing", "processing"] as const;
  const active: { n: number; stage: number }[] = [];
  let jobs = 0;
  let published = 0;
  let publishing = true;
  const startedAt = Date.now();
  const publishLoop = (async () => {
    while (publishing) {
      while (active.length < ACTIVE_JOBS) active.push({ n: jobs++, stage: 0 });
      const i = Math.floor(rand() * active.length);
      const job = active[i]!;
      const stage = stages[job.stage];
      const input =
        stage === undefined
          ? rand() < 0.1
            ? { jobId: `job-${job.n}`, status: "failed" as const, error: "soak" }
            : { jobId: `job-${job.n}`, status: "completed" as const, progress: 100 }
          : { jobId: `job-${job.n}`, status: stage, progress: job.stage * 40 };
      await store.publish(CHANNEL, input, HISTORY);
      published++;
      if (stage === undefined) active.splice(i, 1);
      else job.stage++;
      const due = startedAt + (published * 1000) / RATE;
      await new Promise((r) => setTimeout(r, Math.max(0, due - Date.now())));
    }
  })();

  // The measurement: a sample every SAMPLE_MS until the soak's time is up.
  const samples: Sample[] = [];
  while (Date.now() - startedAt < SECONDS * 1000) {
    await new Promise((r) => setTimeout(r, SAMPLE_MS));
    // Every interval's event-loop delay holds one forced collection (the previous sample's): it
    // raises the level alike in each, not the slope.
    const metrics = await relay.metrics();
    await collected(relay);
    const memory = await redis().info("memory");
    samples.push({
      t: (Date.now() - startedAt) / 60_000,
      rssMiB:
        Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))![1]) / 1024,
      loopP99Ms:
        Number(/^nodejs_eventloop_lag_p99_seconds (\S+)/m.exec(metrics)?.[1] ?? NaN) * 1000,
      redisMiB: Number(/^used_memory:(\d+)/m.exec(memory)![1]) / 2 ** 20,
      connections: Number(/^jobchannel_relay_connections (\d+)/m.exec(metrics)?.[1] ?? NaN),
    });
    if (steady.some((s) => s.closeCode !== undefined)) break;
  }
  publishing = false;
  await publishLoop;
  clearInterval(churn);
  for (const c of churning) c.ws.terminate();
  const finals = jobs - active.length;

  // Every final update published reaches every steady subscriber.
  await waitFor(() => steady.every((s) => s.finalCount >= finals), {
    what: "every steady subscriber holding every final update",
    timeoutMs: 30_000,
  }).catch(() => {});
  const missed = new Set<number>();
  for (let n = 0; n < jobs; n++) {
    if (active.some((a) => a.n === n)) continue;
    if (steady.some((s) => s.finals[n] !== 1)) missed.add(n);
  }
  const duplicates = steady.reduce((sum, s) => sum + s.duplicates, 0);
  const elapsed = (Date.now() - startedAt) / 1000;

  const fitted = samples.filter((s) => s.t * 60 >= WARM_UP_SECONDS);
  const window = fitted.length > 1 ? fitted.at(-1)!.t - fitted[0]!.t : 0;
  const trends = (["rssMiB", "loopP99Ms", "redisMiB"] as const).map((key) => {
    const points = fitted.map((s) => ({ x: s.t, y: s[key] }));
    const perMinute = slope(points);
    const mean = points.reduce((sum, p) => sum + p.y, 0) / Math.max(1, points.length);
    const allowed = Math.max(FLAT[key].floor, FLAT[key].share * mean);
    return { key, perMinute, mean, growth: perMinute * window, allowed };
  });
  const every = Math.ceil(samples.length / 20);
  for (const s of samples.filter((_, i) => i % every === 0))
    console.log(
      `# soak sample t=${(s.t * 60).toFixed(0)}s rss=${s.rssMiB.toFixed(1)}MiB loopP99=${s.loopP99Ms.toFixed(2)}ms redis=${s.redisMiB.toFixed(2)}MiB connections=${s.connections}`,
    );
  for (const t of trends)
    console.log(
      `# soak slope ${t.key}: ${t.perMinute.toFixed(3)} per min over ${window.toFixed(1)} min after ${WARM_UP_SECONDS} s warm-up (mean ${t.mean.toFixed(2)}; growth ${t.growth.toFixed(2)}, allowed ${t.allowed.toFixed(2)})`,
    );
  console.log(
    `# soak: ${published} updates, ${finals} final, ${connects} churn connects (${cuts} cut without close), ${missed.size} finals missed, ${duplicates} duplicates, in ${elapsed.toFixed(0)} s`,
  );

  recordFaults({
    scenario: "soak: steady publishing with client churn",
    load: `${(SECONDS / 60).toFixed(0)} min at ${RATE} updates/s, ${STEADY} steady and ~${CHURN} churning clients (${connects.toLocaleString("en-US")} connects)`,
    faultsInjected: cuts,
    updatesPublished: published,
    finalUpdatesDelivered: finals - missed.size,
    lost: missed.size,
    duplicatesShown: duplicates,
    recoverySeconds: null,
  });

  for (const s of steady) s.ws.terminate();
  assert.deepEqual(
    steady.map((s) => s.closeCode).filter((c) => c !== undefined),
    [],
    "no steady subscriber was disconnected",
  );
  assert.ok(fitted.length >= 10, `${fitted.length} samples after the warm-up`);
  assert.deepEqual(
    [...missed].slice(0, 10),
    [],
    "every final update reached every steady subscriber",
  );
  assert.equal(duplicates, 0, "no update shown twice");
  for (const t of trends)
    assert.ok(
      t.growth <= t.allowed,
      `${t.key} grew ${t.growth.toFixed(2)} over ${window.toFixed(1)} min (allowed ${t.allowed.toFixed(2)})`,
    );
});
