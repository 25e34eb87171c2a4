// Boundary validation of JobChannel objects read from the API: defaults applied, every problem named.
import { channelNameProblem } from "@jobchannel/protocol";
import {
  ACCESS_VALUES,
  API_VERSION,
  KIND,
  MAX_ENV_ENTRIES,
  SPEC_BOUNDS,
  SPEC_DEFAULTS,
  VISIBILITY_VALUES,
  type Condition,
  type EnvVar,
  type HistorySpec,
  type IntegerBound,
  type JobChannel,
  type JobChannelSpec,
  type JobChannelStatus,
  type ObjectMeta,
  type RedisSpec,
  type WorkerAutoscaling,
  type WorkerResources,
  type WorkerSpec,
  type WorkersStatus,
} from "./jobchannel.ts";

/** The outcome of {@link parseJobChannel}: the typed object, or every problem found. */
export type ParseResult =
  | { readonly ok: true; readonly value: JobChannel }
  | {
      readonly ok: false;
      readonly problems: readonly string[];
      readonly meta?: ObjectMeta;
      readonly status?: JobChannelStatus;
    };

type Problems = string[];

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function describeType(value: unknown): string {
  if (value === null) return "null";
  return Array.isArray(value) ? "array" : typeof value;
}

function integer(value: unknown, path: keyof typeof SPEC_BOUNDS, problems: Problems): number {
  const bound: IntegerBound = SPEC_BOUNDS[path];
  if (value === undefined) return bound.default ?? bound.minimum;
  if (typeof value !== "number" || !Number.isInteger(value)) {
    problems.push(`spec.${path}: must be an integer, got ${describeType(value)}`);
    return bound.minimum;
  }
  if (value < bound.minimum || value > bound.maximum) {
    problems.push(
      `spec.${path}: must be between ${bound.minimum} and ${bound.maximum}, got ${value}`,
    );
  }
  return value;
}

function oneOf<T extends string>(
  value: unknown,
  allowed: readonly T[],
  fallback: T,
  path: string,
  problems: Problems,
): T {
  if (value === undefined) return fallback;
  if (typeof value === "string" && (allowed as readonly string[]).includes(value))
    return value as T;
  problems.push(`spec.${path}: must be one of ${allowed.join(", ")}, got ${JSON.stringify(value)}`);
  return fallback;
}

function optionalString(value: unknown, path: string, problems: Problems): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value === "string" && value.length > 0) return value;
  problems.push(`spec.${path}: must be a non-empty string, got ${describeType(value)}`);
  return undefined;
}

function parseHistory(value: unknown, problems: Problems): HistorySpec {
  const history = isRecord(value) ? value : {};
  if (value !== undefined && !isRecord(value)) {
    problems.push(`spec.history: must be an object, got ${describeType(value)}`);
  }
  return {
    maxJobs: integer(history.maxJobs, "history.maxJobs", problems),
    ttlSeconds: integer(history.ttlSeconds, "history.ttlSeconds", problems),
  };
}

function parseEnv(value: unknown, problems: Problems): EnvVar[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value)) {
    problems.push(`spec.worker.env: must be an array, got ${describeType(value)}`);
    return undefined;
  }
  if (value.length > MAX_ENV_ENTRIES) {
    problems.push(`spec.worker.env: at most ${MAX_ENV_ENTRIES} entries, got ${value.length}`);
  }
  const env: EnvVar[] = [];
  const seen = new Set<string>();
  value.forEach((entry: unknown, i) => {
    const path = `spec.worker.env[${i}]`;
    if (!isRecord(entry) || typeof entry.name !== "string" || entry.name.length === 0) {
      problems.push(`${path}: must be an object with a non-empty name`);
      return;
    }
    if (seen.has(entry.name)) problems.push(`${path}: duplicate name ${entry.name}`);
    seen.add(entry.name);
    if (entry.value !== undefined && typeof entry.value !== "string") {
      problems.push(`${path}.value: must be a string, got ${describeType(entry.value)}`);
      return;
    }
    if (entry.valueFrom !== undefined && !isRecord(entry.valueFrom)) {
      problems.push(`${path}.valueFrom: must be an object, got ${describeType(entry.valueFrom)}`);
      return;
    }
    if (entry.value !== undefined && entry.valueFrom !== undefined) {
      problems.push(`${path}: has either value or valueFrom, not both`);
    }
    env.push({
      name: entry.name,
      ...(entry.value !== undefined ? { value: entry.value } : {}),
      ...(isRecord(entry.valueFrom) ? { valueFrom: entry.valueFrom } : {}),
    });
  });
  return env;
}

function parseQuantities(
  value: unknown,
  path: string,
  problems: Problems,
): Record<string, string | number> | undefined {
  if (value === undefined) return undefined;
  if (!isRecord(value)) {
    problems.push(`${path}: must be an object, got ${describeType(value)}`);
    return undefined;
  }
  const out: Record<string, string | number> = {};
  for (const [name, quantity] of Object.entries(value)) {
    if (typeof quantity === "string" || typeof quantity === "number") out[name] = quantity;
    else problems.push(`${path}.${name}: must be a quantity, got ${describeType(quantity)}`);
  }
  return out;
}

