// The worker children a JobChannel asks for (Deployment, Service, PodDisruptionBudget, HorizontalPodAutoscaler):
// pure functions of the resource and the operator's settings.
import { createHash } from "node:crypto";
import { API_VERSION, KIND, type EnvVar, type JobChannel, type WorkerSpec } from "./jobchannel.ts";

/** Port of the worker's HTTP API, probes and metrics. */
export const WORKER_PORT = 8080;

/** The label that ties children to their JobChannel; also the Deployment's selector. */
export const INSTANCE_LABEL = "jobchannel.io/jobchannel";
export const MANAGED_BY_LABEL = "app.kubernetes.io/managed-by";
export const MANAGED_BY = "jobchannel-operator";

/** Resources of a worker container whose spec sets none. */
export const DEFAULT_WORKER_RESOURCES = {
  requests: { cpu: "50m", memory: "64Mi" },
  limits: { memory: "256Mi" },
} as const;

/** The operator's settings that shape every worker. */
export interface WorkerSettings {
  /** Image of the built-in worker (JOBCHANNEL_WORKER_IMAGE). */
  readonly workerImage: string;
  /** Secret holding `REDIS_URL` (JOBCHANNEL_REDIS_SECRET). */
  readonly redisSecret: string;
}

/** The annotation holding the hash of the desired object a child was last applied from. */
export const DESIRED_HASH_ANNOTATION = "jobchannel.io/desired-hash";

/** The kinds of worker children. */
export type ChildKind =
  "Deployment" | "Service" | "PodDisruptionBudget" | "HorizontalPodAutoscaler";

/** The Secret with `REDIS_URL` the workers of `jc` read, in its own namespace. */
export function redisSecretOf(jc: JobChannel, settings: WorkerSettings): string {
  return jc.spec.redis?.secretName ?? settings.redisSecret;
}

/** JSON with object keys sorted, so equal objects hash equally. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (value && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

/** The hash of a desired object (its annotation left out). */
export function desiredHash(object: Record<string, unknown>): string {
  return createHash("sha256").update(canonical(object)).digest("hex").slice(0, 32);
}

/** The object with {@link DESIRED_HASH_ANNOTATION} set to its own hash. */
export function withDesiredHash(object: Record<string, unknown>): Record<string, unknown> {
  const meta = object.metadata as Record<string, unknown>;
  const annotations = (meta.annotations as Record<string, string> | undefined) ?? {};
  return {
    ...object,
    metadata: {
      ...meta,
      annotations: { ...annotations, [DESIRED_HASH_ANNOTATION]: desiredHash(object) },
    },
  };
}

/** `<name>-worker`, the name of every child. */
export function workerName(jobChannelName: string): string {
  return `${jobChannelName}-worker`;
}

function selectorLabels(jc: JobChannel): Record<string, string> {
  return { "app.kubernetes.io/component": "worker", [INSTANCE_LABEL]: jc.metadata.name };
}

function labels(jc: JobChannel, channel: string): Record<string, string> {
  return {
    "app.kubernetes.io/name": "jobchannel-worker",
    "app.kubernetes.io/instance": jc.metadata.name,
    ...selectorLabels(jc),
    [MANAGED_BY_LABEL]: MANAGED_BY,
    "jobchannel.io/channel": channel,
  };
}

function ownerReference(jc: JobChannel): Record<string, unknown> {
  return {
    apiVersion: API_VERSION,
    kind: KIND,
    name: jc.metadata.name,
    uid: jc.metadata.uid,
    controller: true,
    blockOwnerDeletion: true,
  };
}

function metadata(jc: JobChannel, channel: string): Record<string, unknown> {
  return {
    name: workerName(jc.metadata.name),
    namespace: jc.metadata.namespace,
    labels: labels(jc, channel),
    ownerReferences: [ownerReference(jc)],
  };
}

/**
 * The worker's environment: the operator's variables, then the spec's, where a name the spec gives
 * replaces the operator's value in place (server-side apply refuses duplicate names).
 */
export function workerEnv(jc: JobChannel, worker: WorkerSpec, settings: WorkerSettings): EnvVar[] {
  const base: EnvVar[] = [
    { name: "PORT", value: String(WORKER_PORT) },
    ...(worker.jobType ? [{ name: "JOBCHANNEL_JOB_TYPES", value: worker.jobType }] : []),
    {
      name: "REDIS_URL",
      valueFrom: { secretKeyRef: { name: redisSecretOf(jc, settings), key: "REDIS_URL" } },
    },
    { name: "JOBCHANNEL_HISTORY_MAX_JOBS", value: String(jc.spec.history.maxJobs) },
    { name: "JOBCHANNEL_HISTORY_TTL_SECONDS", value: String(jc.spec.history.ttlSeconds) },
    { name: "JOBCHANNEL_CONCURRENCY", value: String(worker.concurrency) },
  ];
  const extra = worker.env ?? [];
  const byName = new Map(extra.map((e) => [e.name, e]));
  const merged = base.map((e) => byName.get(e.name) ?? e);
  const baseNames = new Set(base.map((e) => e.name));
  return [...merged, ...extra.filter((e) => !baseNames.has(e.name))];
}

