// The JobChannel reconciler: children, relay ConfigMap and status made to match the declared JobChannels.
import { isDeepStrictEqual } from "node:util";
import type { Logger } from "pino";
import { conditionTransitions } from "./conditions.ts";
import { resolveChannelOwners } from "./conflicts.ts";
import {
  desiredDeployment,
  desiredService,
  workerName,
  type WorkerSettings,
} from "./desired-worker.ts";
import { apiMessageOf, OperatorErrorCode } from "./errors.ts";
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
import { desiredStatus, invalidStatus, Reason } from "./status.ts";
import type { StoreReader } from "./store.ts";

/** The queue key of the relay ConfigMap (JobChannel keys always hold a slash, so it cannot clash). */
export const RELAY_CONFIG_QUEUE_KEY = "relay-config";

/** Error codes of the condition reasons that report a problem with the resource itself. */
const REASON_CODES: Record<string, string> = {
  [Reason.ChannelConflict]: OperatorErrorCode.ChannelConflict,
  [Reason.InvalidSpec]: OperatorErrorCode.InvalidSpec,
};

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

/** What {@link JobChannelReconciler} reads and writes. */
export interface ReconcilerDeps {
  readonly jobChannels: StoreReader<ObservedJobChannel>;
  readonly deployments: StoreReader<ObservedChild>;
  readonly services: StoreReader<ObservedChild>;
  readonly configMaps: StoreReader<ObservedConfigMap>;
  readonly writer: ClusterWriter;
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

/** The live JobChannels that claim a channel: valid and not being deleted. */
function claimants(store: StoreReader<ObservedJobChannel>): JobChannel[] {
  return store
    .list()
    .flatMap((o) => (o.ok && !o.value.metadata.deletionTimestamp ? [o.value] : []));
}

/** Reconciles JobChannel keys (`namespace/name`) and the relay ConfigMap key. */
export class JobChannelReconciler implements Reconciler {
  readonly #d: ReconcilerDeps;

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

  /** The JobChannels that win their channel, by channel. */
  #owners(): { live: JobChannel[]; owners: Map<string, string> } {
    const live = claimants(this.#d.jobChannels);
    const owners = resolveChannelOwners(
      live.map((jc) => ({
        key: objectKey(jc.metadata),
        channel: channelOf(jc),
        ...(jc.metadata.creationTimestamp
          ? { creationTimestamp: jc.metadata.creationTimestamp }
          : {}),
      })),
    );
    return { live, owners };
  }

  async #reconcileRelayConfig(): Promise<Result> {
    const { live, owners } = this.#owners();
    const registered = live.filter((jc) => owners.get(channelOf(jc)) === objectKey(jc.metadata));
    const text = renderRelayConfig(registered);
    const { relayNamespace, relayConfigMap, relayConfigMapOwner: owner } = this.#d.settings;
    const current = this.#d.configMaps.get(this.relayConfigMapKey);
    // A ConfigMap written before the owner was configured (or after it was dropped) is re-applied too.
    const ownerUids = owner ? [owner.uid] : [];
    if (current?.channels === text && isDeepStrictEqual(current.ownerUids, ownerUids)) return {};
    await this.#d.writer.apply(desiredRelayConfigMap(relayNamespace, relayConfigMap, text, owner));
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
      return {};
    }
    const now = rfc3339(this.#d.now?.() ?? new Date());
    if (!observed.ok) {
      // Without a valid spec there is no desired state: children stay as they are, the relay drops the channel.
      const status = invalidStatus(meta, observed.status, observed.problems, now);
      this.#d.metrics?.computed(key, status);
      await this.#writeStatus(meta, observed.status, status);
      throw new TerminalError(
        OperatorErrorCode.InvalidSpec,
        `invalid spec: ${observed.problems.join("; ")}`,
      );
    }
    const jc = observed.value;
    const channel = channelOf(jc);
    const winner = this.#owners().owners.get(channel);
    const conflictWith = winner !== undefined && winner !== key ? winner : undefined;
    let deployment;
    if (conflictWith || !jc.spec.worker) {
      await this.#removeChildren(key, jc.metadata);
    } else {
      const live = await this.#d.writer.apply(desiredDeployment(jc, channel, this.#d.settings)!);
      deployment = observeDeploymentStatus(live);
      await this.#d.writer.apply(desiredService(jc, channel)!);
    }
    const config = parseRelayConfig(this.#d.configMaps.get(this.relayConfigMapKey)?.channels);
    const status = desiredStatus({
      meta: jc.metadata,
      previous: jc.status,
      channel,
      now,
      ...(conflictWith ? { conflictWith } : {}),
      registered: !conflictWith && isRegistered(jc, config),
      relayConfigMap: this.relayConfigMapKey,
      hasWorker: jc.spec.worker !== undefined,
      ...(deployment ? { deployment } : {}),
    });
    this.#d.metrics?.computed(key, status);
    await this.#writeStatus(jc.metadata, jc.status, status);
    return {};
  }

  /** Deletes the worker children this JobChannel controls, when it should have none. */
  async #removeChildren(key: string, meta: ObjectMeta): Promise<void> {
    const name = workerName(meta.name);
    const childKey = objectKey({ namespace: meta.namespace, name });
    if (this.#d.deployments.get(childKey)?.owner === key) {
      await this.#d.writer.remove("Deployment", meta.namespace, name);
      this.#d.logger.info({ key, child: childKey }, "worker deployment removed");
    }
    if (this.#d.services.get(childKey)?.owner === key) {
      await this.#d.writer.remove("Service", meta.namespace, name);
    }
  }

  /** Applies the status if it differs from the last one, and records an Event per condition transition. */
  async #writeStatus(
    meta: ObjectMeta,
    previous: JobChannelStatus | undefined,
    next: JobChannelStatus,
  ): Promise<void> {
    if (previous && isDeepStrictEqual(previous, next)) return;
    const key = objectKey(meta);
    await this.#d.writer.applyStatus(meta.namespace, meta.name, next);
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
          type: condition.status === "False" ? "Warning" : "Normal",
          reason: condition.reason,
          note: `${condition.type}=${condition.status}: ${condition.message}`,
          action: "Reconcile",
        });
      } catch (error) {
        this.#d.logger.warn({ key, err: apiMessageOf(error) }, "event not recorded");
      }
    }
  }
}
