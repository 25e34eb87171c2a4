// Public surface of @jobchannel/e2e: the local control plane and the pinned tools.
export {
  DEFAULT_CONTROLLERS,
  startControlPlane,
  type ComponentProcess,
  type ControlPlane,
  type ControlPlaneOptions,
} from "./control-plane.ts";
export { ControlPlaneError, ControlPlaneErrorCode, ERROR_CODES } from "./errors.ts";
export { HELM_VERSION, KUBERNETES_VERSION, repoRoot, toolPath, type Tool } from "./paths.ts";
export { helm, kubectl, type ToolOptions } from "./tools.ts";
