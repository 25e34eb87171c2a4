// The JobChannel reconciler: children, relay ConfigMap and status made to match the declared JobChannels.
import { isDeepStrictEqual } from "node:util";
import type { Logger } from "pino";
import { conditionTransitions } from "./conditions.ts";
import { resolveChannelOwners } from "./conflicts.ts";
import {
  desiredDeployment,
  desiredHash,
  desiredHorizontalPodAutoscaler,
  desiredPodDisruptionBudget,
  desiredService,
  redisSecretOf,
  withDesiredHash,
  workerName,
  type ChildKind,
  type WorkerSettings,
} from "./desired-worker.ts";
import { apiMessageOf, OperatorErrorCode, statusCodeOf } from "./errors.ts";
import {
  API_VERSION,
  KIND,
  channelOf,
  objectKey,
  type JobChannel,
  type JobChannelStatus,
  type ObjectMeta,
} from "./jobchannel.ts";
import type { ClusterWriter } from "./kube-client.ts";
import type { ObservedChild, ObservedConfigMap, ObservedJobChannel } from "./observed.ts";
import { observeDeploymentStatus } from "./observed.ts";
import { TerminalError, type Reconciler, type Request, type Result } from "./reconcile.ts";
import {
  desiredRelayConfigMap,
  isRegistered,
  parseRelayConfig,
  renderRelayConfig,
  type RelayConfigMapOwner,
} from "./relay-config.ts";
import {
  desiredStatus,
  invalidStatus,
  PROBLEM_REASONS,
  Reason,
  type ChildProblem,
} from "./status.ts";
import type { StoreReader } from "./store.ts";

/** The queue key of the relay ConfigMap (JobChannel keys always hold a slash, so it cannot clash). */
export const RELAY_CONFIG_QUEUE_KEY = "relay-config";

/** Error codes of the condition reasons that report a problem with the resource itself. */
const REASON_CODES: Record<string, string> = {
  [Reason.ChannelConflict]: OperatorErrorCode.ChannelConflict,
  [Reason.InvalidSpec]: OperatorErrorCode.InvalidSpec,
  [Reason.InvalidChild]: OperatorErrorCode.InvalidChild,
  [Reason.ChildConflict]: OperatorErrorCode.ChildConflict,
  [Reason.RedisSecretMissing]: OperatorErrorCode.RedisSecretMissing,
};

/** The worker children, in the order they are applied. */
export const CHILD_KINDS: readonly ChildKind[] = [
  "Deployment",
  "Service",
  "PodDisruptionBudget",
  "HorizontalPodAutoscaler",
];

/** First retry of a child the API refused; doubles up to {@link CHILD_PROBLEM_MAX_RETRY_MS}. */
const CHILD_PROBLEM_RETRY_MS = 30_000;
const CHILD_PROBLEM_MAX_RETRY_MS = 600_000;
/** How often a missing Redis Secret is looked for again. */
const REDIS_SECRET_RECHECK_MS = 10_000;
/** Field manager that holds a Deployment's replicas while they pass to a HorizontalPodAutoscaler. */
const REPLICAS_HANDOVER_MANAGER = "jobchannel-operator-replicas-handover";

/** Settings of {@link JobChannelReconciler}. */
export interface ReconcilerSettings extends WorkerSettings {
  /** Namespace of the relay ConfigMap. */
  readonly relayNamespace: string;
  /** Name of the relay ConfigMap. */
  readonly relayConfigMap: string;
  /** The relay ConfigMap's owner (JOBCHANNEL_OPERATOR_DEPLOYMENT). @default none */
  readonly relayConfigMapOwner?: RelayConfigMapOwner;
}

/** Where the reconciler reports each JobChannel's status (the per-JobChannel gauges). */
export interface StatusMetrics {
  /** The status just computed for the JobChannel `key` (`namespace/name`). */
  computed(key: string, status: JobChannelStatus): void;
  /** The JobChannel `key` is gone or being deleted. */
  forget(key: string): void;
}

/** Every write the operator makes, counted (jobchannel_operator_api_writes_total). */
export interface WriteMetrics {
  wrote(resource: string, verb: "apply" | "delete" | "create"): void;
}

/** What {@link JobChannelReconciler} reads and writes. */
export interface ReconcilerDeps {
  readonly jobChannels: StoreReader<ObservedJobChannel>;
  /** The keys of the JobChannels that claim a channel (an index, not a scan). */
  readonly claimants: (channel: string) => Iterable<string>;
  /** The worker children the operator manages, by kind. */
  readonly children: Readonly<Record<ChildKind, StoreReader<ObservedChild>>>;
  readonly configMaps: StoreReader<ObservedConfigMap>;
  readonly writer: ClusterWriter;
  /** @default none */
  readonly writes?: WriteMetrics;
  readonly settings: ReconcilerSettings;
  readonly logger: Logger;
  /** Per-JobChannel status metrics. @default none */
  readonly metrics?: StatusMetrics;
  /** Clock, for tests. @default () => new Date() */
  readonly now?: () => Date;
}

