// The operator's Kubernetes API calls: server-side apply of children and status, deletes, events, list+watch sources.
import { randomBytes } from "node:crypto";
import {
  AppsV1Api,
  AutoscalingV2Api,
  CoreV1Api,
  CustomObjectsApi,
  EventsV1Api,
  PatchStrategy,
  PolicyV1Api,
  V1MicroTime,
  Watch,
  setHeaderOptions,
  type KubeConfig,
} from "@kubernetes/client-node";
import type { ChildKind } from "./desired-worker.ts";
import { makeApiClientWithDeadline } from "./api-deadline.ts";
import { apiMessageOf, OperatorError, OperatorErrorCode, statusCodeOf } from "./errors.ts";
import { GROUP, PLURAL, VERSION, type JobChannelStatus } from "./jobchannel.ts";
import { deploymentOwner, type RelayConfigMapOwner } from "./relay-config.ts";
import type { ListWatchSource, WatchEventType, WatchHandle } from "./watcher.ts";

/** The field manager of everything the operator applies. */
export const FIELD_MANAGER = "jobchannel-operator";

/** Server-side apply needs its own Content-Type; client-node would otherwise send a JSON patch type. */
const applyOptions = setHeaderOptions("Content-Type", PatchStrategy.ServerSideApply);

/** Asks for metadata only: the API server sends a PartialObjectMetadata, never a Secret's data. */
const metadataOnly = setHeaderOptions(
  "Accept",
  "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1",
);

/** An object reference for Events. */
export interface ObjectRef {
  readonly apiVersion: string;
  readonly kind: string;
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
}

/** An Event to record about an object. */
export interface EventInput {
  readonly regarding: ObjectRef;
  readonly type: "Normal" | "Warning";
  readonly reason: string;
  readonly note: string;
  readonly action: string;
}

/** Options of {@link ClusterWriter.apply}. */
export interface ApplyOptions {
  /**
   * Take over fields other field managers own (server-side apply's `force`): for objects the
   * operator already controls, so drift is undone. Without it a conflict fails with 409.
   */
  readonly force: boolean;
  /** @default {@link FIELD_MANAGER} */
  readonly fieldManager?: string;
}

/**
 * The calls a reconcile makes; an interface so the reconciler is unit-tested without a cluster.
 * Reads of Secrets are metadata only.
 */
export interface ClusterWriter {
  /** Server-side applies a worker child or the ConfigMap; resolves with the live object. */
  apply(object: Record<string, unknown>, options: ApplyOptions): Promise<unknown>;
  /**
   * Server-side applies a JobChannel's status through the /status subresource; resolves with
   * the JobChannel's resourceVersion after the write.
   */
  applyStatus(
    namespace: string,
    name: string,
    status: JobChannelStatus,
  ): Promise<string | undefined>;
  /** Deletes a child; a child already gone is fine. */
  remove(kind: ChildKind, namespace: string, name: string): Promise<void>;
  /** Records an Event (events.k8s.io/v1). */
  event(event: EventInput): Promise<void>;
  /**
   * Whether a Secret exists (a metadata-only GET); undefined when the API would not say
   * (forbidden, say).
   */
  secretExists(namespace: string, name: string): Promise<boolean | undefined>;
}

function metaOf(object: Record<string, unknown>): { name: string; namespace: string } {
  const meta = object.metadata as { name?: unknown; namespace?: unknown } | undefined;
  if (typeof meta?.name !== "string" || typeof meta.namespace !== "string") {
    throw new Error("object to apply needs metadata.name and metadata.namespace");
  }
  return { name: meta.name, namespace: meta.namespace };
}

/** `<object>.<hex time><hex random>`, as client-go names Events (generateName may not end in a dot). */
function eventName(objectName: string): string {
  return `${objectName}.${Date.now().toString(16)}${randomBytes(4).toString("hex")}`;
}

/** 404 is success for a delete. */
function ignoreNotFound(error: unknown): void {
  if ((error as { code?: unknown } | null)?.code !== 404) throw error;
}

