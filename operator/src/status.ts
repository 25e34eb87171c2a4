// The status a JobChannel should show, from what the operator observed: pure, so it is unit-tested without a cluster.
import { DEFAULT_REDIS_PREFIX, redisChannelFor } from "@jobchannel/protocol";
import { mergeConditions, type ConditionInput } from "./conditions.ts";
import {
  ConditionType,
  type JobChannelStatus,
  type ObjectMeta,
  type WorkersStatus,
} from "./jobchannel.ts";

/** Condition reasons the operator sets (CamelCase, as metav1.Condition wants). */
export const Reason = {
  Ready: "Ready",
  Registered: "Registered",
  RegistrationPending: "RegistrationPending",
  ChannelConflict: "ChannelConflict",
  InvalidSpec: "InvalidSpec",
  WorkersReady: "WorkersReady",
  WorkersUnavailable: "WorkersUnavailable",
  DeploymentPending: "DeploymentPending",
  NoWorkerDeclared: "NoWorkerDeclared",
  ChannelNotRegistered: "ChannelNotRegistered",
  InvalidChild: "InvalidChild",
  ChildConflict: "ChildConflict",
  RedisSecretMissing: "RedisSecretMissing",
} as const;

/**
 * Reasons that report a problem someone has to act on: their Events are Warnings. Every other
 * reason, pending states included, is Normal.
 */
export const PROBLEM_REASONS: ReadonlySet<string> = new Set([
  Reason.ChannelConflict,
  Reason.InvalidSpec,
  Reason.WorkersUnavailable,
  Reason.InvalidChild,
  Reason.ChildConflict,
  Reason.RedisSecretMissing,
]);

/** A child the API server refused (InvalidChild) or that another controller holds (ChildConflict). */
export interface ChildProblem {
  readonly reason: typeof Reason.InvalidChild | typeof Reason.ChildConflict;
  readonly message: string;
}

/** What the deployment controller reports about the worker Deployment. */
export interface DeploymentObservation {
  readonly generation: number;
  readonly observedGeneration: number;
  readonly desiredReplicas: number;
  readonly replicas: number;
  readonly readyReplicas: number;
  readonly availableReplicas: number;
  /** The Deployment's `Available` condition, if the controller has set one. */
  readonly available?: {
    readonly status: string;
    readonly reason?: string;
    readonly message?: string;
  };
}

/** Everything {@link desiredStatus} decides from. */
export interface StatusInput {
  readonly meta: ObjectMeta;
  readonly previous: JobChannelStatus | undefined;
  readonly channel: string;
  readonly now: string;
  /** Redis pub/sub prefix. @default "jobchannel:" */
  readonly redisPrefix?: string;
  /** `namespace/name` of the older JobChannel that holds the channel, when this one lost. */
  readonly conflictWith?: string;
  /** Whether the relay ConfigMap lists the channel as this JobChannel asks. */
  readonly registered: boolean;
  /** Namespace/name of the relay ConfigMap, for messages. */
  readonly relayConfigMap: string;
  /** Whether the spec declares a worker. */
  readonly hasWorker: boolean;
  /** The worker Deployment as last seen; undefined when it does not exist (yet). */
  readonly deployment?: DeploymentObservation;
  /** A child that could not be written. */
  readonly childProblem?: ChildProblem;
  /** `namespace/name` of the Redis Secret, when it does not exist. */
  readonly missingRedisSecret?: string;
}

function registration(input: StatusInput): ConditionInput {
  const type = ConditionType.ChannelRegistered;
  if (input.conflictWith) {
    return {
      type,
      status: "False",
      reason: Reason.ChannelConflict,
      message: `channel ${input.channel} is already claimed by the older JobChannel ${input.conflictWith}`,
    };
  }
  if (input.registered) {
    return {
      type,
      status: "True",
      reason: Reason.Registered,
      message: `channel ${input.channel} is listed in the relay ConfigMap ${input.relayConfigMap}`,
    };
  }
  return {
    type,
    status: "False",
    reason: Reason.RegistrationPending,
    message: `waiting for the relay ConfigMap ${input.relayConfigMap} to list channel ${input.channel}`,
  };
}