function parseResources(value: unknown, problems: Problems): WorkerResources | undefined {
  if (value === undefined) return undefined;
  if (!isRecord(value)) {
    problems.push(`spec.worker.resources: must be an object, got ${describeType(value)}`);
    return undefined;
  }
  const requests = parseQuantities(value.requests, "spec.worker.resources.requests", problems);
  const limits = parseQuantities(value.limits, "spec.worker.resources.limits", problems);
  return { ...(requests ? { requests } : {}), ...(limits ? { limits } : {}) };
}

/** A DNS subdomain, as Secret names are. */
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** A Prometheus metric name. */
const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

function parseRedis(value: unknown, problems: Problems): RedisSpec | undefined {
  if (value === undefined) return undefined;
  if (!isRecord(value)) {
    problems.push(`spec.redis: must be an object, got ${describeType(value)}`);
    return undefined;
  }
  const secretName = optionalString(value.secretName, "redis.secretName", problems);
  if (secretName !== undefined && (secretName.length > 253 || !DNS_SUBDOMAIN.test(secretName))) {
    problems.push(`spec.redis.secretName: must be a DNS subdomain name, got "${secretName}"`);
  }
  return secretName !== undefined ? { secretName } : {};
}

function parseAutoscaling(value: unknown, problems: Problems): WorkerAutoscaling | undefined {
  if (value === undefined) return undefined;
  if (!isRecord(value)) {
    problems.push(`spec.worker.autoscaling: must be an object, got ${describeType(value)}`);
    return undefined;
  }
  const path = "spec.worker.autoscaling";
  if (value.maxReplicas === undefined) problems.push(`${path}.maxReplicas: required`);
  const minReplicas = integer(value.minReplicas, "worker.autoscaling.minReplicas", problems);
  const maxReplicas = integer(value.maxReplicas, "worker.autoscaling.maxReplicas", problems);
  if (maxReplicas < minReplicas) {
    problems.push(
      `${path}.maxReplicas: must be at least minReplicas (${minReplicas}), got ${maxReplicas}`,
    );
  }
  const cpu =
    value.targetCPUUtilizationPercentage === undefined
      ? undefined
      : integer(
          value.targetCPUUtilizationPercentage,
          "worker.autoscaling.targetCPUUtilizationPercentage",
          problems,
        );
  let podsMetric: WorkerAutoscaling["podsMetric"];
  if (value.podsMetric !== undefined) {
    const m = value.podsMetric;
    if (
      !isRecord(m) ||
      typeof m.name !== "string" ||
      !METRIC_NAME.test(m.name) ||
      (typeof m.averageValue !== "string" && typeof m.averageValue !== "number")
    ) {
      problems.push(`${path}.podsMetric: needs a metric name and an averageValue quantity`);
    } else {
      podsMetric = { name: m.name, averageValue: m.averageValue };
      if (/^[+]?0*(\.0*)?[a-zA-Z]*$/.test(String(m.averageValue))) {
        problems.push(`${path}.podsMetric.averageValue: must be above 0`);
      }
    }
  }
  if (cpu === undefined && value.podsMetric === undefined) {
    problems.push(`${path}: set targetCPUUtilizationPercentage, podsMetric, or both`);
  }
  return {
    minReplicas,
    maxReplicas,
    ...(cpu !== undefined ? { targetCPUUtilizationPercentage: cpu } : {}),
    ...(podsMetric ? { podsMetric } : {}),
  };
}

function parseWorker(value: unknown, problems: Problems): WorkerSpec | undefined {
  if (value === undefined) return undefined;
  if (!isRecord(value)) {
    problems.push(`spec.worker: must be an object, got ${describeType(value)}`);
    return undefined;
  }
  const image = optionalString(value.image, "worker.image", problems);
  const jobType = optionalString(value.jobType, "worker.jobType", problems);
  if (jobType !== undefined) {
    const problem = channelNameProblem(jobType);
    if (problem) problems.push(`spec.worker.jobType: ${problem}`);
  }
  if (image === undefined && jobType === undefined) {
    problems.push("spec.worker.jobType: required when spec.worker.image is not set");
  }
  const env = parseEnv(value.env, problems);
  const resources = parseResources(value.resources, problems);
  const autoscaling = parseAutoscaling(value.autoscaling, problems);
  return {
    ...(image !== undefined ? { image } : {}),
    ...(jobType !== undefined ? { jobType } : {}),
    replicas: integer(value.replicas, "worker.replicas", problems),
    concurrency: integer(value.concurrency, "worker.concurrency", problems),
    ...(env ? { env } : {}),
    ...(resources ? { resources } : {}),
    ...(autoscaling ? { autoscaling } : {}),
  };
}

