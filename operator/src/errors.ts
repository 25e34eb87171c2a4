// Coded errors of the operator; docs/errors.md lists every code.

export const OperatorErrorCode = {
  InvalidConfig: "invalid_config",
  InvalidSpec: "invalid_spec",
  ChannelConflict: "channel_conflict",
  InvalidChild: "invalid_child",
  ChildConflict: "child_conflict",
  RedisSecretMissing: "redis_secret_missing",
  KubeApi: "kube_api",
  WatchFailed: "watch_failed",
  LeadershipLost: "leadership_lost",
  OperatorDeploymentUnreadable: "operator_deployment_unreadable",
} as const;

export type OperatorErrorCode = (typeof OperatorErrorCode)[keyof typeof OperatorErrorCode];

/** Every operator error code with what it means; `docs/errors.md` is checked against this table. */
export const ERROR_CODES: readonly {
  readonly code: OperatorErrorCode;
  readonly description: string;
}[] = [
  {
    code: OperatorErrorCode.InvalidConfig,
    description:
      "An environment variable or flag has a value the operator cannot use; the message names it. The process exits with status 2.",
  },
  {
    code: OperatorErrorCode.InvalidSpec,
    description:
      "A JobChannel's spec fails the operator's own validation (an object stored before a schema change). Reported as Ready=False, reason InvalidSpec, and a Warning Event; not retried until the object changes.",
  },
  {
    code: OperatorErrorCode.ChannelConflict,
    description:
      "Two JobChannels claim the same channel. The older one (creationTimestamp, then namespace/name) keeps it; the newer gets Ready=False, reason ChannelConflict, no workers and no relay entry.",
  },
  {
    code: OperatorErrorCode.InvalidChild,
    description:
      "The API server refused a worker child the JobChannel produces (422 or 400: an invalid env valueFrom, an immutable selector). Reported as Ready=False and WorkersAvailable=False, reason InvalidChild, with the API's message, and a Warning Event; retried after 30 s, doubling up to 10 min, and at once when the JobChannel changes.",
  },
  {
    code: OperatorErrorCode.ChildConflict,
    description:
      "A worker child's name is taken: the object is controlled by another owner, or another field manager holds its fields. jobchannel never takes it over. Reported as Ready=False and WorkersAvailable=False, reason ChildConflict, and a Warning Event; retried like invalid_child.",
  },
  {
    code: OperatorErrorCode.RedisSecretMissing,
    description:
      "The Secret named by spec.redis.secretName (default JOBCHANNEL_REDIS_SECRET) does not exist in the JobChannel's namespace, so worker pods cannot start. Reported as WorkersAvailable=False, reason RedisSecretMissing, naming the Secret to create; checked again every 10 s.",
  },
  {
    code: OperatorErrorCode.KubeApi,
    description:
      "A Kubernetes API request failed (network, 5xx, conflict, forbidden). The reconcile is retried with per-key exponential backoff.",
  },
  {
    code: OperatorErrorCode.WatchFailed,
    description:
      "A list or watch ended with an error. The watcher restarts it with jittered backoff and relists when needed; counted in jobchannel_operator_watch_restarts_total.",
  },
  {
    code: OperatorErrorCode.LeadershipLost,
    description:
      "The leader could not renew its Lease within the renew deadline (a renewal that hangs is aborted when the deadline passes). The process exits with status 1 at once, writing nothing more, as controller-runtime does; its Deployment restarts it as a candidate.",
  },
  {
    code: OperatorErrorCode.OperatorDeploymentUnreadable,
    description:
      "JOBCHANNEL_OPERATOR_DEPLOYMENT is set but that Deployment could not be read in JOBCHANNEL_NAMESPACE (missing, forbidden, or the API unreachable); the message names it and gives the API's answer. The process exits with status 1 before it reconciles anything.",
  },
];

/** An error with a stable code, for logs and metrics. */
export class OperatorError extends Error {
  readonly code: OperatorErrorCode;

  constructor(code: OperatorErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "OperatorError";
    this.code = code;
  }
}

/** A configuration problem: names the variable or flag. */
export class ConfigError extends OperatorError {
  readonly variable: string;

  constructor(variable: string, message: string) {
    super(OperatorErrorCode.InvalidConfig, `${variable}: ${message}`);
    this.name = "ConfigError";
    this.variable = variable;
  }
}

/** The HTTP status of a failed Kubernetes API call, if the error carries one. */
export function statusCodeOf(error: unknown): number | undefined {
  if (typeof error !== "object" || error === null) return undefined;
  const record = error as { code?: unknown; statusCode?: unknown };
  if (typeof record.code === "number") return record.code;
  if (typeof record.statusCode === "number") return record.statusCode;
  return undefined;
}

/** The API server's message for a failed call (the Status body's `message`), else the error's own. */
export function apiMessageOf(error: unknown): string {
  if (typeof error === "object" && error !== null) {
    const body = (error as { body?: unknown }).body;
    const text = typeof body === "string" ? body : undefined;
    if (text) {
      try {
        const parsed = JSON.parse(text) as { message?: unknown };
        if (typeof parsed.message === "string") return parsed.message;
      } catch {
        return text.slice(0, 500);
      }
    }
    if (
      body &&
      typeof body === "object" &&
      typeof (body as { message?: unknown }).message === "string"
    ) {
      return (body as { message: string }).message;
    }
  }
  return error instanceof Error ? error.message : String(error);
}
