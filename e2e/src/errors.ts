// Error codes of the local control plane and its tools, and the coded error type they throw.

/** Codes of {@link ControlPlaneError}. */
export const ControlPlaneErrorCode = {
  BinaryMissing: "control_plane_binary_missing",
  CertificatesFailed: "control_plane_certificates_failed",
  ComponentExited: "control_plane_component_exited",
  NotReady: "control_plane_not_ready",
  ToolFailed: "control_plane_tool_failed",
  ImagesMissing: "control_plane_images_missing",
  SandboxFailed: "control_plane_sandbox_failed",
} as const;

export type ControlPlaneErrorCode =
  (typeof ControlPlaneErrorCode)[keyof typeof ControlPlaneErrorCode];

/** Every control-plane error code with what it means; `docs/errors.md` lists the same. */
export const ERROR_CODES: readonly {
  readonly code: ControlPlaneErrorCode;
  readonly description: string;
}[] = [
  {
    code: ControlPlaneErrorCode.BinaryMissing,
    description: "bin/controlplane (or kubectl, helm) is not built: run `make tools`.",
  },
  {
    code: ControlPlaneErrorCode.CertificatesFailed,
    description:
      "openssl failed while creating the test cluster's certificates or service-account key.",
  },
  {
    code: ControlPlaneErrorCode.ComponentExited,
    description:
      "etcd, kube-apiserver or kube-controller-manager exited before it was ready; the message ends with its log tail.",
  },
  {
    code: ControlPlaneErrorCode.NotReady,
    description:
      "A component did not pass its health check within the bounded wait; the message ends with its log tail.",
  },
  {
    code: ControlPlaneErrorCode.ToolFailed,
    description:
      "kubectl or helm exited non-zero or ran past its timeout; the message carries its stderr.",
  },
  {
    code: ControlPlaneErrorCode.ImagesMissing,
    description:
      "An image archive the local node needs (pause, CoreDNS, or the product's) is not built: run `make images`.",
  },
  {
    code: ControlPlaneErrorCode.SandboxFailed,
    description:
      "The node's namespaces, mounts or cgroups could not be made or removed (needs root, util-linux and iproute2); the message carries the script's output.",
  },
];

/** A failure to start, check or drive the local control plane; `code` says which. */
export class ControlPlaneError extends Error {
  readonly code: ControlPlaneErrorCode;

  constructor(code: ControlPlaneErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ControlPlaneError";
    this.code = code;
  }
}
