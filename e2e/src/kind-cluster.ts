// A kind cluster for the end-to-end suite: `make e2e-kind` creates it, builds and loads the images, and runs the suite against it.
import { existsSync } from "node:fs";
import { connect } from "node:net";
import { delimiter, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { repoRoot } from "./paths.ts";
import { chartValues, type E2ECluster } from "./provider.ts";
import { kubectl } from "./tools.ts";

/**
 * The node ports e2e/kind/cluster.yaml publishes on the host's 127.0.0.1 under the same numbers;
 * each forwarded Service gets one of them.
 */
export const KIND_NODE_PORTS: readonly number[] = Array.from({ length: 10 }, (_, i) => 30080 + i);

/** The kind cluster configuration `make e2e-kind` creates the cluster from. */
export const KIND_CLUSTER_CONFIG = join(repoRoot(), "e2e", "kind", "cluster.yaml");

/** The field manager of the companion Services' server-side applies. */
const FIELD_MANAGER = "jobchannel-e2e";

/** How long {@link waitForPort} waits for a new NodePort to answer. */
const PORT_TIMEOUT_MS = 60_000;

/** The parts of a Service that its NodePort companion copies. */
export interface ServiceSource {
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
  readonly selector: Readonly<Record<string, string>>;
}

/** One port of a companion: the original's `port` and `targetPort`, published on `nodePort`. */
export interface CompanionPort {
  readonly port: number;
  readonly targetPort: number | string;
  readonly nodePort: number;
}

/** The name of the NodePort Service that mirrors the Service `name`. */
export function companionName(name: string): string {
  return `${name}-e2e`;
}

/**
 * The NodePort Service `<name>-e2e` that reaches the pods of `source` (its selector) on
 * `ports`. It is owned by the original Service, so deleting that (helm uninstall) makes the
 * garbage collector delete the companion too.
 */
export function companionService(source: ServiceSource, ports: readonly CompanionPort[]) {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: {
      name: companionName(source.name),
      namespace: source.namespace,
      labels: { "app.kubernetes.io/managed-by": FIELD_MANAGER },
      ownerReferences: [{ apiVersion: "v1", kind: "Service", name: source.name, uid: source.uid }],
    },
    spec: {
      type: "NodePort",
      selector: { ...source.selector },
      ports: [...ports]
        .sort((a, b) => a.port - b.port)
        .map(({ port, targetPort, nodePort }) => ({
          name: `port-${port}`,
          protocol: "TCP",
          port,
          targetPort,
          nodePort,
        })),
    },
  };
}

/** The first port of `pool` that is not in `used`, or undefined when all are. */
export function nextFreeNodePort(
  used: ReadonlySet<number>,
  pool: readonly number[] = KIND_NODE_PORTS,
): number | undefined {
  return pool.find((port) => !used.has(port));
}

/** KUBECONFIG, which must name one kubeconfig file that exists. */
export function kindKubeconfig(env: NodeJS.ProcessEnv = process.env): string {
  const path = env["KUBECONFIG"];
  if (!path) {
    throw new Error(
      "JOBCHANNEL_E2E_CLUSTER=kind needs KUBECONFIG, the kind cluster's kubeconfig (make e2e-kind sets it)",
    );
  }
  if (path.includes(delimiter)) {
    throw new Error(`KUBECONFIG=${path}: the kind provider takes one kubeconfig file, not a list`);
  }
  if (!existsSync(path)) throw new Error(`KUBECONFIG=${path}: no such file`);
  return path;
}

/** Resolves once 127.0.0.1:port accepts a connection that stays open (not closed by a proxy with nothing behind it). */
async function waitForPort(port: number, what: string): Promise<void> {
  const deadline = Date.now() + PORT_TIMEOUT_MS;
  let last = "";
  while (Date.now() < deadline) {
    const outcome = await new Promise<string>((resolve) => {
      const socket = connect(port, "127.0.0.1");
      const done = (result: string) => {
        socket.destroy();
        resolve(result);
      };
      socket.once("connect", () => setTimeout(() => done("open"), 300));
      socket.once("close", () => done("closed by the peer"));
      socket.once("error", (error) => done(error.message));
    });
    if (outcome === "open") return;
    last = outcome;
    await sleep(500);
  }
  throw new Error(
    `${what}: nothing answered on 127.0.0.1:${port} within ${PORT_TIMEOUT_MS / 1000} s (last: ${last}); ` +
      `was the cluster created from ${KIND_CLUSTER_CONFIG}?`,
  );
}

