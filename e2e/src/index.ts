// Public surface of @jobchannel/e2e: the local control plane, the one-node cluster and the pinned tools.
export {
  DEFAULT_CONTROLLERS,
  NODE_CONTROLLERS,
  startControlPlane,
  type ComponentProcess,
  type ControlPlane,
  type ControlPlaneOptions,
} from "./control-plane.ts";
export { startCluster, type LocalCluster } from "./cluster.ts";
export { ControlPlaneError, ControlPlaneErrorCode, ERROR_CODES } from "./errors.ts";
export {
  HELM_VERSION,
  imageArchive,
  KUBERNETES_VERSION,
  repoRoot,
  toolPath,
  type Tool,
} from "./paths.ts";
export { helm, kubectl, type ToolOptions } from "./tools.ts";
