// Renders a run (result-types.ts) as the generated part of bench/RESULTS.md: method, one table per
// scenario with the relay's ratio to each peer, the targets as measured, and the ladders.
import type { BenchResult, FloorProbe, Run, Step } from "./result-types.ts";
import { SCENARIOS } from "./scenarios.ts";

/** The line after which RESULTS.md holds hand-written earlier measurements, kept by --write. */
export const EARLIER_MARKER =
  "<!-- Earlier measurements below are kept as they are by make bench. -->";

function fixed(value: number | undefined, digits: number): string {
  return value === undefined || Number.isNaN(value) ? "–" : value.toFixed(digits);
}

const int = (v: number | undefined): string =>
  v === undefined || Number.isNaN(v) ? "–" : Math.round(v).toLocaleString("en-US");

/** A ratio a/b as "1.23x"; "≥" when a is only a lower bound (its ladder ended sustained). */
function ratio(a: number | undefined, b: number | undefined, lowerBound = false): string {
  if (a === undefined || b === undefined || !(b > 0) || Number.isNaN(a)) return "–";
  return `${lowerBound ? "≥" : ""}${(a / b).toFixed(2)}x`;
}

const toppedOut = (run: Run | undefined): boolean =>
  run !== undefined && run.steps.length > 0 && run.steps[run.steps.length - 1]!.sustained;

function stepAt(run: Run | undefined, target: number): Step | undefined {
  return run?.steps.find((s) => s.targetPerSec === target);
}

/** The rung with the highest server CPU: saturation when it is near 100%. */
function busiest(run: Run): Step | undefined {
  return [...run.steps].sort((a, b) => b.serverCpuPercent - a.serverCpuPercent)[0];
}

/** A probe's median, fastest and slowest burst, ms. */
export function floorSummary(probe: FloorProbe): { p50: number; min: number; max: number } {
  const ms = probe.rounds.map((r) => r.ms).sort((a, b) => a - b);
  return { p50: ms[Math.floor((ms.length - 1) / 2)]!, min: ms[0]!, max: ms[ms.length - 1]! };
}

const FLOOR_PROBES: Record<string, string> = {
  go: "Go, `write(2)` per socket",
  node: "Node, `socket.write`",
  nodeCorked: "Node, corked per turn (as the relay)",
};

function floorSection(result: BenchResult): string[] {
  const probes = Object.entries(result.floor ?? {}).filter(
    (e): e is [string, FloorProbe] => e[1] !== undefined,
  );
  if (probes.length === 0) return [];
  const sum = (p: FloorProbe, key: "userMs" | "sysMs"): number =>
    p.rounds.reduce((t, r) => t + r[key], 0);
  return [
    "",
    "### The write floor: one write per recipient",
    "",
    "Before the scenarios, on the servers' core: bursts of one write of an update's size to each of N connected",
    "loopback TCP sockets, nothing else (bench/write-floor/main.go, a compiled Go probe whose time is almost all the",
    "kernel's; bench/src/write-floor.ts, the same through Node's `net.Socket`, written plainly and corked until the end",
    "of the turn as the relay writes). A server that writes each recipient's",
    "copy of a broadcast with its own system call cannot send the last copy sooner than such a burst lasts.",
    "",
    "| probe | sockets | bursts | burst ms p50 | fastest | slowest | µs per write (p50) | share of CPU in the kernel |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ...probes.map(([key, p]) => {
      const name = FLOOR_PROBES[key] ?? key;
      const { p50, min, max } = floorSummary(p);
      const kernel = sum(p, "sysMs") / (sum(p, "sysMs") + sum(p, "userMs"));
      return `| ${name} | ${int(p.sockets)} | ${p.rounds.length} | ${fixed(p50, 1)} | ${fixed(min, 1)} | ${fixed(max, 1)} | ${fixed((p50 * 1000) / p.sockets, 1)} | ${fixed(kernel * 100, 0)}% |`;
    }),
  ];
}

