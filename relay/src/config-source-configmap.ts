// The channel config read from a ConfigMap (key channels.json) through the Kubernetes API: a list,
// then a watch from its resourceVersion, restarted with jittered backoff whenever it ends or fails.
import type { Logger } from "pino";
import { parseChannelConfig, type ChannelConfig } from "./channel-config.ts";
import { configFeed, type ChannelConfigSource } from "./config-source.ts";
import { RelayError, RelayErrorCode } from "./errors.ts";

/** The ConfigMap key the operator writes the channel config into. */
export const CONFIGMAP_KEY = "channels.json";

/** Options of {@link configMapConfigSource}. */
export interface ConfigMapSourceOptions {
  namespace: string;
  name: string;
  logger: Logger;
  /** Path of a kubeconfig; unset = `KUBECONFIG`, else the in-cluster service account. */
  kubeconfig?: string;
  /** First retry delay after a failure, ms; doubles up to `maxBackoffMs`. @default 500 */
  minBackoffMs?: number;
  /** @default 30000 */
  maxBackoffMs?: number;
  /** Seconds after which the API server ends a watch (it is then restarted). @default 240 */
  watchTimeoutSeconds?: number;
}

/** The `channels.json` text of a ConfigMap object; throws `channel_config_unavailable` without it. */
function configText(object: unknown): string {
  const data = (object as { data?: unknown } | null)?.data;
  const text =
    data !== null && typeof data === "object"
      ? (data as Record<string, unknown>)[CONFIGMAP_KEY]
      : undefined;
  if (typeof text !== "string") {
    throw new RelayError(
      RelayErrorCode.ChannelConfigUnavailable,
      `the ConfigMap has no data key ${CONFIGMAP_KEY}`,
      CONFIGMAP_KEY,
    );
  }
  return text;
}

/** The config held by a ConfigMap object, as listed or watched. Throws a coded {@link RelayError}. */
export function configFromConfigMap(object: unknown): ChannelConfig {
  return parseChannelConfig(configText(object));
}

interface ConfigMapLike {
  metadata?: { resourceVersion?: string };
  data?: Record<string, string>;
}

/** Watches one ConfigMap and hands over each valid, changed `channels.json`. */
export function configMapConfigSource(options: ConfigMapSourceOptions): ChannelConfigSource {
  const { namespace, name } = options;
  const log = options.logger.child({ configMap: `${namespace}/${name}` });
  const minBackoff = options.minBackoffMs ?? 500;
  const maxBackoff = options.maxBackoffMs ?? 30_000;
  let stopped = false;
  let abort: AbortController | undefined;
  let wake: (() => void) | undefined;

  const sleep = (ms: number): Promise<void> =>
    new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });

  return {
    start(onConfig) {
      const feed = configFeed(log, onConfig);
      const apply = (object: ConfigMapLike): void => {
        let text: string;
        try {
          text = configText(object);
        } catch (e) {
          if (e instanceof RelayError) return feed.refuse(e);
          throw e;
        }
        feed.offer(text);
      };

      const run = async (): Promise<void> => {
        // Loaded on demand: the Kubernetes client is large and only this source needs it.
        const k8s = await import("@kubernetes/client-node");
        const kc = new k8s.KubeConfig();
        if (options.kubeconfig) kc.loadFromFile(options.kubeconfig);
        else kc.loadFromDefault();
        const core = kc.makeApiClient(k8s.CoreV1Api);
        const watcher = new k8s.Watch(kc);
        const fieldSelector = `metadata.name=${name}`;
        let backoff = minBackoff;
        while (!stopped) {
          try {
            const list = await core.listNamespacedConfigMap({ namespace, fieldSelector });
            const item = list.items[0];
            if (item) apply(item as ConfigMapLike);
            else
              feed.refuse(
                new RelayError(
                  RelayErrorCode.ChannelConfigUnavailable,
                  "the ConfigMap does not exist (yet)",
                ),
              );
            const ended = await new Promise<unknown>((resolve) => {
              watcher
                .watch(
                  `/api/v1/namespaces/${encodeURIComponent(namespace)}/configmaps`,
                  {
                    fieldSelector,
                    resourceVersion: list.metadata?.resourceVersion,
                    allowWatchBookmarks: true,
                    timeoutSeconds: options.watchTimeoutSeconds ?? 240,
                  },
                  (phase: string, object: ConfigMapLike) => {
                    if (phase === "ADDED" || phase === "MODIFIED") apply(object);
                    else if (phase === "DELETED")
                      log.warn("ConfigMap deleted; the last channel config stays in force");
                    else if (phase === "ERROR")
                      log.info({ status: object }, "channel config watch expired, relisting");
                  },
                  resolve,
                )
                .then((controller) => {
                  abort = controller;
                  if (stopped) controller.abort();
                }, resolve);
            });
            if (ended) throw ended;
            backoff = minBackoff;
          } catch (e) {
            if (stopped) break;
            const message = e instanceof Error ? e.message : String(e);
            log.warn({ err: message, retryInMs: backoff }, "channel config watch failed");
            await sleep(backoff / 2 + Math.random() * backoff);
            backoff = Math.min(backoff * 2, maxBackoff);
          }
        }
      };
      run().catch((e: unknown) => {
        log.error(
          { err: e instanceof Error ? e.message : String(e) },
          "channel config watch stopped",
        );
      });
    },
    async stop() {
      stopped = true;
      abort?.abort();
      wake?.();
    },
  };
}