/** metav1.Time has whole seconds. */
function rfc3339(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** The live JobChannels among `observed`: valid and not being deleted. */
function live(observed: Iterable<ObservedJobChannel | undefined>): JobChannel[] {
  return [...observed].flatMap((o) =>
    o?.ok && !o.value.metadata.deletionTimestamp ? [o.value] : [],
  );
}

/** The winning JobChannel's key for each channel claimed by `jobChannels`. */
function owners(jobChannels: readonly JobChannel[]): Map<string, string> {
  return resolveChannelOwners(
    jobChannels.map((jc) => ({
      key: objectKey(jc.metadata),
      channel: channelOf(jc),
      ...(jc.metadata.creationTimestamp
        ? { creationTimestamp: jc.metadata.creationTimestamp }
        : {}),
    })),
  );
}

/** What applying one child came to. */
type ChildOutcome = { readonly live?: unknown } | { readonly problem: ChildProblem };

/** What the reconciler last wrote of an object, to tell a stale cache from a change. */
interface AppliedRecord {
  readonly generation?: number;
  readonly resourceVersion?: string;
}

/** The status last written for a JobChannel, with its resourceVersion before and after the write. */
interface WrittenStatus {
  readonly uid: string;
  readonly before: string | undefined;
  readonly status: JobChannelStatus;
}

function appliedRecord(object: unknown): AppliedRecord {
  const meta = (object as { metadata?: { generation?: unknown; resourceVersion?: unknown } })
    ?.metadata;
  return {
    ...(typeof meta?.generation === "number" ? { generation: meta.generation } : {}),
    ...(typeof meta?.resourceVersion === "string" ? { resourceVersion: meta.resourceVersion } : {}),
  };
}

/** Reconciles JobChannel keys (`namespace/name`) and the relay ConfigMap key. */
export class JobChannelReconciler implements Reconciler {
  readonly #d: ReconcilerDeps;
  /** `<kind> namespace/name` -> what the last apply returned. */
  readonly #applied = new Map<string, AppliedRecord>();
  /** JobChannel key -> the status last written. */
  readonly #written = new Map<string, WrittenStatus>();
  /** JobChannel key -> consecutive reconciles that ended with a child problem. */
  readonly #childProblems = new Map<string, number>();

  constructor(deps: ReconcilerDeps) {
    this.#d = deps;
  }

  /** `namespace/name` of the relay ConfigMap. */
  get relayConfigMapKey(): string {
    return objectKey({
      namespace: this.#d.settings.relayNamespace,
      name: this.#d.settings.relayConfigMap,
    });
  }

  async reconcile({ key }: Request): Promise<Result> {
    if (key === RELAY_CONFIG_QUEUE_KEY) return this.#reconcileRelayConfig();
    return this.#reconcileJobChannel(key);
  }

  /** The key of the JobChannel that holds `channel`, among those that claim it. */
  #winner(channel: string): string | undefined {
    const claims = [...this.#d.claimants(channel)].map((k) => this.#d.jobChannels.get(k));
    return owners(live(claims)).get(channel);
  }

  async #reconcileRelayConfig(): Promise<Result> {
    const all = live(this.#d.jobChannels.list());
    const winners = owners(all);
    const registered = all.filter((jc) => winners.get(channelOf(jc)) === objectKey(jc.metadata));
    const text = renderRelayConfig(registered);
    const { relayNamespace, relayConfigMap, relayConfigMapOwner: owner } = this.#d.settings;
    const current = this.#d.configMaps.get(this.relayConfigMapKey);
    // A ConfigMap written before the owner was configured (or after it was dropped) is re-applied too.
    const ownerUids = owner ? [owner.uid] : [];
    if (current?.channels === text && isDeepStrictEqual(current.ownerUids, ownerUids)) return {};
    await this.#d.writer.apply(desiredRelayConfigMap(relayNamespace, relayConfigMap, text, owner), {
      force: true,
    });
    this.#d.writes?.wrote("configmaps", "apply");
    this.#d.logger.info(
      { key: this.relayConfigMapKey, channels: registered.length },
      "relay config applied",
    );
    return {};
  }

  async #reconcileJobChannel(key: string): Promise<Result> {
    const observed = this.#d.jobChannels.get(key);
    const meta = observed?.ok ? observed.value.metadata : observed?.meta;
    if (!observed || !meta || meta.deletionTimestamp) {
      this.#d.metrics?.forget(key);
      this.#written.delete(key);
      this.#childProblems.delete(key);
      return {};
    }
    const now = rfc3339(this.#d.now?.() ?? new Date());
    const previous = this.#previousStatus(
      key,
      meta,
      observed.ok ? observed.value.status : observed.status,
    );
    if (!observed.ok) {
      // Without a valid spec there is no desired state: children stay as they are, the relay drops the channel.
      const status = invalidStatus(meta, previous, observed.problems, now);
      this.#d.metrics?.computed(key, status);
      await this.#writeStatus(key, meta, previous, status);
      throw new TerminalError(
        OperatorErrorCode.InvalidSpec,
        `invalid spec: ${observed.problems.join("; ")}`,
      );
    }
    const jc = observed.value;
    const channel = channelOf(jc);
    const winner = this.#winner(channel);
    const conflictWith = winner !== undefined && winner !== key ? winner : undefined;
    let deployment;
    let childProblem: ChildProblem | undefined;
    let missingRedisSecret: string | undefined;
    if (conflictWith || !jc.spec.worker) {
      for (const kind of CHILD_KINDS) await this.#removeChild(key, jc.metadata, kind);
    } else {
      const secret = redisSecretOf(jc, this.#d.settings);
      if ((await this.#d.writer.secretExists(jc.metadata.namespace, secret)) === false) {
        missingRedisSecret = objectKey({ namespace: jc.metadata.namespace, name: secret });
      }
      const desired: Record<ChildKind, Record<string, unknown> | undefined> = {
        Deployment: desiredDeployment(jc, channel, this.#d.settings),
        Service: desiredService(jc, channel),
        PodDisruptionBudget: desiredPodDisruptionBudget(jc, channel),
        HorizontalPodAutoscaler: desiredHorizontalPodAutoscaler(jc, channel),
      };
      for (const kind of CHILD_KINDS) {
        const object = desired[kind];
        if (!object) {
          await this.#removeChild(key, jc.metadata, kind);
          continue;
        }
        const outcome = await this.#applyChild(
          key,
          kind,
          object,
          jc.spec.worker.autoscaling !== undefined,
        );
        if ("problem" in outcome) {
          childProblem = outcome.problem;
          break;
        }
        if (kind === "Deployment") {
          const childKey = objectKey({
            namespace: jc.metadata.namespace,
            name: workerName(jc.metadata.name),
          });
          deployment = outcome.live
            ? observeDeploymentStatus(outcome.live)
            : this.#d.children.Deployment.get(childKey)?.deployment;
        }
      }
    }
    const config = parseRelayConfig(this.#d.configMaps.get(this.relayConfigMapKey)?.channels);
    const status = desiredStatus({
      meta: jc.metadata,
      previous,
      channel,
      now,
      ...(conflictWith ? { conflictWith } : {}),
      registered: !conflictWith && isRegistered(jc, config),
      relayConfigMap: this.relayConfigMapKey,
      hasWorker: jc.spec.worker !== undefined,
      ...(deployment ? { deployment } : {}),
      ...(childProblem ? { childProblem } : {}),
      ...(missingRedisSecret ? { missingRedisSecret } : {}),
    });
    this.#d.metrics?.computed(key, status);
    await this.#writeStatus(key, jc.metadata, previous, status);
    if (childProblem) {
      // Retrying at once cannot help; a long, growing delay, and at once on the next change of the spec.
      const failures = this.#childProblems.get(key) ?? 0;
      this.#childProblems.set(key, failures + 1);
      return {
        requeueAfterMs: Math.min(
          CHILD_PROBLEM_MAX_RETRY_MS,
          CHILD_PROBLEM_RETRY_MS * 2 ** Math.min(failures, 10),
        ),
      };
    }
    this.#childProblems.delete(key);
    return missingRedisSecret ? { requeueAfterMs: REDIS_SECRET_RECHECK_MS } : {};
  }

  /**
   * Applies one child unless the cache shows it as last applied from the same desired object and
   * unchanged since. A child controlled by another owner is refused, never taken over; one not
   * yet known to be ours is applied without `force`, so fields another manager holds conflict.
   */
  async #applyChild(
    key: string,
    kind: ChildKind,
    object: Record<string, unknown>,
    autoscaled: boolean,
  ): Promise<ChildOutcome> {
    const { name, namespace } = object.metadata as { name: string; namespace: string };
    const childKey = objectKey({ namespace, name });
    const cached = this.#d.children[kind].get(childKey);
    if (cached?.owner !== undefined && cached.owner !== key) {
      return {
        problem: {
          reason: Reason.ChildConflict,
          message: `${kind} ${childKey} is controlled by JobChannel ${cached.owner}`,
        },
      };
    }
    const memory = `${kind} ${childKey}`;
    const ours = cached?.owner === key;
    if (ours && cached.desiredHash === desiredHash(object) && this.#unchanged(memory, cached)) {
      return {};
    }
    try {
      if (kind === "Deployment" && autoscaled && ours && cached.ownsReplicas && cached.deployment) {
        await this.#handOverReplicas(namespace, name, cached.deployment.desiredReplicas);
      }
      const live = await this.#d.writer.apply(withDesiredHash(object), { force: ours });
      this.#d.writes?.wrote(kind, "apply");
      this.#applied.set(memory, appliedRecord(live));
      return { live };
    } catch (error) {
      const code = statusCodeOf(error);
      const message = `${kind} ${childKey}: ${apiMessageOf(error)}`;
      if (code === 409) {
        return {
          problem: {
            reason: Reason.ChildConflict,
            message: `${message} (the object exists and another field manager holds these fields; jobchannel does not take it over)`,
          },
        };
      }
      if (code === 400 || code === 422) {
        const conflict = /Only one reference can have Controller set to true/i.test(message);
        return {
          problem: {
            reason: conflict ? Reason.ChildConflict : Reason.InvalidChild,
            message,
          },
        };
      }
      throw error;
    }
  }

  /**
   * Before a Deployment's replicas leave the operator's apply (autoscaling was turned on), another
   * field manager claims them at their current value, so server-side apply does not reset them.
   */
  async #handOverReplicas(namespace: string, name: string, replicas: number): Promise<void> {
    await this.#d.writer.apply(
      {
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: { name, namespace },
        spec: { replicas },
      },
      { force: true, fieldManager: REPLICAS_HANDOVER_MANAGER },
    );
    this.#d.writes?.wrote("Deployment", "apply");
  }

  /** Whether a child is as the last apply left it (by generation, else resourceVersion). */
  #unchanged(memory: string, cached: ObservedChild): boolean {
    const applied = this.#applied.get(memory);
    // Not applied by this process (it restarted): the hash annotation is the record.
    if (!applied) return true;
    if (applied.generation !== undefined && cached.generation !== undefined) {
      return applied.generation === cached.generation;
    }
    return applied.resourceVersion === cached.resourceVersion;
  }

  /**
   * The status a JobChannel has: the one this process last wrote while the cache still shows the
   * object from before that write, else the cached one.
   */
  #previousStatus(
    key: string,
    meta: ObjectMeta,
    cached: JobChannelStatus | undefined,
  ): JobChannelStatus | undefined {
    const written = this.#written.get(key);
    if (written && written.uid === meta.uid && written.before === meta.resourceVersion) {
      return written.status;
    }
    return cached;
  }

  /** Deletes a worker child this JobChannel controls, when it should have none. */
  async #removeChild(key: string, meta: ObjectMeta, kind: ChildKind): Promise<void> {
    const name = workerName(meta.name);
    const childKey = objectKey({ namespace: meta.namespace, name });
    if (this.#d.children[kind].get(childKey)?.owner !== key) return;
    await this.#d.writer.remove(kind, meta.namespace, name);
    this.#d.writes?.wrote(kind, "delete");
    this.#applied.delete(`${kind} ${childKey}`);
    this.#d.logger.info({ key, kind, child: childKey }, "worker child removed");
  }

  /**
   * Applies the status unless it equals the previous one, and records one Event per condition
   * transition: a Warning for a problem, Normal otherwise.
   */
  async #writeStatus(
    key: string,
    meta: ObjectMeta,
    previous: JobChannelStatus | undefined,
    next: JobChannelStatus,
  ): Promise<void> {
    if (previous && isDeepStrictEqual(previous, next)) return;
    await this.#d.writer.applyStatus(meta.namespace, meta.name, next);
    this.#d.writes?.wrote("jobchannels/status", "apply");
    this.#written.set(key, { uid: meta.uid, before: meta.resourceVersion, status: next });
    const changed = conditionTransitions(previous?.conditions, next.conditions ?? []);
    for (const condition of changed) {
      const code = REASON_CODES[condition.reason];
      this.#d.logger.info(
        {
          key,
          condition: condition.type,
          status: condition.status,
          reason: condition.reason,
          ...(code ? { code } : {}),
        },
        "condition changed",
      );
      try {
        await this.#d.writer.event({
          regarding: {
            apiVersion: API_VERSION,
            kind: KIND,
            namespace: meta.namespace,
            name: meta.name,
            uid: meta.uid,
          },
          type: PROBLEM_REASONS.has(condition.reason) ? "Warning" : "Normal",
          reason: condition.reason,
          note: `${condition.type}=${condition.status}: ${condition.message}`,
          action: "Reconcile",
        });
        this.#d.writes?.wrote("events", "create");
      } catch (error) {
        this.#d.logger.warn({ key, err: apiMessageOf(error) }, "event not recorded");
      }
    }
  }
}