function scenarioTables(result: BenchResult): string[] {
  const out: string[] = [];
  for (const scenario of SCENARIOS.filter((s) => s.kind === "ladder")) {
    const runs = result.runs.filter((r) => r.scenario === scenario.id);
    if (runs.length === 0) continue;
    const relay = runs.find((r) => r.system === "relay");
    out.push(
      "",
      `### ${scenario.title}`,
      "",
      `${scenario.connections.toLocaleString("en-US")} connections; ${runs.map((r) => `${r.system}: ${r.channels} channel${r.channels === 1 ? "" : "s"}${r.users ? ` with ${r.users} users` : ""}, ${r.recipients} recipient${r.recipients === 1 ? "" : "s"} per update`).join("; ")}.`,
      "",
      "| system | deliveries/s at p99 < 50 ms | p50 ms | p99 ms | p999 ms | µs CPU/delivery | KB RSS/idle connection | generator CPU % | publisher CPU % | relay ÷ system: rate | relay ÷ system: CPU/delivery |",
      "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    );
    for (const run of runs) {
      const best = run.maxSustained;
      const shown = best ?? run.steps[0];
      const other = run.system === "relay" ? undefined : run;
      out.push(
        `| ${run.system} | ${best ? int(best.deliveriesPerSec) + (toppedOut(run) ? " (top of ladder)" : "") : "none"} | ${fixed(shown?.p50Ms, 2)} | ${fixed(shown?.p99Ms, 2)} | ${fixed(shown?.p999Ms, 2)} | ${fixed(shown?.cpuPerDeliveryUs, 2)} | ${fixed(run.rssIdleBytesPerConnection / 1024, 1)} | ${fixed(shown?.clientsCpuPercent, 1)} | ${fixed(shown?.publisherCpuPercent, 1)} | ${other ? ratio(relay?.maxSustained?.deliveriesPerSec, best?.deliveriesPerSec, toppedOut(relay)) : ""} | ${other ? ratio(relay?.maxSustained?.cpuPerDeliveryUs, best?.cpuPerDeliveryUs) : ""} |`,
      );
    }
    out.push(
      "",
      "Latency, CPU and generator figures are those of the highest sustained rung (of the first rung where none was).",
    );
  }
  return out;
}

function cpuTable(result: BenchResult): string[] {
  const rates = [25_000, 50_000, 100_000];
  const out = [
    "",
    "### CPU per delivery at fixed rates and at saturation",
    "",
    "µs of server CPU per delivery at each fixed rate (– where the ladder stopped below it), and at the rung with the most server CPU (saturation when that is near 100%).",
    "",
    "| scenario | system | 25k/s | 50k/s | 100k/s | busiest rung: delivered/s, server CPU %, µs/delivery | relay ÷ system at 50k/s |",
    "| --- | --- | ---: | ---: | ---: | --- | ---: |",
  ];
  for (const scenario of SCENARIOS.filter((s) => s.kind === "ladder" && !s.users)) {
    const runs = result.runs.filter((r) => r.scenario === scenario.id);
    const relay = runs.find((r) => r.system === "relay");
    for (const run of runs) {
      const top = busiest(run);
      out.push(
        `| ${scenario.id} | ${run.system} | ${rates.map((r) => fixed(stepAt(run, r)?.cpuPerDeliveryUs, 2)).join(" | ")} | ${top ? `${int(top.deliveriesPerSec)}, ${fixed(top.serverCpuPercent, 0)}%, ${fixed(top.cpuPerDeliveryUs, 2)}` : "–"} | ${run.system === "relay" ? "" : ratio(stepAt(relay, 50_000)?.cpuPerDeliveryUs, stepAt(run, 50_000)?.cpuPerDeliveryUs)} |`,
      );
    }
  }
  return out;
}

function memoryTable(result: BenchResult): string[] {
  if (result.memory.length === 0) return [];
  const counts = result.memory[0]!.points.map((p) => p.connections);
  const relay = result.memory.find((m) => m.system === "relay");
  const last = (m: typeof relay) => m?.points[m.points.length - 1]?.bytesPerConnection;
  const out = [
    "",
    "### Idle memory per connection",
    "",
    "Server RSS with N idle subscribed connections (10 channels) minus RSS before any, over N; the Node servers are read after a full GC, Centrifugo (Go) as its RSS stands 1 s after the last subscription. Marginal: RSS growth between two steps over the connections added.",
    "",
    `| system | ${counts.map((c) => `KB/conn at ${c.toLocaleString("en-US")}`).join(" | ")} | ${counts
      .slice(1)
      .map((c, i) => `marginal ${counts[i]!.toLocaleString("en-US")}→${c.toLocaleString("en-US")}`)
      .join(
        " | ",
      )} | RSS at ${int(counts[counts.length - 1])}, MiB | relay ÷ system at ${int(counts[counts.length - 1])} |`,
    `| --- | ${counts.map(() => "---:").join(" | ")} | ${counts
      .slice(1)
      .map(() => "---:")
      .join(" | ")} | ---: | ---: |`,
  ];
  for (const m of result.memory) {
    const marginal = m.points
      .slice(1)
      .map((p, i) =>
        fixed(
          (p.rssBytes - m.points[i]!.rssBytes) / (p.connections - m.points[i]!.connections) / 1024,
          1,
        ),
      );
    out.push(
      `| ${m.system} | ${m.points.map((p) => fixed(p.bytesPerConnection / 1024, 1)).join(" | ")} | ${marginal.join(" | ")} | ${fixed((m.points[m.points.length - 1]?.rssBytes ?? NaN) / 2 ** 20, 1)} | ${m.system === "relay" ? "" : ratio(last(relay), last(m))} |`,
    );
  }
  return out;
}

function stormTable(result: BenchResult): string[] {
  if (result.storms.length === 0) return [];
  const relay = result.storms.find((s) => s.system === "relay");
  return [
    "",
    "### Connection storm",
    "",
    `${int(result.storms[0]!.connections)} connections opened as fast as one generator process can, ${result.method.stormParallel} upgrades in flight, each subscribing to one of 10 channels. Time: first connect to last subscription confirmed.`,
    "",
    "| system | subscribed | failed | seconds | connections/s | upgrade p50 ms | upgrade p99 ms | server µs CPU/connection | server CPU % | generator CPU % | relay ÷ system: connections/s |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ...result.storms.map(
      (s) =>
        `| ${s.system} | ${int(s.subscribed)} | ${s.failed} | ${fixed(s.subscribedMs / 1000, 2)} | ${int(s.connectsPerSec)} | ${fixed(s.connectP50Ms, 1)} | ${fixed(s.connectP99Ms, 1)} | ${int(s.serverCpuUsPerConnection)} | ${fixed(s.serverCpuPercent, 1)} | ${fixed(s.clientsCpuPercent, 1)} | ${s.system === "relay" ? "" : ratio(relay?.connectsPerSec, s.connectsPerSec)} |`,
    ),
  ];
}