/** {@link ClusterWriter} over client-node. */
export class KubeClusterWriter implements ClusterWriter {
  readonly #apps: AppsV1Api;
  readonly #core: CoreV1Api;
  readonly #custom: CustomObjectsApi;
  readonly #events: EventsV1Api;
  readonly #policy: PolicyV1Api;
  readonly #autoscaling: AutoscalingV2Api;
  readonly #instance: string;

  /** `instance` names this operator process in Events (reportingInstance). */
  constructor(kubeConfig: KubeConfig, instance: string) {
    this.#apps = makeApiClientWithDeadline(kubeConfig, AppsV1Api);
    this.#core = makeApiClientWithDeadline(kubeConfig, CoreV1Api);
    this.#custom = makeApiClientWithDeadline(kubeConfig, CustomObjectsApi);
    this.#events = makeApiClientWithDeadline(kubeConfig, EventsV1Api);
    this.#policy = makeApiClientWithDeadline(kubeConfig, PolicyV1Api);
    this.#autoscaling = makeApiClientWithDeadline(kubeConfig, AutoscalingV2Api);
    this.#instance = instance.slice(0, 128);
  }

  async apply(
    object: Record<string, unknown>,
    { force, fieldManager = FIELD_MANAGER }: ApplyOptions,
  ): Promise<unknown> {
    const { name, namespace } = metaOf(object);
    const request = { name, namespace, body: object, fieldManager, force };
    switch (object.kind) {
      case "Deployment":
        return this.#apps.patchNamespacedDeployment(request, applyOptions);
      case "Service":
        return this.#core.patchNamespacedService(request, applyOptions);
      case "PodDisruptionBudget":
        return this.#policy.patchNamespacedPodDisruptionBudget(request, applyOptions);
      case "HorizontalPodAutoscaler":
        return this.#autoscaling.patchNamespacedHorizontalPodAutoscaler(request, applyOptions);
      case "ConfigMap":
        return this.#core.patchNamespacedConfigMap(request, applyOptions);
      default:
        throw new Error(`cannot apply kind ${String(object.kind)}`);
    }
  }

  async secretExists(namespace: string, name: string): Promise<boolean | undefined> {
    try {
      await this.#core.readNamespacedSecret({ name, namespace }, metadataOnly);
      return true;
    } catch (error) {
      const code = statusCodeOf(error);
      if (code === 404) return false;
      if (code === 403) return undefined;
      throw error;
    }
  }

  async applyStatus(
    namespace: string,
    name: string,
    status: JobChannelStatus,
  ): Promise<string | undefined> {
    const body = {
      apiVersion: `${GROUP}/${VERSION}`,
      kind: "JobChannel",
      metadata: { name, namespace },
      status,
    };
    const live: unknown = await this.#custom.patchNamespacedCustomObjectStatus(
      {
        group: GROUP,
        version: VERSION,
        plural: PLURAL,
        namespace,
        name,
        body,
        fieldManager: FIELD_MANAGER,
        force: true,
      },
      applyOptions,
    );
    const rv = (live as { metadata?: { resourceVersion?: unknown } } | null)?.metadata
      ?.resourceVersion;
    return typeof rv === "string" ? rv : undefined;
  }

  async remove(kind: ChildKind, namespace: string, name: string): Promise<void> {
    try {
      switch (kind) {
        case "Deployment":
          await this.#apps.deleteNamespacedDeployment({
            name,
            namespace,
            propagationPolicy: "Background",
          });
          break;
        case "Service":
          await this.#core.deleteNamespacedService({ name, namespace });
          break;
        case "PodDisruptionBudget":
          await this.#policy.deleteNamespacedPodDisruptionBudget({ name, namespace });
          break;
        case "HorizontalPodAutoscaler":
          await this.#autoscaling.deleteNamespacedHorizontalPodAutoscaler({ name, namespace });
          break;
      }
    } catch (error) {
      ignoreNotFound(error);
    }
  }

  async event(event: EventInput): Promise<void> {
    const { regarding } = event;
    await this.#events.createNamespacedEvent({
      namespace: regarding.namespace,
      body: {
        metadata: { name: eventName(regarding.name), namespace: regarding.namespace },
        eventTime: new V1MicroTime(),
        type: event.type,
        reason: event.reason,
        note: event.note.slice(0, 1024),
        action: event.action,
        reportingController: "jobchannel.io/operator",
        reportingInstance: this.#instance,
        regarding: {
          apiVersion: regarding.apiVersion,
          kind: regarding.kind,
          namespace: regarding.namespace,
          name: regarding.name,
          uid: regarding.uid,
        },
      },
    });
  }
}

