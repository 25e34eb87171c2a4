// Wires the pipeline: watchers -> stores -> queue -> runner -> reconciler, gated by leader election.
import type { Server } from "node:http";
import { isDeepStrictEqual } from "node:util";
import type { KubeConfig } from "@kubernetes/client-node";
import type { Logger } from "pino";
import type { OperatorConfig } from "./config.ts";
import { signalOptions } from "./api-deadline.ts";
import { ChannelIndex } from "./channel-index.ts";
import { MANAGED_BY, MANAGED_BY_LABEL, type ChildKind } from "./desired-worker.ts";
import { startHttpServer } from "./http-server.ts";
import { GROUP, PLURAL, VERSION, channelOf } from "./jobchannel.ts";
import {
  KubeClusterWriter,
  listApis,
  listWatchSource,
  type ClusterWriter,
  type ListApis,
  type Lister,
} from "./kube-client.ts";
import { LeaderElector, kubeLeaseClient } from "./leader-election.ts";
import { createMetrics, type OperatorMetrics } from "./metrics.ts";
import {
  observeChild,
  observeConfigMap,
  observeJobChannel,
  type ObservedChild,
  type ObservedConfigMap,
  type ObservedJobChannel,
} from "./observed.ts";
import { WorkQueue } from "./queue.ts";
import { RateLimiter } from "./rate-limit.ts";
import { CHILD_KINDS, JobChannelReconciler, RELAY_CONFIG_QUEUE_KEY } from "./reconciler.ts";
import { parseRelayConfig, type RelayConfigMapOwner } from "./relay-config.ts";
import { Runner } from "./runner.ts";
import { Store, unionReader, type StoreChange } from "./store.ts";
import { Watcher, type ListWatchSource, type WatchSink } from "./watcher.ts";

const MANAGED_SELECTOR = `${MANAGED_BY_LABEL}=${MANAGED_BY}`;

function channelOfObserved(o: ObservedJobChannel | undefined): string | undefined {
  return o?.ok ? channelOf(o.value) : undefined;
}

/** What of a JobChannel the relay config and channel conflicts depend on: all but its status. */
function claimOf(o: ObservedJobChannel | undefined): unknown {
  if (!o) return undefined;
  if (!o.ok) return { invalid: true };
  const { spec, metadata } = o.value;
  return { spec, deleting: metadata.deletionTimestamp !== undefined };
}

/** Where each kind of worker child is listed and watched. */
const CHILD_SOURCES: Record<ChildKind, { readonly group: string; readonly plural: string }> = {
  Deployment: { group: "/apis/apps/v1", plural: "deployments" },
  Service: { group: "/api/v1", plural: "services" },
  PodDisruptionBudget: { group: "/apis/policy/v1", plural: "poddisruptionbudgets" },
  HorizontalPodAutoscaler: { group: "/apis/autoscaling/v2", plural: "horizontalpodautoscalers" },
};

/** Callbacks of {@link Manager}. */
export interface ManagerHooks {
  readonly onLeadershipLost?: () => void;
}