function histogramTable(result: BenchResult): string[] {
  const rows = result.runs
    .filter((r) => r.system === "relay")
    .flatMap((r) =>
      r.steps
        .filter((s) => s.metricP50Ms !== undefined)
        .map(
          (s) =>
            `| ${r.scenario} | ${int(s.targetPerSec)} | ${fixed(s.p50Ms, 2)} | ${fixed(s.metricP50Ms, 2)} | ${fixed(s.p99Ms, 2)} | ${fixed(s.metricP99Ms, 2)} |`,
        ),
    );
  if (rows.length === 0) return [];
  return [
    "",
    "### The relay's fan-out histogram against client-measured latency",
    "",
    "`jobchannel_relay_fanout_latency_seconds` scraped from the relay's /metrics before and after each measured window, summed over channels, quantiles interpolated inside buckets as Prometheus's `histogram_quantile` does (bucket bounds 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100 ms ...). The histogram runs from the update's integer-millisecond `timestamp` to the write, the clients from the sub-millisecond `sentAt` to the arrival.",
    "",
    "| scenario | target/s | client p50 ms | histogram p50 ms | client p99 ms | histogram p99 ms |",
    "| --- | ---: | ---: | ---: | ---: | ---: |",
    ...rows,
  ];
}

function targetsTable(result: BenchResult): string[] {
  const out = [
    "",
    "### The targets, as measured in this run",
    "",
    ...(result.machine.loadAverageBefore[0]! > 2
      ? [
          "The sustained-rate rows compare one ladder per system on a machine shared with other work; such maxima",
          "move between runs by more than the ratios asked for (docs/performance.md compares two runs), so read them",
          "together with the CPU, memory and storm tables.",
          "",
        ]
      : []),
    "| target | measured | met |",
    "| --- | --- | :---: |",
  ];
  for (const scenario of SCENARIOS.filter((s) => s.kind === "ladder")) {
    const runs = result.runs.filter((r) => r.scenario === scenario.id);
    const relay = runs.find((r) => r.system === "relay");
    for (const [peer, factor] of [
      ["centrifugo", 2],
      ["socketio", 3],
    ] as const) {
      const other = runs.find((r) => r.system === peer);
      if (!relay || !other) continue;
      const a = relay.maxSustained?.deliveriesPerSec ?? 0;
      const b = other.maxSustained?.deliveriesPerSec ?? 0;
      // A peer that sustained no rung has a maximum somewhere below the lowest: no ratio follows.
      const met =
        b === 0
          ? a > 0
            ? "unknown: the peer sustained no rung"
            : "no"
          : a / b >= factor
            ? "yes"
            : toppedOut(relay)
              ? "unknown: the relay reached the top of its ladder"
              : "no";
      out.push(
        `| ${scenario.id}: relay ≥ ${factor}x ${peer} at p99 < 50 ms | ${int(a)} vs ${int(b)}${b > 0 ? ` (${ratio(a, b)})` : ""} | ${met} |`,
      );
    }
  }
  for (const scenario of ["c1000-k10", "c1000-k1"]) {
    const runs = result.runs.filter((r) => r.scenario === scenario);
    const a = stepAt(
      runs.find((r) => r.system === "relay"),
      50_000,
    )?.cpuPerDeliveryUs;
    const b = stepAt(
      runs.find((r) => r.system === "baseline"),
      50_000,
    )?.cpuPerDeliveryUs;
    if (a !== undefined && b !== undefined)
      out.push(
        `| ${scenario}: relay CPU/delivery at 50k/s within 5% of the bare loop | ${fixed(a, 2)} vs ${fixed(b, 2)} µs (${ratio(a, b)}) | ${a <= b * 1.05 ? "yes" : "no"} |`,
      );
  }
  const broadcast = result.runs.find((r) => r.scenario === "c5000-k1" && r.system === "relay");
  const floorGo = result.floor?.go;
  const floorNote =
    floorGo && floorGo.sockets === broadcast?.connections
      ? `; one burst of ${int(floorGo.sockets)} bare writes took ${fixed(floorSummary(floorGo).p50, 1)} ms (p50, write floor below)`
      : "";
  if (broadcast)
    out.push(
      `| 5,000-recipient broadcast sustained at p99 < 50 ms | ${broadcast.maxSustained ? `${int(broadcast.maxSustained.deliveriesPerSec)}/s at p99 ${fixed(broadcast.maxSustained.p99Ms, 1)} ms` : `none; p99 ${fixed(broadcast.steps[0]?.p99Ms, 1)} ms at ${int(broadcast.steps[0]?.targetPerSec)}/s`}${floorNote} | ${broadcast.maxSustained ? "yes" : "no"} |`,
    );
  const memory = result.memory.find((m) => m.system === "relay");
  const at = memory?.points[memory.points.length - 1];
  if (at)
    out.push(
      `| ≤ 8 KB idle RSS per connection at ${int(at.connections)} | ${fixed(at.bytesPerConnection / 1024, 1)} KB | ${at.bytesPerConnection <= 8 * 1024 ? "yes" : "no"} |`,
    );
  const steps = result.runs.flatMap((r) => r.steps);
  const hottest = Math.max(...steps.map((s) => s.clientsCpuPercent));
  const over = steps.filter((s) => s.clientsCpuPercent >= 85).length;
  out.push(
    `| generator CPU below 85% in every row | highest ${fixed(hottest, 1)}%; ${over} of ${steps.length} rungs at or above 85% | ${over === 0 ? "yes" : "no"} |`,
  );
  return out;
}