interface ServiceJson {
  metadata: { uid: string };
  spec: {
    selector?: Record<string, string>;
    ports?: { port: number; targetPort?: number | string; nodePort?: number; protocol?: string }[];
  };
}

/** Connects to the kind cluster that KUBECONFIG names (created by `make e2e-kind`). */
export async function connectKindCluster(
  env: NodeJS.ProcessEnv = process.env,
): Promise<E2ECluster> {
  const kubeconfig = kindKubeconfig(env);
  const k = (args: readonly string[], input?: string) =>
    kubectl(args, { kubeconfig, ...(input === undefined ? {} : { input }) });
  const getService = async (namespace: string, name: string): Promise<ServiceJson | undefined> => {
    const text = await k([
      "-n",
      namespace,
      "get",
      "service",
      name,
      "--ignore-not-found",
      "-o",
      "json",
    ]);
    return text.trim() === "" ? undefined : (JSON.parse(text) as ServiceJson);
  };

  const forward = async (namespace: string, name: string, port: number): Promise<number> => {
    const what = `Service ${namespace}/${name} port ${port}`;
    const original = await getService(namespace, name);
    if (!original) throw new Error(`${what}: no such Service`);
    const selector = original.spec.selector ?? {};
    if (Object.keys(selector).length === 0) {
      throw new Error(
        `${what}: the Service has no selector, so no NodePort Service can reach its pods`,
      );
    }
    const wanted = original.spec.ports?.find((p) => p.port === port);
    if (!wanted) throw new Error(`${what}: the Service has no such port`);
    if ((wanted.protocol ?? "TCP") !== "TCP")
      throw new Error(`${what}: only TCP ports are published`);

    // Ports the companion already publishes keep their node ports (also across runs on a kept cluster).
    const companion = await getService(namespace, companionName(name));
    const ports = new Map<number, CompanionPort>();
    for (const p of companion?.spec.ports ?? []) {
      if (p.nodePort !== undefined) {
        ports.set(p.port, {
          port: p.port,
          targetPort: p.targetPort ?? p.port,
          nodePort: p.nodePort,
        });
      }
    }
    let nodePort = ports.get(port)?.nodePort;
    if (nodePort === undefined) {
      const used = await k([
        "get",
        "services",
        "-A",
        "-o",
        "jsonpath={.items[*].spec.ports[*].nodePort}",
      ]);
      nodePort = nextFreeNodePort(new Set(used.split(/\s+/).filter(Boolean).map(Number)));
      if (nodePort === undefined) {
        throw new Error(
          `${what}: every node port of the pool (${KIND_NODE_PORTS[0]}-${KIND_NODE_PORTS.at(-1)}) is taken`,
        );
      }
    }
    ports.set(port, { port, targetPort: wanted.targetPort ?? port, nodePort });
    const source = { namespace, name, uid: original.metadata.uid, selector };
    const manifest = companionService(source, [...ports.values()]);
    await k(
      [
        "apply",
        "--server-side",
        `--field-manager=${FIELD_MANAGER}`,
        "--force-conflicts",
        "-f",
        "-",
      ],
      JSON.stringify(manifest),
    );
    await waitForPort(nodePort, what);
    return nodePort;
  };

  // One forward at a time, so that two never pick the same free node port.
  let queue: Promise<unknown> = Promise.resolve();
  return {
    provider: "kind",
    kubeconfigPath: kubeconfig,
    valuesFiles: [chartValues("values-kind.yaml")],
    forwardService(namespace, name, port) {
      const next = queue.then(() => forward(namespace, name, port));
      queue = next.catch(() => undefined);
      return next;
    },
    // e2e/scripts/kind.sh loaded every image with `kind load docker-image` before the suite ran.
    loadImages: () => Promise.resolve(),
    // The companion Services go with their Services; e2e/scripts/kind.sh deletes the cluster.
    stop: () => Promise.resolve(),
  };
}
