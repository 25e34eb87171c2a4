// The side-by-side benchmark: the jobchannel relay, the bare ws + ioredis baseline, Socket.IO with
// its Redis adapter and Centrifugo with its Redis engine, driven by the same load generator in the
// same run, one scenario at a time with every system in turn. The server under test is pinned to
// core 0; clients, publisher and redis-server to core 1. Each ladder climbs delivery rates and keeps
// the highest one sustained (>= 95% delivered, p99 < 50 ms). Prints JSON; with --write also
// bench/RESULTS.md and the SVG plots.
import { execFileSync } from "node:child_process";
import { once } from "node:events";
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { arch, cpus, release, tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { startRedis, type Started } from "@jobchannel/testkit";
import { Redis } from "ioredis";
import { quantileMs, scrapeBuckets } from "./fanout-histogram.ts";
import { cpuSeconds, loadAverage, niceOf, rssBytes } from "./proc.ts";
import { summarizeProfile } from "./profile-summary.ts";
import { writeResults } from "./results-file.ts";
import type { BenchResult, FloorProbe, MemoryRun, Run, Step, StormRun } from "./result-types.ts";
import { SCENARIOS, type Scenario } from "./scenarios.ts";
import {
  SPECS,
  SYSTEMS,
  USER_TOKEN_SECRET,
  centrifugoAvailable,
  centrifugoVersion,
  pinned,
  prioritize,
  setNiceness,
  startSystem,
  type Server,
  type SystemName,
} from "./systems.ts";

const { values } = parseArgs({
  options: {
    scenarios: { type: "string", default: SCENARIOS.map((s) => s.id).join(",") },
    systems: { type: "string", default: SYSTEMS.join(",") },
    /** Replaces every ladder's rates (deliveries/s), e.g. for a short smoke run. */
    targets: { type: "string" },
    /** Replaces every ladder's connection count (and the users of `visibility: user`). */
    connections: { type: "string" },
    /** Connections of the memory scenario's steps and of the storm. */
    "memory-steps": { type: "string", default: "1000,5000,10000" },
    "storm-connections": { type: "string", default: "10000" },
    "storm-parallel": { type: "string", default: "500" },
    "warmup-seconds": { type: "string", default: "1" },
    "step-seconds": { type: "string", default: "3" },
    /** The relay's CPU profile (node --cpu-prof) at this rate on 1,000 clients over 10 channels; 0: none. */
    "profile-rate": { type: "string", default: "100000" },
    /** Scenarios not begun within this budget are skipped (and listed); the run then writes what it has. */
    "budget-minutes": { type: "string", default: "16" },
    /** nice(1) value of the servers, generator, publisher and redis-server (negative: root only). */
    nice: { type: "string", default: "-10" },
    /** Sockets of the write-floor probes (one burst writes once to each); 0: no probe. */
    "floor-sockets": { type: "string", default: "5000" },
    /** Hard stop: kills everything and fails. */
    "max-minutes": { type: "string", default: "25" },
    write: { type: "boolean", default: false },
  },
});

const here = fileURLToPath(new URL(".", import.meta.url));
const benchDir = fileURLToPath(new URL("..", import.meta.url));
const NODE = process.execPath;
const warmup = Number(values["warmup-seconds"]);
const measure = Number(values["step-seconds"]);
const P99_LIMIT_MS = 50;
const DELIVERED_FLOOR = 0.95;
const startedAt = Date.now();
const budgetMs = Number(values["budget-minutes"]) * 60_000;

setNiceness(Number(values.nice));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const children = new Set<Started>();
const log = (line: string): void => void process.stderr.write(`bench: ${line}\n`);

function track(started: Started): Started {
  children.add(started);
  void started.child.once("exit", () => children.delete(started));
  return started;
}

function node(core: number, script: string, args: string[]): Started {
  return track(pinned(core, NODE, [join(here, script), ...args]));
}

/** Sends a command line to a child and resolves with its next JSON answer of that event. */
function ask(
  child: Started,
  command: string | undefined,
  event: string,
  timeoutMs = 60_000,
): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.child.stdout! });
    const timer = setTimeout(() => {
      lines.close();
      reject(new Error(`no '${event}' from child in ${timeoutMs} ms: ${child.logTail()}`));
    }, timeoutMs);
    lines.on("line", (line) => {
      let message: Record<string, unknown>;
      try {
        message = JSON.parse(line) as Record<string, unknown>;
      } catch {
        return;
      }
      if (message.event !== event) return;
      clearTimeout(timer);
      lines.close();
      resolve(message);
    });
    if (command !== undefined) child.child.stdin!.write(command + "\n");
  });
}

