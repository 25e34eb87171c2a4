// The benchmark's result shape: what run.ts prints as JSON and results.ts renders.
import type { ProfileSummary } from "./profile-summary.ts";

/** One rung of the rate ladder. */
export interface Step {
  targetPerSec: number;
  publishPerSec: number;
  deliveriesPerSec: number;
  deliveredRatio: number;
  p50Ms: number;
  p99Ms: number;
  p999Ms: number;
  maxMs: number;
  serverCpuPercent: number;
  /** CPU of the clients process (core 1): near 100% means the generator, not the server, was the limit. */
  clientsCpuPercent: number;
  /** CPU of the publisher process (core 1, beside the clients and redis-server). */
  publisherCpuPercent: number;
  cpuPerDeliveryUs: number;
  sustained: boolean;
  /** The relay's own fan-out latency histogram over the same window (relay only). */
  metricP50Ms?: number;
  metricP99Ms?: number;
}

/** One system in one ladder scenario. */
export interface Run {
  scenario: string;
  system: string;
  connections: number;
  /** Channels the connections are spread over. */
  channels: number;
  /** Users of a `visibility: user` channel (relay); 0 otherwise. */
  users: number;
  /** Connections each update reaches. */
  recipients: number;
  rssIdleBytesPerConnection: number;
  rssBeforeBytes: number;
  rssIdleBytes: number;
  steps: Step[];
  maxSustained?: Step;
}

export interface MemoryRun {
  system: string;
  rssBeforeBytes: number;
  points: { connections: number; rssBytes: number; bytesPerConnection: number }[];
}

export interface StormRun {
  system: string;
  connections: number;
  parallel: number;
  subscribed: number;
  failed: number;
  /** From the first connect to the last subscription confirmed. */
  subscribedMs: number;
  connectsPerSec: number;
  /** Upgrade time per connection (TCP connect to 101), as the generator saw it. */
  connectP50Ms: number;
  connectP99Ms: number;
  serverCpuUsPerConnection: number;
  serverCpuPercent: number;
  clientsCpuPercent: number;
}

/** One write-floor probe: bursts of one small write to each of many loopback sockets. */
export interface FloorProbe {
  sockets: number;
  bytes: number;
  /** Each burst: wall time, and the probe's user and system CPU in it. */
  rounds: { ms: number; userMs: number; sysMs: number }[];
}

export interface BenchResult {
  date: string;
  /** The checkout's commit, and whether relay/src or protocol/src had uncommitted changes. */
  commit: string;
  relayTreeChanged: boolean;
  durationSeconds: number;
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
  versions: Record<string, string>;
  method: {
    serverCore: number;
    generatorCore: number;
    warmupSeconds: number;
    stepSeconds: number;
    p99LimitMs: number;
    deliveredFloor: number;
    stormParallel: number;
    /** The nice value the measured processes ran at (0 when lowering it was not permitted). */
    nice: number;
  };
  systems: string[];
  /** Scenarios or systems not run, with the reason. */
  skipped: string[];
  runs: Run[];
  memory: MemoryRun[];
  storms: StormRun[];
  profile?: ProfileSummary & { target: number; connections: number; channels: number };
  /**
   * The write floor on the server's core: `go` from a compiled probe (the kernel's share, almost
   * all of it), `node` through net.Socket, `nodeCorked` corked until the end of the turn as the
   * relay writes. Absent when not measured.
   */
  floor?: { go?: FloorProbe; node?: FloorProbe; nodeCorked?: FloorProbe };
}