function parseMeta(value: unknown): ObjectMeta | undefined {
  if (!isRecord(value)) return undefined;
  const { name, namespace, uid } = value;
  if (typeof name !== "string" || typeof namespace !== "string" || typeof uid !== "string") {
    return undefined;
  }
  const text = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);
  const meta: ObjectMeta = { name, namespace, uid };
  if (typeof value.generation === "number") meta.generation = value.generation;
  const resourceVersion = text(value.resourceVersion);
  if (resourceVersion !== undefined) meta.resourceVersion = resourceVersion;
  const created = timestamp(value.creationTimestamp);
  if (created !== undefined) meta.creationTimestamp = created;
  const deleted = timestamp(value.deletionTimestamp);
  if (deleted !== undefined) meta.deletionTimestamp = deleted;
  return meta;
}

/** Timestamps arrive as strings from raw JSON and as Date from client-node's typed models. */
function timestamp(value: unknown): string | undefined {
  if (typeof value === "string") return value;
  if (value instanceof Date) return value.toISOString();
  return undefined;
}

/** The status as last written; only the parts the operator reads back are kept, malformed conditions dropped. */
function parseStatus(value: unknown): JobChannelStatus | undefined {
  if (!isRecord(value)) return undefined;
  const status: JobChannelStatus = {};
  if (typeof value.observedGeneration === "number")
    status.observedGeneration = value.observedGeneration;
  if (Array.isArray(value.conditions)) {
    status.conditions = value.conditions.flatMap((c: unknown): Condition[] => {
      if (!isRecord(c)) return [];
      const { type, status: s, reason, message } = c;
      const since = timestamp(c.lastTransitionTime);
      if (typeof type !== "string" || typeof reason !== "string" || since === undefined) return [];
      if (s !== "True" && s !== "False" && s !== "Unknown") return [];
      return [
        {
          type,
          status: s,
          ...(typeof c.observedGeneration === "number"
            ? { observedGeneration: c.observedGeneration }
            : {}),
          lastTransitionTime: since,
          reason,
          message: typeof message === "string" ? message : "",
        },
      ];
    });
  }
  for (const key of ["channel", "redisChannel"] as const) {
    if (typeof value[key] === "string") status[key] = value[key];
  }
  if (isRecord(value.workers)) {
    const w = value.workers;
    const count = (v: unknown): number => (typeof v === "number" ? v : 0);
    const workers: WorkersStatus = {
      desiredReplicas: count(w.desiredReplicas),
      replicas: count(w.replicas),
      readyReplicas: count(w.readyReplicas),
      availableReplicas: count(w.availableReplicas),
      summary: typeof w.summary === "string" ? w.summary : "",
    };
    status.workers = workers;
  }
  return status;
}

/**
 * Validates a JobChannel as read from the API server and fills in the schema's defaults. The API
 * server enforces the same schema; this check protects the operator from objects stored under an
 * older schema and from anything else that does not match its types.
 */
export function parseJobChannel(object: unknown): ParseResult {
  if (!isRecord(object)) return { ok: false, problems: ["object: must be an object"] };
  const meta = parseMeta(object.metadata);
  if (!meta) return { ok: false, problems: ["metadata: name, namespace and uid are required"] };
  const problems: Problems = [];
  const spec = isRecord(object.spec) ? object.spec : undefined;
  if (!spec) {
    return {
      ok: false,
      problems: [`spec: must be an object, got ${describeType(object.spec)}`],
      meta,
    };
  }
  const channel = spec.channel === undefined ? undefined : spec.channel;
  const channelProblem = channelNameProblem(channel ?? meta.name);
  if (channelProblem) {
    problems.push(
      `${channel === undefined ? "metadata.name (the default channel)" : "spec.channel"}: ${channelProblem}`,
    );
  }
  const parsed: JobChannelSpec = {
    ...(typeof channel === "string" ? { channel } : {}),
    access: oneOf(spec.access, ACCESS_VALUES, SPEC_DEFAULTS.access, "access", problems),
    visibility: oneOf(
      spec.visibility,
      VISIBILITY_VALUES,
      SPEC_DEFAULTS.visibility,
      "visibility",
      problems,
    ),
    history: parseHistory(spec.history, problems),
    maxMessageBytes: integer(spec.maxMessageBytes, "maxMessageBytes", problems),
  };
  const redis = parseRedis(spec.redis, problems);
  if (redis) parsed.redis = redis;
  const worker = parseWorker(spec.worker, problems);
  if (worker) parsed.worker = worker;
  const status = parseStatus(object.status);
  if (problems.length > 0) return { ok: false, problems, meta, ...(status ? { status } : {}) };
  return {
    ok: true,
    value: {
      apiVersion: API_VERSION,
      kind: KIND,
      metadata: meta,
      spec: parsed,
      ...(status ? { status } : {}),
    },
  };
}