function probe(
  path: string,
  periodSeconds: number,
  failureThreshold: number,
): Record<string, unknown> {
  return { httpGet: { path, port: "http" }, periodSeconds, timeoutSeconds: 2, failureThreshold };
}

/** The Deployment `<name>-worker`; `undefined` for a JobChannel without a worker. */
export function desiredDeployment(
  jc: JobChannel,
  channel: string,
  settings: WorkerSettings,
): Record<string, unknown> | undefined {
  const worker = jc.spec.worker;
  if (!worker) return undefined;
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: metadata(jc, channel),
    spec: {
      // With autoscaling the HorizontalPodAutoscaler owns the replicas: leaving them out of the
      // apply leaves them to it.
      ...(worker.autoscaling ? {} : { replicas: worker.replicas }),
      revisionHistoryLimit: 3,
      selector: { matchLabels: selectorLabels(jc) },
      template: {
        metadata: { labels: labels(jc, channel) },
        spec: {
          automountServiceAccountToken: false,
          enableServiceLinks: false,
          terminationGracePeriodSeconds: 60,
          topologySpreadConstraints: ["kubernetes.io/hostname", "topology.kubernetes.io/zone"].map(
            (topologyKey) => ({
              maxSkew: 1,
              topologyKey,
              whenUnsatisfiable: "ScheduleAnyway",
              labelSelector: { matchLabels: selectorLabels(jc) },
              matchLabelKeys: ["pod-template-hash"],
            }),
          ),
          securityContext: {
            runAsNonRoot: true,
            runAsUser: 1000,
            runAsGroup: 1000,
            seccompProfile: { type: "RuntimeDefault" },
          },
          containers: [
            {
              name: "worker",
              image: worker.image ?? settings.workerImage,
              imagePullPolicy: "IfNotPresent",
              ports: [{ name: "http", containerPort: WORKER_PORT, protocol: "TCP" }],
              env: workerEnv(jc, worker, settings),
              resources: worker.resources ?? DEFAULT_WORKER_RESOURCES,
              livenessProbe: probe("/healthz", 10, 3),
              readinessProbe: probe("/readyz", 5, 2),
              securityContext: {
                allowPrivilegeEscalation: false,
                readOnlyRootFilesystem: true,
                runAsNonRoot: true,
                capabilities: { drop: ["ALL"] },
                seccompProfile: { type: "RuntimeDefault" },
              },
              volumeMounts: [{ name: "tmp", mountPath: "/tmp" }],
            },
          ],
          volumes: [{ name: "tmp", emptyDir: { sizeLimit: "1Gi" } }],
        },
      },
    },
  };
}

/** The Service `<name>-worker` in front of the worker's HTTP API; `undefined` without a worker. */
export function desiredService(
  jc: JobChannel,
  channel: string,
): Record<string, unknown> | undefined {
  if (!jc.spec.worker) return undefined;
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: metadata(jc, channel),
    spec: {
      type: "ClusterIP",
      selector: selectorLabels(jc),
      ports: [{ name: "http", port: WORKER_PORT, targetPort: "http", protocol: "TCP" }],
    },
  };
}

/** The PodDisruptionBudget `<name>-worker`: a voluntary disruption takes one worker pod at a time. */
export function desiredPodDisruptionBudget(
  jc: JobChannel,
  channel: string,
): Record<string, unknown> | undefined {
  if (!jc.spec.worker) return undefined;
  return {
    apiVersion: "policy/v1",
    kind: "PodDisruptionBudget",
    metadata: metadata(jc, channel),
    spec: {
      maxUnavailable: 1,
      selector: { matchLabels: selectorLabels(jc) },
      // A pod that is not ready yet may be evicted: it serves nothing, and it would block drains.
      unhealthyPodEvictionPolicy: "AlwaysAllow",
    },
  };
}

/** The HorizontalPodAutoscaler `<name>-worker`; `undefined` without `spec.worker.autoscaling`. */
export function desiredHorizontalPodAutoscaler(
  jc: JobChannel,
  channel: string,
): Record<string, unknown> | undefined {
  const autoscaling = jc.spec.worker?.autoscaling;
  if (!autoscaling) return undefined;
  const metrics: Record<string, unknown>[] = [];
  if (autoscaling.targetCPUUtilizationPercentage !== undefined) {
    metrics.push({
      type: "Resource",
      resource: {
        name: "cpu",
        target: {
          type: "Utilization",
          averageUtilization: autoscaling.targetCPUUtilizationPercentage,
        },
      },
    });
  }
  if (autoscaling.podsMetric) {
    metrics.push({
      type: "Pods",
      pods: {
        metric: { name: autoscaling.podsMetric.name },
        target: { type: "AverageValue", averageValue: String(autoscaling.podsMetric.averageValue) },
      },
    });
  }
  return {
    apiVersion: "autoscaling/v2",
    kind: "HorizontalPodAutoscaler",
    metadata: metadata(jc, channel),
    spec: {
      scaleTargetRef: {
        apiVersion: "apps/v1",
        kind: "Deployment",
        name: workerName(jc.metadata.name),
      },
      minReplicas: autoscaling.minReplicas,
      maxReplicas: autoscaling.maxReplicas,
      metrics,
    },
  };
}