/** CPU seconds of a process that may have exited already (NaN then). */
function cpuOrNaN(pid: number): number {
  try {
    return cpuSeconds(pid);
  } catch {
    return NaN;
  }
}

/** The server's RSS, after a full GC for the Node servers (see gc-on-signal.ts). */
async function rssSettled(system: SystemName, server: Server): Promise<number> {
  if (SPECS[system].node) process.kill(server.process.child.pid!, "SIGUSR2");
  await sleep(1000);
  return rssBytes(server.process.child.pid!);
}

interface Layout {
  /** Channels the server knows and the clients spread over. */
  channels: number;
  /** Users whose tokens the clients carry (relay, `visibility: user`); 0: none. */
  users: number;
  recipients: number;
}

function layoutOf(scenario: Scenario, system: SystemName): Layout {
  if (scenario.users === undefined)
    return {
      channels: scenario.channels,
      users: 0,
      recipients: scenario.connections / scenario.channels,
    };
  // One connection per user: the relay filters one channel by user, the peers use a channel per user.
  if (SPECS[system].userVisibility) return { channels: 1, users: scenario.users, recipients: 1 };
  return { channels: scenario.users, users: 0, recipients: 1 };
}

function startClients(
  system: SystemName,
  server: Server,
  layout: Layout,
  connections: number,
  first = 0,
  parallel = 100,
): Started {
  return node(1, "clients.ts", [
    "--port",
    String(server.port),
    "--protocol",
    SPECS[system].protocol,
    "--connections",
    String(connections),
    "--first",
    String(first),
    "--channels",
    String(layout.channels),
    "--parallel",
    String(parallel),
    ...(layout.users > 0
      ? ["--users", String(layout.users), "--token-secret", USER_TOKEN_SECRET]
      : []),
  ]);
}

