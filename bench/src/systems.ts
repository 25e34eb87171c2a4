// The systems the benchmark measures, each started the same way: pinned to one core, on a free
// loopback port, against the run's Redis, and ready when its health endpoint answers 200.
import { execFileSync } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { freePort, startProcess, waitFor, type Started } from "@jobchannel/testkit";
import type { PROTOCOLS } from "./protocols.ts";

const here = fileURLToPath(new URL(".", import.meta.url));
const RELAY_BIN = fileURLToPath(new URL("../../relay/bin/jobchannel-relay.js", import.meta.url));
/** Built by bench/scripts/build-centrifugo.sh (make bench); absent until then. */
export const CENTRIFUGO_BIN = fileURLToPath(new URL("../../bin/centrifugo", import.meta.url));
/** The secret of the tokens in the `visibility: user` scenario. */
export const USER_TOKEN_SECRET = "bench-user-visibility-secret";

export type SystemName = "relay" | "baseline" | "socketio" | "centrifugo";
export const SYSTEMS: readonly SystemName[] = ["relay", "baseline", "socketio", "centrifugo"];

export interface SystemSpec {
  /** The load generator's protocol. */
  protocol: keyof typeof PROTOCOLS;
  /** The publisher's path into the system. */
  via: "redis" | "socketio" | "centrifugo";
  /** A Node process that takes --expose-gc and the SIGUSR2 GC hook. */
  node: boolean;
  /** Whether it can express `visibility: user` on one channel (others get one channel per user). */
  userVisibility: boolean;
}

export const SPECS: Record<SystemName, SystemSpec> = {
  relay: { protocol: "jobchannel", via: "redis", node: true, userVisibility: true },
  baseline: { protocol: "jobchannel", via: "redis", node: true, userVisibility: false },
  socketio: { protocol: "socketio", via: "socketio", node: true, userVisibility: false },
  centrifugo: { protocol: "centrifugo", via: "centrifugo", node: false, userVisibility: false },
};

export interface Server {
  process: Started;
  port: number;
  /** Centrifugo's HTTP API base URL. */
  api?: string;
}

export interface StartOptions {
  redisUrl: string;
  dir: string;
  channels: number;
  /** The relay's channels use `visibility: user` with authenticated access. */
  userVisibility?: boolean;
  /** Extra Node flags for the server (the relay's CPU profile). */
  nodeFlags?: string[];
}

const GC_FLAGS = ["--expose-gc", "--import", join(here, "gc-on-signal.ts")];

let niceness = 0;

/**
 * The scheduling priority of every process started from now on (nice(1); below 0 needs root, and
 * without it the processes run at the default priority). On a shared machine a negative value
 * keeps other work from taking the measured processes' turns on their cores.
 */
export function setNiceness(value: number): void {
  niceness = value;
}

/**
 * Gives a process's scheduling group the niceness too. With the kernel's autogroups on
 * (/proc/sys/kernel/sched_autogroup_enabled), each session is one group that competes with the
 * others as a whole, and every process started here leads a session of its own (testkit starts
 * them detached): nice alone would only rank it within its own group. Needs root; does nothing
 * without autogroups.
 */
export function prioritize(pid: number): void {
  if (niceness === 0) return;
  try {
    writeFileSync(`/proc/${pid}/autogroup`, String(niceness));
  } catch {
    // No autogroups, or not permitted: the plain nice value is all there is.
  }
}

/**
 * Starts `command args` under `taskset -c core` (and `nice`); both exec, so the pid is the
 * program's.
 */
export function pinned(
  core: number,
  command: string,
  args: string[],
  env: Record<string, string> = {},
): Started {
  const started = startProcess(
    "nice",
    ["-n", String(niceness), "taskset", "-c", String(core), command, ...args],
    {
      env: { ...process.env, ...env },
      stdio: ["pipe", "pipe", "pipe"],
    },
  );
  prioritize(started.child.pid!);
  return started;
}

export function centrifugoAvailable(): boolean {
  return existsSync(CENTRIFUGO_BIN);
}

/** `centrifugo version`'s output, or undefined when it is not built. */
export function centrifugoVersion(): string | undefined {
  if (!centrifugoAvailable()) return undefined;
  return execFileSync(CENTRIFUGO_BIN, ["version"], { encoding: "utf8" }).trim();
}

export async function startSystem(
  system: SystemName,
  options: StartOptions,
  onStart: (p: Started) => void,
): Promise<Server> {
  const port = await freePort();
  const node = process.execPath;
  const env = { PORT: String(port), REDIS_URL: options.redisUrl };
  let started: Started;
  let health = "/readyz";
  let api: string | undefined;
  if (system === "relay") {
    const config = join(options.dir, "channels.json");
    const list = Array.from({ length: options.channels }, (_, i) => ({
      name: `bench-${i}`,
      access: options.userVisibility ? "authenticated" : "public",
      ...(options.userVisibility ? { visibility: "user" } : {}),
    }));
    writeFileSync(config, JSON.stringify({ channels: list }));
    started = pinned(0, node, [...GC_FLAGS, ...(options.nodeFlags ?? []), RELAY_BIN], {
      ...env,
      RELAY_HOST: "127.0.0.1",
      RELAY_CONFIG_FILE: config,
      LOG_LEVEL: "warn",
      ...(options.userVisibility ? { RELAY_JWT_SECRET: USER_TOKEN_SECRET } : {}),
    });
  } else if (system === "baseline") {
    started = pinned(0, node, [...GC_FLAGS, join(here, "baseline-server.ts")], env);
  } else if (system === "socketio") {
    started = pinned(0, node, [...GC_FLAGS, join(here, "socketio-server.ts")], env);
  } else {
    // Centrifugo v6 configuration keys (internal/configtypes of v6.9.1): the Redis engine (broker
    // and presence), anonymous clients allowed on every channel (client.insecure), the HTTP API
    // without a key (http_api.insecure), and /health for readiness.
    const config = join(options.dir, "centrifugo.json");
    writeFileSync(
      config,
      JSON.stringify({
        http_server: { address: "127.0.0.1", port },
        log: { level: "error" },
        engine: { type: "redis", redis: { address: [options.redisUrl] } },
        client: { insecure: true, allowed_origins: ["*"] },
        http_api: { insecure: true },
        health: { enabled: true },
      }),
    );
    started = pinned(0, CENTRIFUGO_BIN, ["--config", config], { GOMAXPROCS: "1" });
    health = "/health";
    api = `http://127.0.0.1:${port}/api`;
  }
  onStart(started);
  await waitFor(
    async () => {
      if (started.child.exitCode !== null) throw new Error(started.logTail());
      return (await fetch(`http://127.0.0.1:${port}${health}`)).status === 200;
    },
    { what: `${system} ready`, timeoutMs: 20_000 },
  );
  return { process: started, port, ...(api ? { api } : {}) };
}