function availability(input: StatusInput): ConditionInput {
  const type = ConditionType.WorkersAvailable;
  if (input.conflictWith) {
    return {
      type,
      status: "False",
      reason: Reason.ChannelConflict,
      message: "no workers run for a conflicting channel",
    };
  }
  if (!input.hasWorker) {
    return {
      type,
      status: "True",
      reason: Reason.NoWorkerDeclared,
      message: "spec.worker is not set: jobs are published from outside",
    };
  }
  if (input.childProblem) {
    return {
      type,
      status: "False",
      reason: input.childProblem.reason,
      message: input.childProblem.message,
    };
  }
  if (input.missingRedisSecret) {
    const [namespace, name] = input.missingRedisSecret.split("/");
    return {
      type,
      status: "False",
      reason: Reason.RedisSecretMissing,
      message: `the Secret ${input.missingRedisSecret} does not exist: workers read REDIS_URL from it; create it in namespace ${namespace} (kubectl -n ${namespace} create secret generic ${name} --from-literal=REDIS_URL=redis://...), or name another in spec.redis.secretName`,
    };
  }
  const d = input.deployment;
  if (!d || d.observedGeneration < d.generation || !d.available) {
    return {
      type,
      status: "Unknown",
      reason: Reason.DeploymentPending,
      message: "the deployment controller has not yet reported on the worker Deployment",
    };
  }
  const counts = `${d.readyReplicas}/${d.desiredReplicas} worker replicas ready`;
  if (d.available.status === "True") {
    return { type, status: "True", reason: Reason.WorkersReady, message: counts };
  }
  const detail = [d.available.reason, d.available.message].filter(Boolean).join(": ");
  return {
    type,
    status: "False",
    reason: Reason.WorkersUnavailable,
    message: detail ? `${counts} (Deployment Available=False, ${detail})` : counts,
  };
}

function readiness(registered: ConditionInput, workers: ConditionInput): ConditionInput {
  const type = ConditionType.Ready;
  if (registered.reason === Reason.ChannelConflict) {
    return { type, status: "False", reason: Reason.ChannelConflict, message: registered.message };
  }
  // A problem with the workers' inputs comes first: waiting for registration will not fix it.
  if (workers.status === "False" && workers.reason !== Reason.WorkersUnavailable) {
    return { type, status: "False", reason: workers.reason, message: workers.message };
  }
  if (registered.status !== "True") {
    return {
      type,
      status: "False",
      reason: Reason.ChannelNotRegistered,
      message: registered.message,
    };
  }
  if (workers.status !== "True") {
    const status = workers.status === "Unknown" ? "Unknown" : "False";
    return { type, status, reason: workers.reason, message: workers.message };
  }
  return {
    type,
    status: "True",
    reason: Reason.Ready,
    message: "channel registered and workers available",
  };
}

function workersStatus(input: StatusInput): WorkersStatus {
  const d = input.hasWorker && !input.conflictWith ? input.deployment : undefined;
  const desired = d?.desiredReplicas ?? 0;
  const ready = d?.readyReplicas ?? 0;
  return {
    desiredReplicas: desired,
    replicas: d?.replicas ?? 0,
    readyReplicas: ready,
    availableReplicas: d?.availableReplicas ?? 0,
    summary: `${ready}/${desired}`,
  };
}

/** The status to write: conditions Ready, ChannelRegistered, WorkersAvailable, worker counts, the channel in effect. */
export function desiredStatus(input: StatusInput): JobChannelStatus {
  const registered = registration(input);
  const workers = availability(input);
  const conditions = mergeConditions(
    input.previous?.conditions,
    [readiness(registered, workers), registered, workers],
    input.meta.generation,
    input.now,
  );
  return {
    observedGeneration: input.meta.generation ?? 0,
    channel: input.channel,
    redisChannel: redisChannelFor(input.channel, input.redisPrefix ?? DEFAULT_REDIS_PREFIX),
    workers: workersStatus(input),
    conditions,
  };
}

/** The status of a JobChannel the operator refuses: every condition False with reason InvalidSpec. */
export function invalidStatus(
  meta: ObjectMeta,
  previous: JobChannelStatus | undefined,
  problems: readonly string[],
  now: string,
): JobChannelStatus {
  const message = `invalid spec: ${problems.join("; ")}`.slice(0, 32_000);
  const inputs = [
    ConditionType.Ready,
    ConditionType.ChannelRegistered,
    ConditionType.WorkersAvailable,
  ].map((type): ConditionInput => ({ type, status: "False", reason: Reason.InvalidSpec, message }));
  return {
    observedGeneration: meta.generation ?? 0,
    conditions: mergeConditions(previous?.conditions, inputs, meta.generation, now),
  };
}