async function runStep(
  system: SystemName,
  server: Server,
  clients: Started,
  redisUrl: string,
  layout: Layout,
  target: number,
): Promise<Step> {
  const rate = target / layout.recipients;
  const publisher = node(1, "publisher.ts", [
    "--via",
    SPECS[system].via,
    "--redis",
    redisUrl,
    ...(server.api ? ["--api", server.api] : []),
    "--rate",
    String(rate),
    "--channels",
    String(layout.channels),
    "--users",
    String(layout.users),
    // Long enough to outlast the window however slow the commands around it are; stopped after it.
    "--seconds",
    String(warmup + measure + 10),
  ]);
  await ask(publisher, undefined, "started", 30_000);
  await sleep(warmup * 1000);
  const histogram = system === "relay" ? await scrapeBuckets(server.port) : undefined;
  await ask(clients, "reset", "reset");
  const pid = server.process.child.pid!;
  const cpu0 = cpuSeconds(pid);
  const generator0 = cpuSeconds(clients.child.pid!);
  const publisher0 = cpuOrNaN(publisher.child.pid!);
  const t0 = performance.now();
  await sleep(measure * 1000);
  // The publisher may exit while the report is being computed: its CPU is read first.
  const publisherCpu = cpuOrNaN(publisher.child.pid!) - publisher0;
  const publisherSeconds = (performance.now() - t0) / 1000;
  const report = await ask(clients, "report", "report");
  const seconds = (performance.now() - t0) / 1000;
  const cpu = cpuSeconds(pid) - cpu0;
  const generatorCpu = cpuSeconds(clients.child.pid!) - generator0;
  const histogramAfter = histogram ? await scrapeBuckets(server.port) : undefined;
  await publisher.stop(2000);
  // What an overloaded server still has queued drains before the next rung.
  await sleep(1000);
  const count = Number(report.count);
  const deliveriesPerSec = count / seconds;
  const round = (v: unknown, digits = 3): number => Number(Number(v).toFixed(digits));
  const step: Step = {
    targetPerSec: target,
    publishPerSec: rate,
    deliveriesPerSec: Math.round(deliveriesPerSec),
    deliveredRatio: round(deliveriesPerSec / target),
    p50Ms: round(report.p50Ms),
    p99Ms: round(report.p99Ms),
    p999Ms: round(report.p999Ms),
    maxMs: round(report.maxMs),
    serverCpuPercent: round((cpu / seconds) * 100, 1),
    clientsCpuPercent: round((generatorCpu / seconds) * 100, 1),
    publisherCpuPercent: round((publisherCpu / publisherSeconds) * 100, 1),
    cpuPerDeliveryUs: count > 0 ? round((cpu / count) * 1e6, 2) : NaN,
    sustained: false,
    ...(histogram && histogramAfter
      ? {
          metricP50Ms: round(quantileMs(histogram, histogramAfter, 0.5)),
          metricP99Ms: round(quantileMs(histogram, histogramAfter, 0.99)),
        }
      : {}),
  };
  step.sustained = step.deliveredRatio >= DELIVERED_FLOOR && step.p99Ms < P99_LIMIT_MS;
  return step;
}

async function runLadder(
  scenario: Scenario,
  system: SystemName,
  redisUrl: string,
  dir: string,
): Promise<Run> {
  const layout = layoutOf(scenario, system);
  const server = await startSystem(
    system,
    { redisUrl, dir, channels: layout.channels, userVisibility: layout.users > 0 },
    track,
  );
  const rssBefore = await rssSettled(system, server);
  const clients = startClients(system, server, layout, scenario.connections);
  const ready = await ask(clients, undefined, "ready", 120_000);
  if (ready.subscribed !== scenario.connections)
    throw new Error(
      `${system}: only ${String(ready.subscribed)} of ${scenario.connections} subscribed (${String(ready.firstError ?? "")})`,
    );
  const rssIdle = await rssSettled(system, server);
  const steps: Step[] = [];
  const targets = values.targets ? values.targets.split(",").map(Number) : scenario.targets;
  for (const target of targets) {
    let step = await runStep(system, server, clients, redisUrl, layout, target);
    // On a shared machine one stall from elsewhere can spoil a rung's p99: a failed rung runs again once.
    if (!step.sustained) {
      log(`${scenario.id} ${system}: retrying ${JSON.stringify(step)}`);
      step = await runStep(system, server, clients, redisUrl, layout, target);
    }
    steps.push(step);
    log(`${scenario.id} ${system}: ${JSON.stringify(step)}`);
    if (!step.sustained) break;
  }
  clients.child.stdin!.write("exit\n");
  await clients.stop(2000);
  await server.process.stop(5000);
  const best = [...steps].reverse().find((s) => s.sustained);
  return {
    scenario: scenario.id,
    system,
    connections: scenario.connections,
    channels: layout.channels,
    users: layout.users,
    recipients: layout.recipients,
    rssIdleBytesPerConnection: Math.round((rssIdle - rssBefore) / scenario.connections),
    rssBeforeBytes: rssBefore,
    rssIdleBytes: rssIdle,
    steps,
    ...(best ? { maxSustained: best } : {}),
  };
}

