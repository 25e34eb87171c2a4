// Locates the repository root and the pinned binaries that e2e/scripts/build-tools.sh puts into bin/.
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";

/** The Kubernetes version the control plane and kubectl are built at (pinned in e2e/scripts/build-tools.sh). */
export const KUBERNETES_VERSION = "v1.35.4";

/** The helm version built into bin/helm (pinned in e2e/scripts/build-tools.sh). */
export const HELM_VERSION = "v4.3.1";

/**
 * The binaries in bin/: `controlplane` runs etcd, the control plane, kubelet, kube-proxy and kubectl;
 * containerd, its shim and ctr, and CoreDNS are the node's.
 */
export type Tool =
  | "controlplane"
  | "kubectl"
  | "helm"
  | "containerd"
  | "containerd-shim-runc-v2"
  | "ctr"
  | "coredns";

/** The images every node imports before it runs a Pod (`make images` builds them). */
export const NODE_IMAGES = ["pause", "coredns"] as const;

/** Where `make images` writes the OCI archive of the image `name`: `.images/<name>.oci.tar`. */
export function imageArchive(name: string): string {
  return join(repoRoot(), ".images", `${name}.oci.tar`);
}

/** The repository root: the nearest folder above this file that holds e2e/scripts/build-tools.sh. */
export function repoRoot(): string {
  let dir = import.meta.dirname;
  for (;;) {
    if (existsSync(join(dir, "e2e", "scripts", "build-tools.sh"))) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no repository root above ${import.meta.dirname}`);
    dir = parent;
  }
}

/** Where a tool's binary is: `$JOBCHANNEL_BIN_DIR/<tool>` when that is set, else `bin/<tool>` at the root. */
export function toolPath(tool: Tool): string {
  return join(process.env["JOBCHANNEL_BIN_DIR"] ?? join(repoRoot(), "bin"), tool);
}
