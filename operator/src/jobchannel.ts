// The JobChannel resource as TypeScript types, with the schema's bounds, enums and defaults in one place.

/** API group, version and names of the JobChannel resource (design section 6). */
export const GROUP = "jobchannel.io";
export const VERSION = "v1alpha1";
export const API_VERSION = `${GROUP}/${VERSION}`;
export const KIND = "JobChannel";
export const PLURAL = "jobchannels";

export const ACCESS_VALUES = ["public", "authenticated"] as const;
export type Access = (typeof ACCESS_VALUES)[number];

export const VISIBILITY_VALUES = ["channel", "user"] as const;
export type Visibility = (typeof VISIBILITY_VALUES)[number];

/** An inclusive integer range with the default the API server fills in. */
export interface IntegerBound {
  readonly minimum: number;
  readonly maximum: number;
  readonly default?: number;
}

/**
 * Bounds of the integer fields, keyed by their path under `spec`. The CRD must say the same
 * (checked by test/crd.test.ts); the operator validates with these too, so an object stored
 * before a schema change is still refused with a readable condition.
 */
export const SPEC_BOUNDS = {
  "history.maxJobs": { minimum: 1, maximum: 100_000, default: 1000 },
  "history.ttlSeconds": { minimum: 60, maximum: 2_592_000, default: 86_400 },
  maxMessageBytes: { minimum: 1024, maximum: 1_048_576, default: 65_536 },
  "worker.replicas": { minimum: 0, maximum: 100, default: 1 },
  "worker.concurrency": { minimum: 1, maximum: 256, default: 4 },
  "worker.autoscaling.minReplicas": { minimum: 1, maximum: 100, default: 1 },
  "worker.autoscaling.maxReplicas": { minimum: 1, maximum: 100 },
  "worker.autoscaling.targetCPUUtilizationPercentage": { minimum: 1, maximum: 100 },
} as const satisfies Record<string, IntegerBound>;

/** Defaults of the enum fields under `spec`. */
export const SPEC_DEFAULTS = { access: "authenticated", visibility: "channel" } as const;

/** Most entries in `spec.worker.env`. */
export const MAX_ENV_ENTRIES = 64;

/** One environment variable of the worker container (a core/v1 EnvVar). */
export interface EnvVar {
  name: string;
  value?: string;
  /** A core/v1 EnvVarSource, passed through to the Deployment as given. */
  valueFrom?: Record<string, unknown>;
}

/** Container resource requests and limits (quantities as strings or integers). */
export interface WorkerResources {
  requests?: Record<string, string | number>;
  limits?: Record<string, string | number>;
}

/** A Pods metric the worker HorizontalPodAutoscaler targets (through a custom metrics adapter). */
export interface PodsMetricTarget {
  /** The metric's name, e.g. `jobchannel_worker_jobs_active`. */
  name: string;
  /** The average value per pod to aim for (a quantity). */
  averageValue: string | number;
}

/** `spec.worker.autoscaling`: a HorizontalPodAutoscaler owns the worker replicas. */
export interface WorkerAutoscaling {
  /** @default 1 */
  minReplicas: number;
  maxReplicas: number;
  targetCPUUtilizationPercentage?: number;
  podsMetric?: PodsMetricTarget;
}

/** `spec.worker`: the workers that run the job type. */
export interface WorkerSpec {
  /** @default the operator's JOBCHANNEL_WORKER_IMAGE */
  image?: string;
  /** Built-in job type to serve; required when `image` is not set. */
  jobType?: string;
  /** @default 1 */
  replicas: number;
  /** @default 4 */
  concurrency: number;
  env?: EnvVar[];
  resources?: WorkerResources;
  /** When set, the replicas belong to a HorizontalPodAutoscaler and `replicas` is ignored. */
  autoscaling?: WorkerAutoscaling;
}

/** `spec.redis`: where the workers find Redis. */
export interface RedisSpec {
  /** Secret in the JobChannel's namespace with the key `REDIS_URL`. @default the operator's JOBCHANNEL_REDIS_SECRET */
  secretName?: string;
}

/** `spec.history`: retention of job state for snapshots. */
export interface HistorySpec {
  /** @default 1000 */
  maxJobs: number;
  /** @default 86400 */
  ttlSeconds: number;
}

/** `spec` after the API server applied the schema's defaults. */
export interface JobChannelSpec {
  /** @default metadata.name */
  channel?: string;
  /** @default "authenticated" */
  access: Access;
  /** @default "channel" */
  visibility: Visibility;
  history: HistorySpec;
  /** @default 65536 */
  maxMessageBytes: number;
  redis?: RedisSpec;
  worker?: WorkerSpec;
}

export type ConditionStatus = "True" | "False" | "Unknown";

/** A metav1.Condition. */
export interface Condition {
  type: string;
  status: ConditionStatus;
  observedGeneration?: number;
  /** RFC 3339; moves only when `status` changes. */
  lastTransitionTime: string;
  reason: string;
  message: string;
}

/** `status.workers`: what the worker Deployment reports. */
export interface WorkersStatus {
  desiredReplicas: number;
  replicas: number;
  readyReplicas: number;
  availableReplicas: number;
  /** "ready/desired", shown by `kubectl get jc`. */
  summary: string;
}

export interface JobChannelStatus {
  observedGeneration?: number;
  channel?: string;
  redisChannel?: string;
  workers?: WorkersStatus;
  conditions?: Condition[];
}

/** Object metadata fields the operator reads. */
export interface ObjectMeta {
  name: string;
  namespace: string;
  uid: string;
  generation?: number;
  resourceVersion?: string;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  labels?: Record<string, string>;
}

/** A JobChannel as the operator works with it: validated, defaults applied. */
export interface JobChannel {
  apiVersion: typeof API_VERSION;
  kind: typeof KIND;
  metadata: ObjectMeta;
  spec: JobChannelSpec;
  status?: JobChannelStatus;
}

/** The condition types the operator sets. */
export const ConditionType = {
  Ready: "Ready",
  ChannelRegistered: "ChannelRegistered",
  WorkersAvailable: "WorkersAvailable",
} as const;
export type ConditionType = (typeof ConditionType)[keyof typeof ConditionType];

/** The channel a JobChannel claims: `spec.channel`, else its name. */
export function channelOf(jc: { metadata: { name: string }; spec: { channel?: string } }): string {
  return jc.spec.channel ?? jc.metadata.name;
}

/** `namespace/name`, the key of an object in stores and logs. */
export function objectKey(meta: { namespace?: string; name?: string }): string {
  return meta.namespace ? `${meta.namespace}/${meta.name ?? ""}` : (meta.name ?? "");
}