/** Idle memory: connections added in steps (10 channels), RSS read after each. */
async function runMemory(system: SystemName, redisUrl: string, dir: string): Promise<MemoryRun> {
  const layout: Layout = { channels: 10, users: 0, recipients: 0 };
  const server = await startSystem(system, { redisUrl, dir, channels: 10 }, track);
  const rssBefore = await rssSettled(system, server);
  const points: MemoryRun["points"] = [];
  const groups: Started[] = [];
  let connected = 0;
  for (const total of values["memory-steps"]!.split(",").map(Number)) {
    const clients = startClients(system, server, layout, total - connected, connected);
    groups.push(clients);
    const ready = await ask(clients, undefined, "ready", 180_000);
    connected += Number(ready.subscribed);
    const rss = await rssSettled(system, server);
    points.push({
      connections: connected,
      rssBytes: rss,
      bytesPerConnection: Math.round((rss - rssBefore) / connected),
    });
    log(`memory ${system}: ${connected} connections, RSS ${(rss / 2 ** 20).toFixed(1)} MiB`);
  }
  for (const clients of groups) {
    clients.child.stdin!.write("exit\n");
    await clients.stop(2000);
  }
  await server.process.stop(5000);
  return { system, rssBeforeBytes: rssBefore, points };
}

/** Connection storm: every connection opened as fast as the generator can, `parallel` in flight. */
async function runStorm(system: SystemName, redisUrl: string, dir: string): Promise<StormRun> {
  const connections = Number(values["storm-connections"]);
  const parallel = Number(values["storm-parallel"]);
  const layout: Layout = { channels: 10, users: 0, recipients: 0 };
  const server = await startSystem(system, { redisUrl, dir, channels: 10 }, track);
  const pid = server.process.child.pid!;
  const cpu0 = cpuSeconds(pid);
  const clients = startClients(system, server, layout, connections, 0, parallel);
  const generator0 = cpuSeconds(clients.child.pid!);
  const t0 = performance.now();
  const ready = await ask(clients, undefined, "ready", 240_000);
  const seconds = (performance.now() - t0) / 1000;
  const serverCpu = cpuSeconds(pid) - cpu0;
  const generatorCpu = cpuSeconds(clients.child.pid!) - generator0;
  const subscribedMs = Number(ready.subscribedMs);
  const storm: StormRun = {
    system,
    connections,
    parallel,
    subscribed: Number(ready.subscribed),
    failed: Number(ready.failed),
    subscribedMs: Math.round(subscribedMs),
    connectsPerSec: Math.round(Number(ready.subscribed) / (subscribedMs / 1000)),
    connectP50Ms: Number(Number(ready.connectP50Ms).toFixed(1)),
    connectP99Ms: Number(Number(ready.connectP99Ms).toFixed(1)),
    serverCpuUsPerConnection: Math.round((serverCpu / connections) * 1e6),
    serverCpuPercent: Number(((serverCpu / seconds) * 100).toFixed(1)),
    clientsCpuPercent: Number(((generatorCpu / seconds) * 100).toFixed(1)),
  };
  log(`storm ${system}: ${JSON.stringify(storm)}`);
  clients.child.stdin!.write("exit\n");
  await clients.stop(2000);
  await server.process.stop(5000);
  return storm;
}

/**
 * The relay under node --cpu-prof at one rate, 1,000 clients over 10 channels; returns the profile
 * file and the step's window on the monotonic clock, so that start-up and connections stay out.
 */
async function profileRelay(
  redisUrl: string,
  dir: string,
  target: number,
): Promise<{ file: string; window: { fromUs: number; toUs: number } }> {
  const profileDir = join(dir, "cpu-prof");
  mkdirSync(profileDir);
  const layout: Layout = { channels: 10, users: 0, recipients: 100 };
  const server = await startSystem(
    "relay",
    {
      redisUrl,
      dir,
      channels: 10,
      nodeFlags: ["--cpu-prof", "--cpu-prof-dir", profileDir, "--cpu-prof-interval", "200"],
    },
    track,
  );
  const clients = startClients("relay", server, layout, 1000);
  await ask(clients, undefined, "ready", 120_000);
  const fromUs = Number(process.hrtime.bigint() / 1000n);
  const step = await runStep("relay", server, clients, redisUrl, layout, target);
  const toUs = Number(process.hrtime.bigint() / 1000n);
  log(`profile relay: ${JSON.stringify(step)}`);
  clients.child.stdin!.write("exit\n");
  await clients.stop(2000);
  await server.process.stop(20_000);
  const file = readdirSync(profileDir).find((f) => f.endsWith(".cpuprofile"));
  if (!file) throw new Error("the relay wrote no .cpuprofile");
  return { file: join(profileDir, file), window: { fromUs, toUs } };
}