function profileSection(result: BenchResult): string[] {
  const p = result.profile;
  if (!p) return [];
  return [
    "",
    "### Where the relay's CPU goes",
    "",
    `\`node --cpu-prof\` (200 µs sampling) on the relay while ${p.connections.toLocaleString("en-US")} clients on ${p.channels} channels received ${p.target.toLocaleString("en-US")} deliveries/s; ${p.totalMs.toLocaleString("en-US")} ms profiled, ${p.idleMs.toLocaleString("en-US")} ms idle. Shares are of the non-idle time. The profile itself is not kept; docs/performance.md reads it.`,
    "",
    "| area | self ms | % |",
    "| --- | ---: | ---: |",
    ...p.byArea.map((a) => `| ${a.area} | ${fixed(a.selfMs, 1)} | ${fixed(a.percent, 1)} |`),
    "",
    "| function | where | self ms | % |",
    "| --- | --- | ---: | ---: |",
    ...p.top.map(
      (f) =>
        `| \`${f.name}\` | ${f.where || "–"} | ${fixed(f.selfMs, 1)} | ${fixed(f.percent, 1)} |`,
    ),
  ];
}

function ladders(result: BenchResult): string[] {
  return result.runs.flatMap((run) => [
    "",
    `### ${run.scenario}: ${run.system}, ${run.connections} connections, ${run.channels} channel${run.channels === 1 ? "" : "s"}${run.users ? `, ${run.users} users` : ""} (${run.recipients} recipient${run.recipients === 1 ? "" : "s"} per update)`,
    "",
    "| target/s | publishes/s | delivered/s | ratio | p50 ms | p99 ms | p999 ms | max ms | server CPU % | generator CPU % | publisher CPU % | µs CPU/delivery | sustained |",
    "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | :---: |",
    ...run.steps.map(
      (s) =>
        `| ${s.targetPerSec} | ${fixed(s.publishPerSec, 1)} | ${s.deliveriesPerSec} | ${fixed(s.deliveredRatio, 3)} | ${fixed(s.p50Ms, 2)} | ${fixed(s.p99Ms, 2)} | ${fixed(s.p999Ms, 2)} | ${fixed(s.maxMs, 1)} | ${fixed(s.serverCpuPercent, 1)} | ${fixed(s.clientsCpuPercent, 1)} | ${fixed(s.publisherCpuPercent, 1)} | ${fixed(s.cpuPerDeliveryUs, 2)} | ${s.sustained ? "yes" : "no"} |`,
    ),
  ]);
}

