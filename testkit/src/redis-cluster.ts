// A real Redis Cluster for integration tests: Debian's redis-server with --cluster-enabled yes on
// free loopback ports, joined with `redis-cli --cluster create`, with replicas when asked.
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { freePort } from "./ports.ts";
import { startProcess, type Started } from "./process.ts";
import { waitFor } from "./wait.ts";

const run = promisify(execFile);

/** Options of {@link startRedisCluster}. */
export interface RedisClusterOptions {
  /** Primaries, each owning an equal share of the 16384 slots. @default 3 */
  primaries?: number;
  /** Replicas per primary (failover needs at least 1). @default 0 */
  replicasPerPrimary?: number;
  /** cluster-node-timeout: how long a silent primary takes to be failed over, ms. @default 1000 */
  nodeTimeoutMs?: number;
}

/** One node as CLUSTER NODES describes it. */
export interface ClusterNodeInfo {
  readonly id: string;
  readonly port: number;
  readonly primary: boolean;
  /** The node id of its primary, for a replica. */
  readonly primaryId: string | undefined;
  /** Slot ranges `[from, to]` a primary serves. */
  readonly slots: readonly (readonly [number, number])[];
  /** Whether the node answering considers it failed. */
  readonly failed: boolean;
}

export interface TestRedisCluster {
  /** Client ports of every node started (primaries and replicas). */
  readonly ports: readonly number[];
  /** `127.0.0.1:<port>` of every node, comma-separated (REDIS_CLUSTER_NODES). */
  readonly seeds: string;
  /** `redis+cluster://127.0.0.1:<port>,...`. */
  readonly url: string;
  /** Runs redis-cli against one node and returns its output. */
  cli(port: number, ...args: string[]): Promise<string>;
  /** The topology as a live node sees it. */
  nodes(): Promise<ClusterNodeInfo[]>;
  /** The port of the primary serving `slot`. */
  primaryOf(slot: number): Promise<number>;
  /**
   * Moves one slot, with its keys, from its primary to the primary on `toPort` (IMPORTING,
   * MIGRATING, MIGRATE, then SETSLOT NODE on every primary), as a resharding does slot by slot.
   */
  moveSlot(slot: number, toPort: number): Promise<void>;
  /** SIGKILLs one node, as a crash would. */
  kill(port: number): Promise<void>;
  /** Waits until every live node reports cluster_state:ok and every slot has a live primary. */
  healthy(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

function parseNodes(text: string): ClusterNodeInfo[] {
  return text
    .trim()
    .split("\n")
    .filter(Boolean)
    .map((line) => {
      const [id, address, flags, primaryId, , , , , ...slotFields] = line.split(" ");
      const flagList = flags!.split(",");
      const slots = slotFields
        .filter((s) => !s.startsWith("["))
        .map((s): readonly [number, number] => {
          const [from, to] = s.split("-").map(Number);
          return [from!, to ?? from!];
        });
      return {
        id: id!,
        port: Number(address!.split("@")[0]!.split(":")[1]),
        primary: flagList.includes("master"),
        primaryId: primaryId === "-" ? undefined : primaryId,
        slots,
        failed: flagList.includes("fail") || flagList.includes("fail?"),
      };
    });
}

/** Starts the nodes, creates the cluster and waits until every node agrees it is ok. */
export async function startRedisCluster(
  options: RedisClusterOptions = {},
): Promise<TestRedisCluster> {
  const primaries = options.primaries ?? 3;
  const replicas = options.replicasPerPrimary ?? 0;
  const nodeTimeoutMs = options.nodeTimeoutMs ?? 1000;
  const dir = mkdtempSync(join(tmpdir(), "jobchannel-redis-cluster-"));
  const servers = new Map<number, Started>();
  const ports: number[] = [];
  const cli = async (port: number, ...args: string[]): Promise<string> =>
    (await run("redis-cli", ["-h", "127.0.0.1", "-p", String(port), ...args])).stdout;
  const stop = async (): Promise<void> => {
    await Promise.all([...servers.values()].map((s) => s.stop(2000)));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < primaries * (1 + replicas); i++) {
      const port = await freePort();
      const busPort = await freePort();
      ports.push(port);
      const server = startProcess("redis-server", [
        "--port",
        String(port),
        "--cluster-port",
        String(busPort),
        "--bind",
        "127.0.0.1",
        "--cluster-enabled",
        "yes",
        "--cluster-config-file",
        join(dir, `nodes-${port}.conf`),
        "--cluster-node-timeout",
        String(nodeTimeoutMs),
        // A replica takes over however long it was cut off from its primary.
        "--cluster-replica-validity-factor",
        "0",
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        dir,
      ]);
      servers.set(port, server);
    }
    for (const [port, server] of servers) {
      await waitFor(
        async () => {
          if (server.child.exitCode !== null) throw new Error(server.logTail());
          return (await cli(port, "PING").catch(() => "")).trim() === "PONG";
        },
        { what: `cluster node on port ${port}` },
      );
    }
    await run("redis-cli", [
      "--cluster",
      "create",
      ...ports.map((p) => `127.0.0.1:${p}`),
      "--cluster-replicas",
      String(replicas),
      "--cluster-yes",
    ]);
  } catch (e) {
    await stop();
    throw e;
  }
  const killed = new Set<number>();
  const live = (): number[] => ports.filter((p) => !killed.has(p));
  const nodes = async (): Promise<ClusterNodeInfo[]> => {
    let lastError: unknown;
    for (const port of live()) {
      try {
        return parseNodes(await cli(port, "CLUSTER", "NODES"));
      } catch (e) {
        lastError = e;
      }
    }
    throw lastError ?? new Error("no live cluster node");
  };
  const healthy = async (timeoutMs = 20_000): Promise<void> => {
    await waitFor(
      async () => {
        for (const port of live()) {
          if (!(await cli(port, "CLUSTER", "INFO")).includes("cluster_state:ok")) return false;
          const known = parseNodes(await cli(port, "CLUSTER", "NODES"));
          const covered = known
            .filter((n) => n.primary && !n.failed && !killed.has(n.port))
            .flatMap((n) => n.slots)
            .reduce((sum, [from, to]) => sum + to - from + 1, 0);
          if (covered !== 16384) return false;
          if (known.length < live().length) return false;
        }
        return true;
      },
      { what: "every cluster node to report cluster_state:ok", timeoutMs, intervalMs: 50 },
    );
  };
  await healthy();
  const seeds = ports.map((p) => `127.0.0.1:${p}`).join(",");
  return {
    ports,
    seeds,
    url: `redis+cluster://${seeds}`,
    cli,
    nodes,
    async primaryOf(slot) {
      const owner = (await nodes()).find(
        (n) =>
          n.primary &&
          !n.failed &&
          !killed.has(n.port) &&
          n.slots.some(([from, to]) => slot >= from && slot <= to),
      );
      if (!owner) throw new Error(`no live primary serves slot ${slot}`);
      return owner.port;
    },
    async moveSlot(slot, toPort) {
      const all = await nodes();
      const from = all.find(
        (n) => n.primary && !killed.has(n.port) && n.slots.some(([a, b]) => slot >= a && slot <= b),
      );
      const to = all.find((n) => n.port === toPort && n.primary);
      if (!from || !to)
        throw new Error(`no primary serves slot ${slot}, or ${toPort} is no primary`);
      if (from.port === to.port) return;
      await cli(to.port, "CLUSTER", "SETSLOT", String(slot), "IMPORTING", from.id);
      await cli(from.port, "CLUSTER", "SETSLOT", String(slot), "MIGRATING", to.id);
      for (;;) {
        const keys = (await cli(from.port, "CLUSTER", "GETKEYSINSLOT", String(slot), "100"))
          .split("\n")
          .filter(Boolean);
        if (keys.length === 0) break;
        const reply = await cli(
          from.port,
          "MIGRATE",
          "127.0.0.1",
          String(to.port),
          "",
          "0",
          "5000",
          "KEYS",
          ...keys,
        );
        if (!reply.startsWith("OK")) throw new Error(`MIGRATE failed: ${reply}`);
      }
      for (const n of all.filter((n) => n.primary && !killed.has(n.port))) {
        await cli(n.port, "CLUSTER", "SETSLOT", String(slot), "NODE", to.id);
      }
    },
    async kill(port) {
      const server = servers.get(port);
      if (!server || killed.has(port)) return;
      killed.add(port);
      try {
        process.kill(-server.child.pid!, "SIGKILL");
      } catch {
        server.child.kill("SIGKILL");
      }
      await server.stop(0);
    },
    healthy,
    stop,
  };
}