/** Runs one write-floor probe on the server's core and parses its JSON. */
async function floorProbe(command: string, args: string[]): Promise<FloorProbe> {
  const probe = track(pinned(0, command, args));
  let out = "";
  probe.child.stdout!.on("data", (chunk: Buffer) => (out += chunk.toString("utf8")));
  // "close" comes after the process exited and its output ended.
  const [code] = (await once(probe.child, "close")) as [number | null];
  if (code !== 0) throw new Error(`write-floor probe failed (${code}): ${probe.logTail()}`);
  return JSON.parse(out) as FloorProbe;
}

/**
 * The least a burst can cost on this machine: one write of an update's size to each of `sockets`
 * loopback sockets, from a compiled Go probe (bench/write-floor, built here with `go build`) and
 * from Node's net.Socket written plainly and corked as the relay writes, all on the server's core.
 * Without a Go toolchain only the Node probes run.
 */
async function measureFloor(dir: string, skipped: string[]): Promise<BenchResult["floor"]> {
  const sockets = values["floor-sockets"]!;
  const args = ["--sockets", sockets, "--rounds", "20"];
  const floor: NonNullable<BenchResult["floor"]> = {};
  const go = goToolchain();
  if (go) {
    const binary = join(dir, "write-floor");
    execFileSync(go, ["build", "-trimpath", "-o", binary, "."], {
      cwd: join(benchDir, "write-floor"),
      stdio: ["ignore", "ignore", "inherit"],
      env: { ...process.env, CGO_ENABLED: "0" },
    });
    floor.go = await floorProbe(binary, args);
  } else skipped.push("the Go write-floor probe (no Go toolchain: put go on PATH or set GO)");
  floor.node = await floorProbe(NODE, [join(here, "write-floor.ts"), ...args]);
  floor.nodeCorked = await floorProbe(NODE, [join(here, "write-floor.ts"), ...args, "--cork"]);
  log(`write floor: ${JSON.stringify(floor)}`);
  return floor;
}

function goToolchain(): string | undefined {
  for (const candidate of [process.env.GO, "go", "/usr/local/go/bin/go"]) {
    if (!candidate) continue;
    try {
      execFileSync(candidate, ["version"], { stdio: "ignore" });
      return candidate;
    } catch {
      // not this one
    }
  }
  return undefined;
}

function overBudget(what: string, skipped: string[]): boolean {
  if (Date.now() - startedAt < budgetMs) return false;
  skipped.push(what);
  log(`budget spent: skipping ${what}`);
  return true;
}

