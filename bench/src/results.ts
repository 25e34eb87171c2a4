// The benchmark's result shape and its rendering as bench/RESULTS.md.

/** One rung of the rate ladder. */
export interface Step {
  targetPerSec: number;
  publishPerSec: number;
  deliveriesPerSec: number;
  deliveredRatio: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  serverCpuPercent: number;
  /** CPU of the clients process (core 1): near 100% means the generator, not the server, was the limit. */
  clientsCpuPercent: number;
  cpuPerDeliveryUs: number;
  sustained: boolean;
}

/** One system at one connection count. */
export interface Run {
  system: string;
  connections: number;
  /** Channels the connections are spread over; each update reaches connections / channels of them. */
  channels: number;
  rssIdleBytesPerConnection: number;
  rssBeforeBytes: number;
  rssIdleBytes: number;
  steps: Step[];
  maxSustained?: Step;
}

export interface BenchResult {
  date: string;
  machine: {
    cpu: string;
    cores: number;
    arch: string;
    kernel: string;
    node: string;
    redis: string;
    loadAverageBefore: number[];
    loadAverageAfter: number[];
  };
  method: {
    serverCore: number;
    generatorCore: number;
    warmupSeconds: number;
    stepSeconds: number;
    p99LimitMs: number;
    deliveredFloor: number;
  };
  runs: Run[];
}

function fixed(value: number | undefined, digits: number): string {
  return value === undefined || Number.isNaN(value) ? "–" : value.toFixed(digits);
}

/** The whole RESULTS.md for one run. */
export function renderResults(result: BenchResult): string {
  const { machine, method } = result;
  const summary = result.runs.map((run) => {
    const best = run.maxSustained;
    return `| ${run.system} | ${run.connections} | ${run.connections / run.channels} | ${best ? best.deliveriesPerSec.toLocaleString("en-US") : "none"} | ${fixed(best?.p50Ms, 2)} | ${fixed(best?.p99Ms, 2)} | ${fixed(best?.cpuPerDeliveryUs, 2)} | ${fixed(run.rssIdleBytesPerConnection / 1024, 1)} |`;
  });
  const ladders = result.runs.flatMap((run) => [
    "",
    `### ${run.system}, ${run.connections} connections, ${run.channels} channel${run.channels === 1 ? "" : "s"} (${run.connections / run.channels} recipients per update)`,
    "",
    "| target/s | publishes/s | delivered/s | ratio | p50 ms | p99 ms | max ms | server CPU % | clients CPU % | µs CPU/delivery | sustained |",
    "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | :---: |",
    ...run.steps.map(
      (s) =>
        `| ${s.targetPerSec} | ${fixed(s.publishPerSec, 1)} | ${s.deliveriesPerSec} | ${fixed(s.deliveredRatio, 3)} | ${fixed(s.p50Ms, 2)} | ${fixed(s.p99Ms, 2)} | ${fixed(s.maxMs, 1)} | ${fixed(s.serverCpuPercent, 1)} | ${fixed(s.clientsCpuPercent, 1)} | ${fixed(s.cpuPerDeliveryUs, 2)} | ${s.sustained ? "yes" : "no"} |`,
    ),
  ]);
  return [
    "# Relay benchmark results",
    "",
    "Written by `npm run bench -w bench` (or `make bench`); the raw JSON is what the command prints.",
    "",
    "## Method",
    "",
    `- The server under test runs pinned to core ${method.serverCore} (\`taskset\`); the load generator (the WebSocket`,
    `  clients, one process), the publisher (another process) and \`redis-server\` run on core ${method.generatorCore}.`,
    "- The connections are spread evenly over K channels (`bench-0` ... ); the publisher PUBLISHes guide-shaped",
    "  updates (about 150 bytes) round-robin over them, so each update fans out to connections / K clients. K = 1 is",
    "  the broadcast case: every update to every connection, in one burst per update.",
    `- Each rung: ${method.warmupSeconds} s warm-up, then ${method.stepSeconds} s measured. A rung is sustained when at least`,
    `  ${method.deliveredFloor * 100}% of the expected deliveries arrive and p99 latency stays under ${method.p99LimitMs} ms; the ladder stops at the first`,
    "  rung that is not (a failed rung is run a second time first, since a stall from other work on a shared",
    "  machine can spoil one window's p99), and the highest sustained rung is reported.",
    "- Latency: from the update's publish time (`sentAt`, the publisher's clock with sub-ms precision, the same",
    "  instant as its `timestamp`) to the frame's arrival at the client.",
    "- CPU per delivery: the server's user + system CPU time (`/proc/<pid>/stat`) over the measured window,",
    "  divided by the deliveries in it. RSS per idle connection: the server's RSS with every client connected and",
    "  subscribed, minus its RSS before, divided by the connections, both read after a full GC (the server runs",
    "  with `--expose-gc` and a SIGUSR2 hook, bench/src/gc-on-signal.ts, for that alone).",
    "- Clients CPU % is the load generator's own CPU on core 1; near 100% the generator, not the server, is the limit.",
    "- `relay` is `jobchannel-relay` with a channel config (validation, access, metrics, backpressure all on);",
    "  `baseline` is a bare `ws` + `ioredis` loop that parses and serializes each update once (bench/src/baseline-server.ts).",
    "",
    "Targets (issue 3): at least 2.5x Socket.IO's ~30,000 deliveries/s at p99 < 50 ms (75,000/s), at most 10 µs of",
    "relay CPU per delivery, at most 10 KB RSS per idle connection. Reference figures measured for Socket.IO with",
    "`@socket.io/redis-adapter`: about 30,000 deliveries/s, 21-25 µs CPU per delivery, 17-36 MB RSS per 1,000",
    "connections; bare `ws` + `ioredis`: 70,000-90,000 deliveries/s at about 10 µs per delivery.",
    "",
    `## Run of ${result.date}`,
    "",
    `Machine: ${machine.cpu}, ${machine.cores} cores, ${machine.arch}, Linux ${machine.kernel}; Node ${machine.node};`,
    `${machine.redis}.`,
    `Load average before: ${machine.loadAverageBefore.join(", ")}; after: ${machine.loadAverageAfter.join(", ")}`,
    "(the machine is shared; a load above 0 means other work competed for the cores).",
    "",
    "| system | connections | recipients per update | max sustained deliveries/s | p50 ms | p99 ms | µs CPU/delivery | KB RSS/idle connection |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ...summary,
    "",
    "Reading the table: a run whose ladder ends on a sustained rung reached the top of the ladder (`--targets`),",
    "so its real maximum is higher. With 5,000 recipients per update every update is one burst of 5,000 writes",
    "on the server and 5,000 socket reads in the generator; the last client of a burst waits for all of it, so",
    "p99 < 50 ms is out of reach on one core for any server here at any rate, which the table shows as `none`.",
    "",
    "## Ladders",
    ...ladders,
    "",
  ].join("\n");
}