/** The running operator. */
export class Manager {
  readonly #config: OperatorConfig;
  readonly #kube: KubeConfig;
  readonly #logger: Logger;
  readonly #metrics: OperatorMetrics;
  readonly #writer: ClusterWriter;
  readonly #jobChannels: Store<ObservedJobChannel>[] = [];
  readonly #channels = new ChannelIndex();
  readonly #children: Record<ChildKind, Store<ObservedChild>[]> = {
    Deployment: [],
    Service: [],
    PodDisruptionBudget: [],
    HorizontalPodAutoscaler: [],
  };
  readonly #configMaps: Store<ObservedConfigMap>;
  readonly #watchers: Watcher[] = [];
  readonly #reconciler: JobChannelReconciler;
  readonly #hooks: ManagerHooks;
  #elector: LeaderElector | undefined;
  #server: Server | undefined;
  #queue: WorkQueue | undefined;
  #runner: Runner | undefined;
  #runnerStopped: Promise<void> | undefined;
  #resyncTimer: NodeJS.Timeout | undefined;
  #syncWait: NodeJS.Timeout | undefined;
  #leading = false;
  #shuttingDown = false;

  /**
   * `relayConfigMapOwner`: the relay ConfigMap's ownerReference (the operator's own Deployment).
   * `hooks.onLeadershipLost`: called at once when the Lease is lost (not on stop()), before reconciles in flight end.
   */
  constructor(
    config: OperatorConfig,
    kubeConfig: KubeConfig,
    logger: Logger,
    relayConfigMapOwner?: RelayConfigMapOwner,
    hooks: ManagerHooks = {},
  ) {
    this.#hooks = hooks;
    this.#config = config;
    this.#kube = kubeConfig;
    this.#logger = logger;
    this.#metrics = createMetrics({ leaseName: config.leaseName, workers: config.workers });
    this.#writer = new KubeClusterWriter(kubeConfig, config.identity);
    const apis = listApis(kubeConfig);
    const scopes: (string | undefined)[] =
      config.watchNamespaces.length > 0 ? [...config.watchNamespaces] : [undefined];
    for (const namespace of scopes) {
      const jcs = new Store<ObservedJobChannel>({
        project: observeJobChannel,
        onChange: (change) => this.#onJobChannel(change),
      });
      this.#jobChannels.push(jcs);
      this.#watch(
        `jobchannels${namespace ? `@${namespace}` : ""}`,
        this.#jobChannelSource(apis, namespace),
        jcs,
      );
      for (const kind of CHILD_KINDS) {
        const children = new Store<ObservedChild>({
          project: (o) => observeChild(o, kind),
          onChange: (change) => this.#onChild(change),
        });
        this.#children[kind].push(children);
        const name = `${CHILD_SOURCES[kind].plural}${namespace ? `@${namespace}` : ""}`;
        this.#watch(name, this.#childSource(apis, kind, namespace), children);
      }
    }
    this.#configMaps = new Store<ObservedConfigMap>({
      project: observeConfigMap,
      onChange: (change) => this.#onConfigMap(change),
    });
    const ns = config.namespace;
    const fieldSelector = `metadata.name=${config.relayConfigMap}`;
    this.#watch(
      "relay-configmap",
      listWatchSource(
        kubeConfig,
        `/api/v1/namespaces/${ns}/configmaps`,
        (signal) =>
          apis.core.listNamespacedConfigMap(
            { namespace: ns, fieldSelector },
            signalOptions(signal),
          ),
        { fieldSelector },
      ),
      this.#configMaps,
    );
    this.#reconciler = new JobChannelReconciler({
      jobChannels: unionReader(this.#jobChannels),
      claimants: (channel) => this.#channels.keys(channel),
      children: {
        Deployment: unionReader(this.#children.Deployment),
        Service: unionReader(this.#children.Service),
        PodDisruptionBudget: unionReader(this.#children.PodDisruptionBudget),
        HorizontalPodAutoscaler: unionReader(this.#children.HorizontalPodAutoscaler),
      },
      configMaps: this.#configMaps,
      writer: this.#writer,
      writes: this.#metrics.writes,
      settings: {
        workerImage: config.workerImage,
        redisSecret: config.redisSecret,
        relayNamespace: config.namespace,
        relayConfigMap: config.relayConfigMap,
        ...(relayConfigMapOwner ? { relayConfigMapOwner } : {}),
      },
      logger,
      metrics: this.#metrics.statuses,
    });
  }

  /** Every watcher has delivered its first list. */
  get synced(): boolean {
    return this.#watchers.every((w) => w.synced);
  }

  async start(): Promise<void> {
    this.#server = await startHttpServer(
      this.#config.port,
      { ready: () => this.synced },
      this.#metrics.registry,
    );
    for (const watcher of this.#watchers) watcher.start();
    if (!this.#config.leaderElection) {
      this.#startLeading();
      return;
    }
    const c = this.#config;
    this.#elector = new LeaderElector({
      client: kubeLeaseClient(this.#kube, c.namespace, c.leaseName),
      identity: c.identity,
      leaseDurationMs: c.leaseDurationSeconds * 1000,
      renewDeadlineMs: c.renewDeadlineSeconds * 1000,
      retryPeriodMs: c.retryPeriodSeconds * 1000,
      logger: this.#logger.child({ lease: `${c.namespace}/${c.leaseName}` }),
      onStartedLeading: () => this.#startLeading(),
      onStoppedLeading: () => {
        // Called before anything else runs: a process that exits here writes nothing more.
        if (!this.#shuttingDown) this.#hooks.onLeadershipLost?.();
        void this.#stopLeading();
      },
    });
    this.#elector.start();
  }

  /** Graceful shutdown: finish reconciles in flight, then release the Lease, stop watches and the server. */
  async stop(): Promise<void> {
    this.#shuttingDown = true;
    await this.#stopLeading();
    await this.#elector?.stop();
    await Promise.all(this.#watchers.map((w) => w.stop()));
    await new Promise<void>((resolve) => {
      if (!this.#server) return resolve();
      this.#server.close(() => resolve());
      this.#server.closeAllConnections();
    });
  }

  #watch(name: string, source: ListWatchSource, sink: WatchSink): void {
    this.#watchers.push(
      new Watcher({
        name,
        source,
        sink,
        logger: this.#logger,
        metrics: this.#metrics.watcher,
        silenceMs: this.#config.silenceSeconds * 1000,
      }),
    );
  }

  #jobChannelSource(apis: ListApis, namespace: string | undefined): ListWatchSource {
    const base = `/apis/${GROUP}/${VERSION}`;
    if (namespace) {
      return listWatchSource(this.#kube, `${base}/namespaces/${namespace}/${PLURAL}`, (signal) =>
        apis.custom.listNamespacedCustomObject(
          { group: GROUP, version: VERSION, namespace, plural: PLURAL },
          signalOptions(signal),
        ),
      );
    }
    return listWatchSource(this.#kube, `${base}/${PLURAL}`, (signal) =>
      apis.custom.listClusterCustomObject(
        { group: GROUP, version: VERSION, plural: PLURAL },
        signalOptions(signal),
      ),
    );
  }

  /** Worker children of one kind the operator manages (by label), in one namespace or all. */
  #childSource(apis: ListApis, kind: ChildKind, namespace: string | undefined): ListWatchSource {
    const labelSelector = MANAGED_SELECTOR;
    const { group, plural } = CHILD_SOURCES[kind];
    const path = namespace ? `${group}/namespaces/${namespace}/${plural}` : `${group}/${plural}`;
    const list: Lister = (signal) => {
      const abort = signalOptions(signal);
      switch (kind) {
        case "Deployment":
          return namespace
            ? apis.apps.listNamespacedDeployment({ namespace, labelSelector }, abort)
            : apis.apps.listDeploymentForAllNamespaces({ labelSelector }, abort);
        case "Service":
          return namespace
            ? apis.core.listNamespacedService({ namespace, labelSelector }, abort)
            : apis.core.listServiceForAllNamespaces({ labelSelector }, abort);
        case "PodDisruptionBudget":
          return namespace
            ? apis.policy.listNamespacedPodDisruptionBudget({ namespace, labelSelector }, abort)
            : apis.policy.listPodDisruptionBudgetForAllNamespaces({ labelSelector }, abort);
        case "HorizontalPodAutoscaler":
          return namespace
            ? apis.autoscaling.listNamespacedHorizontalPodAutoscaler(
                { namespace, labelSelector },
                abort,
              )
            : apis.autoscaling.listHorizontalPodAutoscalerForAllNamespaces(
                { labelSelector },
                abort,
              );
      }
    };
    return listWatchSource(this.#kube, path, list, { labelSelector });
  }

  #enqueue(key: string): void {
    this.#queue?.add(key);
  }

  #jobChannelKeys(): string[] {
    return this.#jobChannels.flatMap((s) => s.keys());
  }

  #onJobChannel({ key, before, after }: StoreChange<ObservedJobChannel>): void {
    this.#channels.set(key, channelOfObserved(after));
    this.#enqueue(key);
    // A status write changes nothing the relay config or a channel conflict depends on.
    if (isDeepStrictEqual(claimOf(before), claimOf(after))) return;
    this.#enqueue(RELAY_CONFIG_QUEUE_KEY);
    // Another JobChannel's conflict state may depend on this one: requeue every claimant of the channel.
    for (const channel of new Set([channelOfObserved(before), channelOfObserved(after)])) {
      if (channel === undefined) continue;
      for (const other of this.#channels.keys(channel)) this.#enqueue(other);
    }
  }

  #onChild({ before, after }: StoreChange<ObservedChild>): void {
    const owner = after?.owner ?? before?.owner;
    if (owner) this.#enqueue(owner);
  }

  /** The relay key, and the JobChannels whose channel's entry changed (their ChannelRegistered may have). */
  #onConfigMap({ before, after }: StoreChange<ObservedConfigMap>): void {
    this.#enqueue(RELAY_CONFIG_QUEUE_KEY);
    const old = parseRelayConfig(before?.channels);
    const now = parseRelayConfig(after?.channels);
    for (const channel of new Set([...old.keys(), ...now.keys()])) {
      if (isDeepStrictEqual(old.get(channel), now.get(channel))) continue;
      for (const key of this.#channels.keys(channel)) this.#enqueue(key);
    }
  }

  #resync(): void {
    this.#enqueue(RELAY_CONFIG_QUEUE_KEY);
    for (const key of this.#jobChannelKeys()) this.#enqueue(key);
  }

  /**
   * Starts reconciling once the previous term's reconciles have ended and every cache is synced,
   * so one key is never reconciled twice at once and the relay config is never computed from a
   * partial list.
   */
  #startLeading(): void {
    if (this.#shuttingDown) return;
    this.#leading = true;
    this.#metrics.leader(true);
    const begin = (): void => {
      if (!this.#leading || this.#runner || this.#shuttingDown) return;
      if (!this.synced) {
        this.#syncWait = setTimeout(begin, 100);
        return;
      }
      const queue = new WorkQueue({ limiter: new RateLimiter(), metrics: this.#metrics.queue });
      this.#queue = queue;
      this.#runner = new Runner({
        queue,
        reconciler: this.#reconciler,
        logger: this.#logger,
        metrics: this.#metrics.runner,
        workers: this.#config.workers,
      });
      this.#runner.start();
      this.#resync();
      this.#resyncTimer = setInterval(() => this.#resync(), this.#config.resyncSeconds * 1000);
      this.#logger.info({ jobChannels: this.#jobChannelKeys().length }, "reconciling started");
    };
    void (this.#runnerStopped ?? Promise.resolve()).then(begin);
  }

  /** Stops reconciling at once: no new reconcile starts; resolves when those in flight have ended. */
  #stopLeading(): Promise<void> {
    this.#leading = false;
    this.#metrics.leader(false);
    this.#metrics.clearJobChannels();
    if (this.#syncWait) clearTimeout(this.#syncWait);
    if (this.#resyncTimer) clearInterval(this.#resyncTimer);
    this.#resyncTimer = undefined;
    const runner = this.#runner;
    this.#runner = undefined;
    this.#queue = undefined;
    if (runner) {
      this.#logger.info("reconciling stopped");
      // A reconcile still in flight may record a status on its way out: clear again once it ended.
      this.#runnerStopped = runner.stop().then(() => this.#metrics.clearJobChannels());
    }
    return this.#runnerStopped ?? Promise.resolve();
  }
}