async function main(): Promise<BenchResult> {
  const loadBefore = loadAverage();
  let systems = values.systems!.split(",") as SystemName[];
  const skipped: string[] = [];
  if (systems.includes("centrifugo") && !centrifugoAvailable()) {
    skipped.push("centrifugo (bin/centrifugo not built: run bench/scripts/build-centrifugo.sh)");
    systems = systems.filter((s) => s !== "centrifugo");
  }
  const redis = await startRedis();
  const probe = new Redis(redis.url);
  const redisPid = Number(/process_id:(\d+)/.exec(await probe.info("server"))?.[1]);
  probe.disconnect();
  execFileSync("taskset", ["-pc", "1", String(redisPid)], { stdio: "ignore" });
  execFileSync("renice", ["-n", values.nice!, "-p", String(redisPid)], { stdio: "ignore" });
  prioritize(redisPid);
  const appliedNice = niceOf(redisPid);
  const dir = mkdtempSync(join(tmpdir(), "jobchannel-bench-"));
  const runs: Run[] = [];
  const memory: MemoryRun[] = [];
  const storms: StormRun[] = [];
  let profile: BenchResult["profile"];
  let floor: BenchResult["floor"];
  const wanted = new Set(values.scenarios!.split(","));
  try {
    const scale = values.connections === undefined ? undefined : Number(values.connections);
    const chosen = SCENARIOS.filter((s) => wanted.has(s.id)).map((s) =>
      scale === undefined || s.kind !== "ladder"
        ? s
        : { ...s, connections: scale, ...(s.users ? { users: scale } : {}) },
    );
    if (Number(values["floor-sockets"]) > 0) floor = await measureFloor(dir, skipped);
    for (const scenario of chosen) {
      for (const system of systems) {
        if (overBudget(`${scenario.id} ${system}`, skipped)) continue;
        if (scenario.kind === "ladder")
          runs.push(await runLadder(scenario, system, redis.url, dir));
        else if (scenario.kind === "memory") memory.push(await runMemory(system, redis.url, dir));
        else storms.push(await runStorm(system, redis.url, dir));
      }
    }
    const rate = Number(values["profile-rate"]);
    if (rate > 0 && systems.includes("relay") && !overBudget("relay CPU profile", skipped)) {
      const { file, window } = await profileRelay(redis.url, dir, rate);
      profile = {
        target: rate,
        connections: 1000,
        channels: 10,
        ...summarizeProfile(file, window),
      };
    }
  } finally {
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  const version = (path: string): string =>
    (
      JSON.parse(readFileSync(join(benchDir, "..", path, "package.json"), "utf8")) as {
        version: string;
      }
    ).version;
  const git = (...args: string[]): string =>
    execFileSync("git", args, { cwd: benchDir, encoding: "utf8" }).trim();
  return {
    date: new Date().toISOString(),
    commit: git("rev-parse", "--short", "HEAD"),
    // The relay under test is the working tree's build: say whether it differs from the commit.
    relayTreeChanged: git("status", "--porcelain", "--", "../relay/src", "../protocol/src") !== "",
    durationSeconds: Math.round((Date.now() - startedAt) / 1000),
    machine: {
      cpu: cpus()[0]?.model ?? "unknown",
      cores: cpus().length,
      arch: arch(),
      kernel: release(),
      node: process.version,
      redis: execFileSync("redis-server", ["--version"], { encoding: "utf8" }).trim(),
      loadAverageBefore: loadBefore,
      loadAverageAfter: loadAverage(),
    },
    versions: {
      relay: version("relay"),
      ws: version("node_modules/ws"),
      ioredis: version("node_modules/ioredis"),
      "socket.io": version("node_modules/socket.io"),
      "@socket.io/redis-adapter": version("node_modules/@socket.io/redis-adapter"),
      "@socket.io/redis-emitter": version("node_modules/@socket.io/redis-emitter"),
      centrifugo: centrifugoVersion() ?? "not built",
    },
    method: {
      serverCore: 0,
      generatorCore: 1,
      warmupSeconds: warmup,
      stepSeconds: measure,
      p99LimitMs: P99_LIMIT_MS,
      deliveredFloor: DELIVERED_FLOOR,
      stormParallel: Number(values["storm-parallel"]),
      nice: appliedNice,
    },
    systems,
    skipped,
    runs,
    memory,
    storms,
    ...(profile ? { profile } : {}),
    ...(floor ? { floor } : {}),
  };
}

// Interrupted: exiting runs testkit's exit hook, which kills every child process.
for (const signal of ["SIGINT", "SIGTERM"] as const)
  process.once(signal, () => {
    log(`${signal}: stopping`);
    process.exit(130);
  });

const deadline = setTimeout(
  () => {
    log("time limit reached, stopping");
    for (const c of children) void c.stop(0);
    process.exit(1);
  },
  Number(values["max-minutes"]) * 60_000,
);
deadline.unref();

const result = await main();
process.stdout.write(JSON.stringify(result, null, 2) + "\n");
if (values.write) {
  const written = await writeResults(result);
  log(`wrote ${written.join(", ")}`);
}