/** Longest wait for the start-up read of the operator's own Deployment. */
const OWN_DEPLOYMENT_TIMEOUT_MS = 30_000;

/**
 * Reads the operator's own Deployment once, at start, for the relay ConfigMap's ownerReference.
 * Throws an {@link OperatorError} `operator_deployment_unreadable` naming it when it cannot.
 */
export async function operatorDeploymentOwner(
  kubeConfig: KubeConfig,
  namespace: string,
  name: string,
): Promise<RelayConfigMapOwner> {
  const apps = makeApiClientWithDeadline(kubeConfig, AppsV1Api, OWN_DEPLOYMENT_TIMEOUT_MS);
  let uid: string | undefined;
  try {
    const deployment = await apps.readNamespacedDeployment({ name, namespace });
    uid = deployment.metadata?.uid;
  } catch (error) {
    throw new OperatorError(
      OperatorErrorCode.OperatorDeploymentUnreadable,
      `JOBCHANNEL_OPERATOR_DEPLOYMENT: cannot read Deployment ${namespace}/${name}: ${apiMessageOf(error)}`,
      { cause: error },
    );
  }
  if (!uid) {
    throw new OperatorError(
      OperatorErrorCode.OperatorDeploymentUnreadable,
      `JOBCHANNEL_OPERATOR_DEPLOYMENT: Deployment ${namespace}/${name} has no uid`,
    );
  }
  return deploymentOwner(name, uid);
}

/** A list call, aborted when `signal` fires: returns the items and the list's resourceVersion. */
export type Lister = (
  signal: AbortSignal,
) => Promise<{ items: unknown[]; metadata?: { resourceVersion?: string } }>;

/**
 * A list+watch source over client-node: `list` through a typed API, `watch` through its Watch.
 * The server ends each watch after `timeoutSeconds` (jittered), before client-node's own
 * inactivity timeout would cut a quiet watch.
 */
export function listWatchSource(
  kubeConfig: KubeConfig,
  path: string,
  lister: Lister,
  query: { labelSelector?: string; fieldSelector?: string } = {},
): ListWatchSource {
  const watch = new Watch(kubeConfig);
  return {
    async list(signal) {
      const list = await lister(signal);
      return { items: list.items, resourceVersion: list.metadata?.resourceVersion ?? "" };
    },
    async watch(resourceVersion, onEvent, onDone): Promise<WatchHandle> {
      const controller = await watch.watch(
        path,
        {
          resourceVersion,
          allowWatchBookmarks: true,
          timeoutSeconds: 20 + Math.floor(Math.random() * 8),
          ...query,
        },
        (type: string, object: unknown) => onEvent(type as WatchEventType, object),
        onDone,
      );
      return { abort: () => controller.abort() };
    },
  };
}

/** Typed list APIs the sources use; each list is aborted by the watcher's signal (its list timeout). */
export interface ListApis {
  readonly apps: AppsV1Api;
  readonly core: CoreV1Api;
  readonly custom: CustomObjectsApi;
  readonly policy: PolicyV1Api;
  readonly autoscaling: AutoscalingV2Api;
}

export function listApis(kubeConfig: KubeConfig): ListApis {
  return {
    apps: kubeConfig.makeApiClient(AppsV1Api),
    core: kubeConfig.makeApiClient(CoreV1Api),
    custom: kubeConfig.makeApiClient(CustomObjectsApi),
    policy: kubeConfig.makeApiClient(PolicyV1Api),
    autoscaling: kubeConfig.makeApiClient(AutoscalingV2Api),
  };
}
