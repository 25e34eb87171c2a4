// The local one-node cluster as tests use it: `cluster-cli up` in a folder of their own, host forwards into it, `down` at the end.
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import type { Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { forwardToNamespace, portOf } from "./bridge.ts";
import type { ClusterState } from "./cluster-cli.ts";
import { ControlPlaneError, ControlPlaneErrorCode } from "./errors.ts";
import { repoRoot } from "./paths.ts";
import { kubectl } from "./tools.ts";

const execFileAsync = promisify(execFile);
const cli = join(repoRoot(), "e2e", "src", "cluster-cli.ts");

/** A running local cluster with a node. */
export interface LocalCluster {
  /** Admin kubeconfig whose server is the host bridge. */
  readonly kubeconfigPath: string;
  /** What `cluster-cli up` recorded: pids, sandbox, control-plane folder. */
  readonly state: ClusterState;
  /** A host loopback port forwarded to `target` (`<IPv4>:<port>` inside the node's network namespace). */
  forward(target: string): Promise<number>;
  /** A host loopback port forwarded to a Service's cluster IP: traffic goes through kube-proxy's rules. */
  forwardService(namespace: string, name: string, port: number): Promise<number>;
  /** Imports image archives into the node's containerd. */
  loadImages(archives: readonly string[]): Promise<void>;
  /** `cluster-cli down`: stops everything and removes the sandbox; rejects if anything is left. */
  stop(): Promise<void>;
}

async function runCli(
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  timeoutMs: number,
): Promise<string> {
  try {
    const { stdout } = await execFileAsync(process.execPath, [cli, ...args], {
      env,
      timeout: timeoutMs,
      maxBuffer: 64 * 1024 * 1024,
    });
    return stdout;
  } catch (error) {
    const { stdout = "", stderr = "" } = error as { stdout?: string; stderr?: string };
    throw new ControlPlaneError(
      ControlPlaneErrorCode.ToolFailed,
      `cluster-cli ${args.join(" ")} failed:\n${stdout}${stderr}`,
      { cause: error },
    );
  }
}

/**
 * Starts a one-node cluster in a temporary cluster folder (`make images` must have run). The
 * start takes about a minute when the node images are cached.
 */
export async function startCluster(): Promise<LocalCluster> {
  const clusterDir = await mkdtemp(join(tmpdir(), "jobchannel-cluster-"));
  const env = { ...process.env, JOBCHANNEL_CLUSTER_DIR: clusterDir };
  const log = (text: string): void => void process.stderr.write(text);
  try {
    log(await runCli(["up"], env, 600_000));
  } catch (error) {
    await rm(clusterDir, { recursive: true, force: true });
    throw error;
  }
  const state = JSON.parse(await readFile(join(clusterDir, "state.json"), "utf8")) as ClusterState;
  const kubeconfigPath = join(clusterDir, "kubeconfig");
  const servers: Server[] = [];
  const forward = async (target: string): Promise<number> => {
    const server = await forwardToNamespace(0, join(state.sandbox.dir, "forward.sock"), target);
    servers.push(server);
    return portOf(server);
  };
  let stopped: Promise<void> | undefined;
  return {
    kubeconfigPath,
    state,
    forward,
    async forwardService(namespace, name, port) {
      const ip = await kubectl(
        ["-n", namespace, "get", "service", name, "-o", "jsonpath={.spec.clusterIP}"],
        {
          kubeconfig: kubeconfigPath,
        },
      );
      return forward(`${ip}:${port}`);
    },
    async loadImages(archives) {
      await runCli(["load-images", ...archives], env, 600_000);
    },
    stop() {
      stopped ??= (async () => {
        for (const server of servers) server.close();
        try {
          log(await runCli(["down"], env, 180_000));
        } finally {
          await rm(clusterDir, { recursive: true, force: true });
        }
      })();
      return stopped;
    },
  };
}
