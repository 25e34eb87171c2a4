// The worker Deployment and Service a JobChannel asks for: pure functions of the resource and the operator's settings.
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

/** `<name>-worker`, the name of both children. */
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
      valueFrom: { secretKeyRef: { name: settings.redisSecret, key: "REDIS_URL" } },
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
      replicas: worker.replicas,
      revisionHistoryLimit: 3,
      selector: { matchLabels: selectorLabels(jc) },
      template: {
        metadata: { labels: labels(jc, channel) },
        spec: {
          automountServiceAccountToken: false,
          enableServiceLinks: false,
          terminationGracePeriodSeconds: 60,
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
