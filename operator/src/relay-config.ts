// The relay's channel config (ConfigMap key channels.json, design section 5) computed from JobChannels.
import { channelOf, type Access, type JobChannel, type Visibility } from "./jobchannel.ts";

/**
 * A non-controlling ownerReference to the operator's own Deployment: the garbage collector deletes
 * the relay ConfigMap once that Deployment is gone.
 */
export interface RelayConfigMapOwner {
  readonly apiVersion: "apps/v1";
  readonly kind: "Deployment";
  readonly name: string;
  readonly uid: string;
  readonly controller: false;
  readonly blockOwnerDeletion: false;
}

/** The ownerReference of the Deployment `name` with `uid`. */
export function deploymentOwner(name: string, uid: string): RelayConfigMapOwner {
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    name,
    uid,
    controller: false,
    blockOwnerDeletion: false,
  };
}

/** The ConfigMap key the relay reads. */
export const RELAY_CONFIG_KEY = "channels.json";

/** One channel in `channels.json`. */
export interface RelayChannel {
  readonly name: string;
  readonly access: Access;
  readonly visibility: Visibility;
  readonly history: { readonly maxJobs: number; readonly ttlSeconds: number };
  readonly maxMessageBytes: number;
}

/** The relay entry a JobChannel asks for. */
export function relayChannelFor(jc: JobChannel): RelayChannel {
  return {
    name: channelOf(jc),
    access: jc.spec.access,
    visibility: jc.spec.visibility,
    history: { maxJobs: jc.spec.history.maxJobs, ttlSeconds: jc.spec.history.ttlSeconds },
    maxMessageBytes: jc.spec.maxMessageBytes,
  };
}

/**
 * `channels.json` for the given registered JobChannels (conflict winners only), sorted by channel
 * name so that the same set always renders the same text and an unchanged config is never rewritten.
 */
export function renderRelayConfig(registered: Iterable<JobChannel>): string {
  const channels = [...registered]
    .map(relayChannelFor)
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return `${JSON.stringify({ channels }, null, 2)}\n`;
}

/** The channel entries of a `channels.json` text by name; empty when the text is missing or malformed. */
export function parseRelayConfig(text: string | undefined): Map<string, unknown> {
  const entries = new Map<string, unknown>();
  if (!text) return entries;
  try {
    const parsed = JSON.parse(text) as { channels?: unknown };
    if (!Array.isArray(parsed.channels)) return entries;
    for (const entry of parsed.channels as unknown[]) {
      const name = (entry as { name?: unknown } | null)?.name;
      if (typeof name === "string") entries.set(name, entry);
    }
  } catch {
    return entries;
  }
  return entries;
}

/** Whether `channels.json` lists the JobChannel's channel with exactly the settings it asks for. */
export function isRegistered(jc: JobChannel, config: Map<string, unknown>): boolean {
  const entry = config.get(channelOf(jc));
  return entry !== undefined && JSON.stringify(entry) === JSON.stringify(relayChannelFor(jc));
}

/** The relay ConfigMap as the operator applies it; with `owner`, it goes when the owner goes. */
export function desiredRelayConfigMap(
  namespace: string,
  name: string,
  text: string,
  owner?: RelayConfigMapOwner,
): Record<string, unknown> {
  return {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: {
      name,
      namespace,
      labels: {
        "app.kubernetes.io/name": "jobchannel-relay",
        "app.kubernetes.io/component": "relay-config",
        "app.kubernetes.io/managed-by": "jobchannel-operator",
      },
      ...(owner ? { ownerReferences: [owner] } : {}),
    },
    data: { [RELAY_CONFIG_KEY]: text },
  };
}
