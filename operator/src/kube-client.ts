// The operator's Kubernetes API calls: server-side apply of children and status, deletes, events, list+watch sources.
import { randomBytes } from "node:crypto";
import {
  AppsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  EventsV1Api,
  PatchStrategy,
  V1MicroTime,
  Watch,
  setHeaderOptions,
  type KubeConfig,
} from "@kubernetes/client-node";
import { apiMessageOf, OperatorError, OperatorErrorCode } from "./errors.ts";
import { GROUP, PLURAL, VERSION, type JobChannelStatus } from "./jobchannel.ts";
import { deploymentOwner, type RelayConfigMapOwner } from "./relay-config.ts";
import { withTimeout } from "./timeout.ts";
import type { ListWatchSource, WatchEventType, WatchHandle } from "./watcher.ts";

/** The field manager of everything the operator applies. */
export const FIELD_MANAGER = "jobchannel-operator";

/** Server-side apply needs its own Content-Type; client-node would otherwise send a JSON patch type. */
const applyOptions = setHeaderOptions("Content-Type", PatchStrategy.ServerSideApply);

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

/** The writes a reconcile makes; an interface so the reconciler is unit-tested without a cluster. */
export interface ClusterWriter {
  /** Server-side applies a Deployment, Service or ConfigMap; resolves with the live object. */
  apply(object: Record<string, unknown>): Promise<unknown>;
  /** Server-side applies a JobChannel's status through the /status subresource. */
  applyStatus(namespace: string, name: string, status: JobChannelStatus): Promise<void>;
  /** Deletes a child; a child already gone is fine. */
  remove(kind: "Deployment" | "Service", namespace: string, name: string): Promise<void>;
  /** Records an Event (events.k8s.io/v1). */
  event(event: EventInput): Promise<void>;
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
  readonly #instance: string;

  /** `instance` names this operator process in Events (reportingInstance). */
  constructor(kubeConfig: KubeConfig, instance: string) {
    this.#apps = kubeConfig.makeApiClient(AppsV1Api);
    this.#core = kubeConfig.makeApiClient(CoreV1Api);
    this.#custom = kubeConfig.makeApiClient(CustomObjectsApi);
    this.#events = kubeConfig.makeApiClient(EventsV1Api);
    this.#instance = instance.slice(0, 128);
  }

  async apply(object: Record<string, unknown>): Promise<unknown> {
    const { name, namespace } = metaOf(object);
    const request = { name, namespace, body: object, fieldManager: FIELD_MANAGER, force: true };
    switch (object.kind) {
      case "Deployment":
        return this.#apps.patchNamespacedDeployment(request, applyOptions);
      case "Service":
        return this.#core.patchNamespacedService(request, applyOptions);
      case "ConfigMap":
        return this.#core.patchNamespacedConfigMap(request, applyOptions);
      default:
        throw new Error(`cannot apply kind ${String(object.kind)}`);
    }
  }

  async applyStatus(namespace: string, name: string, status: JobChannelStatus): Promise<void> {
    const body = {
      apiVersion: `${GROUP}/${VERSION}`,
      kind: "JobChannel",
      metadata: { name, namespace },
      status,
    };
    await this.#custom.patchNamespacedCustomObjectStatus(
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
  }

  async remove(kind: "Deployment" | "Service", namespace: string, name: string): Promise<void> {
    try {
      if (kind === "Deployment") {
        await this.#apps.deleteNamespacedDeployment({
          name,
          namespace,
          propagationPolicy: "Background",
        });
      } else {
        await this.#core.deleteNamespacedService({ name, namespace });
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
  const apps = kubeConfig.makeApiClient(AppsV1Api);
  let uid: string | undefined;
  try {
    const deployment = await withTimeout(
      apps.readNamespacedDeployment({ name, namespace }),
      OWN_DEPLOYMENT_TIMEOUT_MS,
      "reading the Deployment",
    );
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

/** A list call: returns the items and the list's resourceVersion. */
export type Lister = () => Promise<{ items: unknown[]; metadata?: { resourceVersion?: string } }>;

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
    async list() {
      const list = await lister();
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

/** Typed list APIs the sources use. */
export interface ListApis {
  readonly apps: AppsV1Api;
  readonly core: CoreV1Api;
  readonly custom: CustomObjectsApi;
}

export function listApis(kubeConfig: KubeConfig): ListApis {
  return {
    apps: kubeConfig.makeApiClient(AppsV1Api),
    core: kubeConfig.makeApiClient(CoreV1Api),
    custom: kubeConfig.makeApiClient(CustomObjectsApi),
  };
}
