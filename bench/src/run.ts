// The relay benchmark: the jobchannel relay and a bare ws + ioredis baseline, measured in the same
// run on the same machine. Server pinned to core 0; clients, publisher and redis-server on core 1.
// Each system climbs a ladder of delivery rates per connection count and keeps the highest rate it
// sustains (>= 95% delivered, p99 < 50 ms). Prints JSON; with --write also bench/RESULTS.md.
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { arch, cpus, release, tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { freePort, startProcess, startRedis, waitFor, type Started } from "@jobchannel/testkit";
import { Redis } from "ioredis";
import { cpuSeconds, loadAverage, rssBytes } from "./proc.ts";
import { renderResults, type BenchResult, type Run, type Step } from "./results.ts";

const { values } = parseArgs({
  options: {
    connections: { type: "string", default: "1000,5000" },
    channels: { type: "string", default: "10,1" },
    systems: { type: "string", default: "relay,baseline" },
    targets: { type: "string", default: "25000,50000,75000,100000,150000,200000,300000" },
    "warmup-seconds": { type: "string", default: "1" },
    "step-seconds": { type: "string", default: "4" },
    "max-minutes": { type: "string", default: "25" },
    write: { type: "boolean", default: false },
  },
});

const here = fileURLToPath(new URL(".", import.meta.url));
const RELAY_BIN = fileURLToPath(new URL("../../relay/bin/jobchannel-relay.js", import.meta.url));
const NODE = process.execPath;
const warmup = Number(values["warmup-seconds"]);
const measure = Number(values["step-seconds"]);
const targets = values.targets!.split(",").map(Number);
const P99_LIMIT_MS = 50;
const DELIVERED_FLOOR = 0.95;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const children: Started[] = [];

function pinned(
  core: number,
  args: string[],
  env: Record<string, string> = {},
  nodeFlags: string[] = [],
): Started {
  const started = startProcess("taskset", ["-c", String(core), NODE, ...nodeFlags, ...args], {
    env: { ...process.env, ...env },
    stdio: ["pipe", "pipe", "pipe"],
  });
  children.push(started);
  return started;
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

const SERVER_FLAGS = ["--expose-gc", "--import", join(here, "gc-on-signal.ts")];

async function startServer(
  system: string,
  redisUrl: string,
  dir: string,
  channels: number,
): Promise<{ server: Started; port: number }> {
  const port = await freePort();
  const env = { PORT: String(port), REDIS_URL: redisUrl };
  let server: Started;
  if (system === "relay") {
    const config = join(dir, "channels.json");
    const list = Array.from({ length: channels }, (_, i) => ({
      name: `bench-${i}`,
      access: "public",
    }));
    writeFileSync(config, JSON.stringify({ channels: list }));
    server = pinned(
      0,
      [RELAY_BIN],
      { ...env, RELAY_HOST: "127.0.0.1", RELAY_CONFIG_FILE: config, LOG_LEVEL: "warn" },
      SERVER_FLAGS,
    );
  } else {
    server = pinned(0, [join(here, "baseline-server.ts")], env, SERVER_FLAGS);
  }
  await waitFor(
    async () => {
      if (server.child.exitCode !== null) throw new Error(server.logTail());
      return (await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200;
    },
    { what: `${system} ready`, timeoutMs: 20_000 },
  );
  return { server, port };
}

/** The server's RSS after a full GC (see gc-on-signal.ts). */
async function rssAfterGc(server: Started): Promise<number> {
  process.kill(server.child.pid!, "SIGUSR2");
  await sleep(1000);
  return rssBytes(server.child.pid!);
}

async function runStep(
  server: Started,
  clients: Started,
  redisUrl: string,
  connections: number,
  channels: number,
  target: number,
): Promise<Step> {
  // Every update reaches the connections of one channel: connections / channels of them.
  const rate = (target * channels) / connections;
  const publisher = pinned(1, [
    join(here, "publisher.ts"),
    "--redis",
    redisUrl,
    "--rate",
    String(rate),
    "--channels",
    String(channels),
    "--seconds",
    String(warmup + measure + 0.5),
  ]);
  await ask(publisher, undefined, "started", 30_000);
  const published = ask(publisher, undefined, "published", (warmup + measure + 30) * 1000);
  await sleep(warmup * 1000);
  await ask(clients, "reset", "reset");
  const pid = server.child.pid!;
  const cpu0 = cpuSeconds(pid);
  const generator0 = cpuSeconds(clients.child.pid!);
  const t0 = performance.now();
  await sleep(measure * 1000);
  const report = await ask(clients, "report", "report");
  const seconds = (performance.now() - t0) / 1000;
  const cpu = cpuSeconds(pid) - cpu0;
  const generatorCpu = cpuSeconds(clients.child.pid!) - generator0;
  await published;
  await sleep(1000);
  const count = Number(report.count);
  const deliveriesPerSec = count / seconds;
  const step: Step = {
    targetPerSec: target,
    publishPerSec: rate,
    deliveriesPerSec: Math.round(deliveriesPerSec),
    deliveredRatio: Number((deliveriesPerSec / target).toFixed(3)),
    p50Ms: Number(Number(report.p50Ms).toFixed(3)),
    p99Ms: Number(Number(report.p99Ms).toFixed(3)),
    maxMs: Number(Number(report.maxMs).toFixed(3)),
    serverCpuPercent: Number(((cpu / seconds) * 100).toFixed(1)),
    clientsCpuPercent: Number(((generatorCpu / seconds) * 100).toFixed(1)),
    cpuPerDeliveryUs: count > 0 ? Number(((cpu / count) * 1e6).toFixed(2)) : NaN,
    sustained: false,
  };
  step.sustained = step.deliveredRatio >= DELIVERED_FLOOR && step.p99Ms < P99_LIMIT_MS;
  return step;
}

async function runSystem(
  system: string,
  connections: number,
  channels: number,
  redisUrl: string,
  dir: string,
): Promise<Run> {
  const { server, port } = await startServer(system, redisUrl, dir, channels);
  const rssBefore = await rssAfterGc(server);
  const clients = pinned(1, [
    join(here, "clients.ts"),
    "--port",
    String(port),
    "--connections",
    String(connections),
    "--channels",
    String(channels),
  ]);
  const ready = await ask(clients, undefined, "ready", 120_000);
  if (ready.subscribed !== connections)
    throw new Error(`only ${String(ready.subscribed)} of ${connections} subscribed`);
  const rssIdle = await rssAfterGc(server);
  const steps: Step[] = [];
  for (const target of targets) {
    let step = await runStep(server, clients, redisUrl, connections, channels, target);
    // On a shared machine one stall from elsewhere can spoil a rung's p99: a failed rung runs again once.
    if (!step.sustained) {
      process.stderr.write(
        `${system} ${connections} / ${channels}: retrying ${JSON.stringify(step)}\n`,
      );
      step = await runStep(server, clients, redisUrl, connections, channels, target);
    }
    steps.push(step);
    process.stderr.write(
      `${system} ${connections} conns / ${channels} channels: ${JSON.stringify(step)}\n`,
    );
    if (!step.sustained) break;
  }
  clients.child.stdin!.write("exit\n");
  await clients.stop(2000);
  await server.stop(5000);
  const best = [...steps].reverse().find((s) => s.sustained);
  return {
    system,
    connections,
    channels,
    rssIdleBytesPerConnection: Math.round((rssIdle - rssBefore) / connections),
    rssBeforeBytes: rssBefore,
    rssIdleBytes: rssIdle,
    steps,
    ...(best ? { maxSustained: best } : {}),
  };
}

async function main(): Promise<BenchResult> {
  const loadBefore = loadAverage();
  const redis = await startRedis();
  const probe = new Redis(redis.url);
  const redisPid = Number(/process_id:(\d+)/.exec(await probe.info("server"))?.[1]);
  probe.disconnect();
  execFileSync("taskset", ["-pc", "1", String(redisPid)], { stdio: "ignore" });
  const dir = mkdtempSync(join(tmpdir(), "jobchannel-bench-"));
  const runs: Run[] = [];
  try {
    for (const channels of values.channels!.split(",").map(Number)) {
      for (const connections of values.connections!.split(",").map(Number)) {
        for (const system of values.systems!.split(",")) {
          runs.push(await runSystem(system, connections, channels, redis.url, dir));
        }
      }
    }
  } finally {
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  return {
    date: new Date().toISOString(),
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
    method: {
      serverCore: 0,
      generatorCore: 1,
      warmupSeconds: warmup,
      stepSeconds: measure,
      p99LimitMs: P99_LIMIT_MS,
      deliveredFloor: DELIVERED_FLOOR,
    },
    runs,
  };
}

const deadline = setTimeout(
  () => {
    process.stderr.write("bench: time limit reached, stopping\n");
    for (const c of children) void c.stop(0);
    process.exit(1);
  },
  Number(values["max-minutes"]) * 60_000,
);
deadline.unref();

const result = await main();
process.stdout.write(JSON.stringify(result, null, 2) + "\n");
if (values.write) {
  const file = fileURLToPath(new URL("../RESULTS.md", import.meta.url));
  // Formatted as the repository's Prettier settings want, so `npm run lint` stays green.
  const prettier = await import("prettier");
  const options = (await prettier.resolveConfig(file)) ?? {};
  writeFileSync(
    file,
    await prettier.format(renderResults(result), { ...options, parser: "markdown" }),
  );
  process.stderr.write(`bench: wrote ${file}\n`);
}
