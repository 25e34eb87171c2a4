// Projections of API objects into what the stores keep, validated at the boundary.
import { DESIRED_HASH_ANNOTATION, type ChildKind } from "./desired-worker.ts";
import { API_VERSION, KIND, objectKey } from "./jobchannel.ts";
import { FIELD_MANAGER } from "./kube-client.ts";
import { RELAY_CONFIG_KEY } from "./relay-config.ts";
import type { DeploymentObservation } from "./status.ts";
import { parseJobChannel, type ParseResult } from "./validate.ts";

/** A JobChannel as the store keeps it: the parse outcome (typed object, or problems). */
export type ObservedJobChannel = ParseResult;

/** A worker child (Deployment, Service, PodDisruptionBudget, HorizontalPodAutoscaler) the operator may own. */
export interface ObservedChild {
  readonly key: string;
  /** `namespace/name` of the JobChannel that controls it, if one does. */
  readonly owner?: string;
  /** Changes on every write, so any edit (drift) is noticed. */
  readonly resourceVersion?: string;
  /** `metadata.generation`: moves when the spec changes (not for Services). */
  readonly generation?: number;
  /** The hash of the desired object it was last applied from ({@link DESIRED_HASH_ANNOTATION}). */
  readonly desiredHash?: string;
  /** Whether the operator's field manager holds `spec.replicas` (Deployments). */
  readonly ownsReplicas?: boolean;
  /** The worker Deployment's state, for Deployments. */
  readonly deployment?: DeploymentObservation;
}

/** The relay ConfigMap's `channels.json` and owners. */
export interface ObservedConfigMap {
  readonly key: string;
  readonly channels: string | undefined;
  /** The uid of each ownerReference, in order. */
  readonly ownerUids: readonly string[];
}

type Json = Record<string, unknown>;

function record(value: unknown): Json | undefined {
  return typeof value === "object" && value !== null && !Array.isArray(value)
    ? (value as Json)
    : undefined;
}

function count(value: unknown): number {
  return typeof value === "number" && Number.isFinite(value) ? value : 0;
}

export function observeJobChannel(object: unknown): ObservedJobChannel | undefined {
  const parsed = parseJobChannel(object);
  return parsed.ok || parsed.meta ? parsed : undefined;
}

/** The JobChannel that controls an object, from its controller ownerReference. */
export function controllerOwner(meta: Json): string | undefined {
  const refs = Array.isArray(meta.ownerReferences) ? (meta.ownerReferences as unknown[]) : [];
  for (const ref of refs.map(record)) {
    if (!ref || ref.controller !== true || ref.kind !== KIND || ref.apiVersion !== API_VERSION)
      continue;
    if (typeof ref.name === "string" && typeof meta.namespace === "string") {
      return objectKey({ namespace: meta.namespace, name: ref.name });
    }
  }
  return undefined;
}

/** What the deployment controller reports about a Deployment. */
export function observeDeploymentStatus(object: unknown): DeploymentObservation | undefined {
  const o = record(object);
  const meta = record(o?.metadata);
  if (!o || !meta) return undefined;
  const spec = record(o.spec) ?? {};
  const status = record(o.status) ?? {};
  const conditions = Array.isArray(status.conditions)
    ? (status.conditions as unknown[]).map(record)
    : [];
  const available = conditions.find((c) => c?.type === "Available");
  return {
    generation: count(meta.generation),
    observedGeneration: count(status.observedGeneration),
    desiredReplicas: typeof spec.replicas === "number" ? spec.replicas : 1,
    replicas: count(status.replicas),
    readyReplicas: count(status.readyReplicas),
    availableReplicas: count(status.availableReplicas),
    ...(available && typeof available.status === "string"
      ? {
          available: {
            status: available.status,
            ...(typeof available.reason === "string" ? { reason: available.reason } : {}),
            ...(typeof available.message === "string" ? { message: available.message } : {}),
          },
        }
      : {}),
  };
}

/** Whether the operator's apply holds `spec.replicas`, from the object's managedFields. */
function managerOwnsReplicas(meta: Json): boolean {
  const entries = Array.isArray(meta.managedFields) ? (meta.managedFields as unknown[]) : [];
  return entries.some((entry) => {
    const e = record(entry);
    const spec = record(record(e?.fieldsV1)?.["f:spec"]);
    return (
      e?.manager === FIELD_MANAGER && e.operation === "Apply" && spec?.["f:replicas"] !== undefined
    );
  });
}

/** A worker child (list items carry no `kind`, so the store says which it holds). */
export function observeChild(object: unknown, kind: ChildKind): ObservedChild | undefined {
  const o = record(object);
  const meta = record(o?.metadata);
  if (!o || !meta || typeof meta.name !== "string" || typeof meta.namespace !== "string")
    return undefined;
  const owner = controllerOwner(meta);
  const deployment = kind === "Deployment" ? observeDeploymentStatus(object) : undefined;
  const hash = record(meta.annotations)?.[DESIRED_HASH_ANNOTATION];
  const ownsReplicas = kind === "Deployment" ? managerOwnsReplicas(meta) : undefined;
  return {
    key: objectKey({ namespace: meta.namespace, name: meta.name }),
    ...(owner ? { owner } : {}),
    ...(typeof meta.resourceVersion === "string" ? { resourceVersion: meta.resourceVersion } : {}),
    ...(typeof meta.generation === "number" ? { generation: meta.generation } : {}),
    ...(typeof hash === "string" ? { desiredHash: hash } : {}),
    ...(ownsReplicas ? { ownsReplicas } : {}),
    ...(deployment ? { deployment } : {}),
  };
}

export function observeConfigMap(object: unknown): ObservedConfigMap | undefined {
  const o = record(object);
  const meta = record(o?.metadata);
  if (!o || !meta || typeof meta.name !== "string") return undefined;
  const data = record(o.data);
  const channels = data?.[RELAY_CONFIG_KEY];
  const refs = Array.isArray(meta.ownerReferences) ? (meta.ownerReferences as unknown[]) : [];
  return {
    key: objectKey({
      ...(typeof meta.namespace === "string" ? { namespace: meta.namespace } : {}),
      name: meta.name,
    }),
    channels: typeof channels === "string" ? channels : undefined,
    ownerUids: refs.flatMap((ref) => {
      const uid = record(ref)?.uid;
      return typeof uid === "string" ? [uid] : [];
    }),
  };
}