/** The generated part of RESULTS.md for one run. */
export function renderResults(result: BenchResult): string {
  const { machine, method } = result;
  return [
    "# Relay benchmark results",
    "",
    "Written by `make bench` (`npm run bench -w bench`, which runs `node bench/src/run.ts --write`); the raw JSON of the",
    "latest run is `bench/results/latest.json`. Plots: [p99 latency against rate](plots/p99-vs-rate.svg),",
    "[CPU per delivery against rate](plots/cpu-per-delivery-vs-rate.svg). What the figures mean and where the relay's",
    "time goes: [docs/performance.md](../docs/performance.md).",
    "",
    "## Method",
    "",
    `- Systems, all in the same run, one scenario at a time with each system in turn (${result.systems.join(", ")}):`,
    "  - `relay`: `jobchannel-relay` with a channel config (validation, access, metrics, backpressure all on);",
    "  - `baseline`: a bare `ws` + `ioredis` loop that parses and serializes each update once (bench/src/baseline-server.ts);",
    "  - `socketio`: Socket.IO with `@socket.io/redis-adapter`, WebSocket transport only, rooms per channel; updates",
    "    published with `@socket.io/redis-emitter` (bench/src/socketio-server.ts);",
    "  - `centrifugo`: Centrifugo built from its Go module (bench/scripts/build-centrifugo.sh), Redis engine,",
    "    `GOMAXPROCS=1`, JSON client protocol; updates published through its HTTP API (`/api/batch`, one request per",
    "    2 ms tick of the publisher), which is expected to cost Centrifugo's core more than a Redis `PUBLISH`",
    "    costs the others (not measured apart here).",
    `- The server under test runs pinned to core ${method.serverCore} (\`taskset\`); the load generator (one clients`,
    `  process), the publisher and \`redis-server\` share core ${method.generatorCore}. The machine has 2 cores, so the generator`,
    "  cannot get a core of its own: where generator CPU approaches 100%, the generator, not the server, is the limit,",
    "  and the row says so by its generator CPU %. More generator processes would have to share that same core.",
    `- Priority: the server, generator, publisher and \`redis-server\` ran at nice ${method.nice}${method.nice < 0 ? ", so that other work on the shared machine takes fewer of their turns on the cores; that work still ran, and the load average below counts it" : " (the default priority)"}.`,
    "- The generator is a hand-rolled WebSocket client (bench/src/raw-client.ts) that reads frames and the `sentAt` in",
    "  each update, answers pings (WebSocket, Engine.IO `2`/`3`, Centrifugo `{}`/`{}`) and nothing else.",
    "- The connections are spread evenly over K channels; updates (about 150 bytes, guide-shaped) go round-robin over",
    "  them, so each update reaches connections / K clients. `visibility: user`: the relay has one channel with",
    "  `visibility: user` and 1,000 clients with tokens for 1,000 users; updates carry `userId` round-robin; the peers",
    "  cannot filter one channel by user, so they get their equivalent, one channel per user.",
    `- Each rung: ${method.warmupSeconds} s warm-up, then ${method.stepSeconds} s measured. A rung is sustained when at least`,
    `  ${method.deliveredFloor * 100}% of the expected deliveries arrive and p99 latency stays under ${method.p99LimitMs} ms; a failed rung runs a second`,
    "  time (one stall from other work on a shared machine can spoil a window), and the ladder stops at the first rung",
    "  that still fails. `(top of ladder)` means the real maximum is higher than the figure.",
    "- Latency: from `sentAt` (the publisher's clock, sub-ms) to the frame's arrival at the client; p999 is the 99.9th",
    "  percentile. CPU per delivery: the server's user + system CPU (`/proc/<pid>/stat`) over the measured window over",
    "  the deliveries in it. RSS per idle connection: RSS with every client subscribed minus RSS before, over the",
    "  connections (Node servers after a full GC through `--expose-gc` and bench/src/gc-on-signal.ts).",
    "- Not covered by `make test`: Centrifugo, whose binary only `make bench` builds, the storm and the CPU profile.",
    "  `make test` runs bench/test/driver.integration.test.ts: relay, baseline and Socket.IO for one short rung each",
    "  with a few clients, and the memory scenario at 100 connections.",
    "",
    `## Run of ${result.date}`,
    "",
    `Machine: ${machine.cpu}, ${machine.cores} cores, ${machine.arch}, Linux ${machine.kernel}; Node ${machine.node};`,
    `${machine.redis}.`,
    `Commit: ${result.commit}${result.relayTreeChanged ? " (relay/src or protocol/src had uncommitted changes in the shared checkout; the relay measured is the working tree's build)" : ""}.`,
    `Versions: ${Object.entries(result.versions)
      .map(([k, v]) => `${k} ${v}`)
      .join(", ")}.`,
    `Load average (1, 5, 15 min) before: ${machine.loadAverageBefore.join(", ")}; after: ${machine.loadAverageAfter.join(", ")}.`,
    "The machine is shared with other test runs; a load above about 2 (the benchmark's own server and generator) means",
    `other work competed for the two cores. The run took ${Math.round(result.durationSeconds / 60)} min.`,
    ...(result.skipped.length ? ["", `Skipped in this run: ${result.skipped.join("; ")}.`] : []),
    ...targetsTable(result),
    "",
    "### Plots",
    "",
    "Open circles are rungs not sustained (under 95% delivered, or p99 at or over 50 ms).",
    "",
    "![p99 latency against delivery rate, per scenario and system](plots/p99-vs-rate.svg)",
    "",
    "![Server CPU per delivery against delivery rate, per scenario and system](plots/cpu-per-delivery-vs-rate.svg)",
    ...floorSection(result),
    ...scenarioTables(result),
    ...cpuTable(result),
    ...memoryTable(result),
    ...stormTable(result),
    ...histogramTable(result),
    ...profileSection(result),
    "",
    "## Ladders",
    ...ladders(result),
    "",
  ].join("\n");
}
