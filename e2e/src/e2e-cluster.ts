// The cluster the end-to-end suite runs against: the local node (default) or a kind cluster (`make e2e-kind`).
import { startCluster } from "./cluster.ts";
import { connectKindCluster } from "./kind-cluster.ts";
import { imageArchive } from "./paths.ts";
import { chartValues, clusterProvider, type E2ECluster } from "./provider.ts";

/** Starts the local node, or connects to the kind cluster KUBECONFIG names. */
export async function openCluster(): Promise<E2ECluster> {
  if (clusterProvider() === "kind") return connectKindCluster();
  const local = await startCluster();
  return {
    provider: "local",
    kubeconfigPath: local.kubeconfigPath,
    valuesFiles: [chartValues("values-local.yaml")],
    forwardService: (namespace, name, port) => local.forwardService(namespace, name, port),
    loadImages: (names) => local.loadImages(names.map((name) => imageArchive(name))),
    stop: () => local.stop(),
    local,
  };
}
