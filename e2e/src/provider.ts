// What the end-to-end suite needs of a cluster, whichever provider runs it: the local node (default) or kind (`make e2e-kind`).
import { join } from "node:path";
import type { LocalCluster } from "./cluster.ts";
import { repoRoot } from "./paths.ts";

/** The providers the suite knows; JOBCHANNEL_E2E_CLUSTER picks one. */
export type ClusterProvider = "local" | "kind";

/** What the end-to-end suite needs of a cluster, whichever provider runs it. */
export interface E2ECluster {
  readonly provider: ClusterProvider;
  /** A kubeconfig with cluster-admin rights. */
  readonly kubeconfigPath: string;
  /** The chart's value files for this provider, in order, over the chart's defaults. */
  readonly valuesFiles: readonly string[];
  /** A host loopback port that reaches the Service's `port` through kube-proxy on the node. */
  forwardService(namespace: string, name: string, port: number): Promise<number>;
  /** Makes the named images of `make images` runnable on the node (kind: `make e2e-kind` loaded them). */
  loadImages(names: readonly string[]): Promise<void>;
  /** Stops what this process started (kind: nothing; `make e2e-kind` deletes the cluster). */
  stop(): Promise<void>;
  /** The local node's own handle, for checks only it can make (what teardown leaves behind). */
  readonly local?: LocalCluster;
}

/** The value files every provider starts from. */
export function chartValues(file: string): string {
  return join(repoRoot(), "charts", "jobchannel", file);
}

/** Reads JOBCHANNEL_E2E_CLUSTER (`local` when unset) and refuses anything else. */
export function clusterProvider(env: NodeJS.ProcessEnv = process.env): ClusterProvider {
  const value = env["JOBCHANNEL_E2E_CLUSTER"] ?? "local";
  if (value === "local" || value === "kind") return value;
  throw new Error(`JOBCHANNEL_E2E_CLUSTER=${value}: expected "local" or "kind"`);
}
