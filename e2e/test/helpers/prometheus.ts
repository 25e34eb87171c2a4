// A real Prometheus (Debian's) on a host loopback port, scraping a cluster the way the Prometheus
// Operator would from the chart's ServiceMonitors and PodMonitors: the same selection by relabelling
// on discovery's meta labels, the same job, namespace, service and pod labels, and each scrape
// through the API server's pod proxy, so it works for any cluster the host reaches only through its
// API server. Debian builds Prometheus without Kubernetes discovery, so `discover` stands in for it:
// it lists Services, EndpointSlices and Pods with kubectl and writes every candidate, with the meta
// labels Kubernetes discovery would give it (roles `endpointslice` and `pod`), to file_sd files.
import { mkdtemp, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { dumpYaml } from "@kubernetes/client-node";
import { freePort, startProcess, waitFor, type Started } from "@jobchannel/testkit";

/** The parts of a monitoring.coreos.com/v1 ServiceMonitor or PodMonitor the translation reads. */
export interface Monitor {
  kind: "ServiceMonitor" | "PodMonitor";
  metadata: { name: string; namespace: string };
  spec: {
    selector: { matchLabels?: Record<string, string> };
    namespaceSelector?: { any?: boolean; matchNames?: string[] };
    endpoints?: MonitorEndpoint[];
    podMetricsEndpoints?: MonitorEndpoint[];
  };
}

/** One scrape endpoint of a monitor. */
interface MonitorEndpoint {
  port: string;
  path?: string;
  /** Keep the target's own labels on a clash with the ones discovery adds (e.g. `namespace`). */
  honorLabels?: boolean;
}

/** How Prometheus reaches the API server: its URL, a bearer token and the CA that signed it. */
export interface ApiServerAccess {
  readonly server: string;
  readonly token: string;
  readonly caPem: string;
}

/** What `discover` reads: `kubectl get <kind> -A -o json`, parsed. */
export type ListObjects = (kind: "services" | "endpointslices" | "pods") => Promise<unknown>;

interface ObjectMeta {
  name: string;
  namespace: string;
  labels?: Record<string, string>;
}
interface PodObject {
  metadata: ObjectMeta;
  spec: { containers: { name: string; ports?: { name?: string; containerPort: number }[] }[] };
  status: { phase?: string; podIP?: string };
}
interface EndpointSliceObject {
  metadata: ObjectMeta;
  ports?: { name?: string; port?: number }[];
  endpoints?: { addresses: string[]; targetRef?: { kind: string; name: string } }[];
}

/** A file_sd target group. */
interface TargetGroup {
  targets: string[];
  labels: Record<string, string>;
}

/** Prometheus's meta label for a Kubernetes label name (non-alphanumerics become `_`). */
function metaLabel(prefix: string, label: string): string {
  return `${prefix}${label.replaceAll(/[^a-zA-Z0-9_]/g, "_")}`;
}

function labelsOf(prefix: string, labels: Record<string, string> = {}): Record<string, string> {
  return Object.fromEntries(Object.entries(labels).map(([k, v]) => [metaLabel(prefix, k), v]));
}

function podMeta(pod: PodObject | undefined): Record<string, string> {
  if (!pod) return {};
  return {
    __meta_kubernetes_pod_name: pod.metadata.name,
    __meta_kubernetes_pod_phase: pod.status.phase ?? "",
    ...labelsOf("__meta_kubernetes_pod_label_", pod.metadata.labels),
  };
}

/** Every candidate target of role `endpointslice`, with Kubernetes discovery's meta labels. */
function endpointSliceTargets(
  slices: readonly EndpointSliceObject[],
  services: readonly { metadata: ObjectMeta }[],
  pods: readonly PodObject[],
): TargetGroup[] {
  const service = new Map(services.map((s) => [`${s.metadata.namespace}/${s.metadata.name}`, s]));
  const pod = new Map(pods.map((p) => [`${p.metadata.namespace}/${p.metadata.name}`, p]));
  return slices.flatMap((slice) => {
    const namespace = slice.metadata.namespace;
    const serviceName = slice.metadata.labels?.["kubernetes.io/service-name"] ?? "";
    const owner = service.get(`${namespace}/${serviceName}`);
    return (slice.endpoints ?? []).flatMap((endpoint) =>
      (slice.ports ?? []).flatMap((port) => {
        const target =
          endpoint.targetRef?.kind === "Pod"
            ? pod.get(`${namespace}/${endpoint.targetRef.name}`)
            : undefined;
        const container = target?.spec.containers.find((c) =>
          (c.ports ?? []).some((p) => p.containerPort === port.port),
        );
        return endpoint.addresses.map((address) => ({
          targets: [`${address}:${port.port}`],
          labels: {
            __meta_kubernetes_namespace: namespace,
            __meta_kubernetes_endpointslice_name: slice.metadata.name,
            __meta_kubernetes_endpointslice_port_name: port.name ?? "",
            __meta_kubernetes_service_name: serviceName,
            ...labelsOf("__meta_kubernetes_service_label_", owner?.metadata.labels),
            ...podMeta(target),
            ...(container ? { __meta_kubernetes_pod_container_name: container.name } : {}),
          },
        }));
      }),
    );
  });
}

/** Every candidate target of role `pod`: each declared container port of each pod with an IP. */
function podTargets(pods: readonly PodObject[]): TargetGroup[] {
  return pods.flatMap((pod) =>
    pod.status.podIP
      ? pod.spec.containers.flatMap((container) =>
          (container.ports ?? []).map((port) => ({
            targets: [`${pod.status.podIP}:${port.containerPort}`],
            labels: {
              __meta_kubernetes_namespace: pod.metadata.namespace,
              ...podMeta(pod),
              __meta_kubernetes_pod_container_name: container.name,
              __meta_kubernetes_pod_container_port_name: port.name ?? "",
              __meta_kubernetes_pod_container_port_number: String(port.containerPort),
            },
          })),
        )
      : [],
  );
}

/** The namespaces a monitor selects, or undefined for all. */
function namespacesOf(monitor: Monitor): Set<string> | undefined {
  if (monitor.spec.namespaceSelector?.any) return undefined;
  return new Set(monitor.spec.namespaceSelector?.matchNames ?? [monitor.metadata.namespace]);
}

/** The file_sd file of the monitor's endpoint, in `dir`. */
function targetsFile(dir: string, monitor: number, endpoint: number): string {
  return join(dir, `targets-${monitor}-${endpoint}.json`);
}

/**
 * The scrape configs the Prometheus Operator would generate for these monitors (job = Service name
 * for a ServiceMonitor, `<namespace>/<name>` for a PodMonitor), reading their candidates from the
 * file_sd files `discover` writes, and scraping through the API server's pod proxy.
 */
export function scrapeConfigs(
  monitors: readonly Monitor[],
  api: { server: string; tokenFile: string; caFile: string; dir: string },
  interval: string,
): object[] {
  const apiHost = new URL(api.server).host;
  return monitors.flatMap((monitor, m) => {
    const service = monitor.kind === "ServiceMonitor";
    const labelPrefix = service
      ? "__meta_kubernetes_service_label_"
      : "__meta_kubernetes_pod_label_";
    const portLabel = service
      ? "__meta_kubernetes_endpointslice_port_name"
      : "__meta_kubernetes_pod_container_port_name";
    const endpoints = (service ? monitor.spec.endpoints : monitor.spec.podMetricsEndpoints) ?? [];
    return endpoints.map((endpoint, e) => ({
      job_name: `${service ? "serviceMonitor" : "podMonitor"}/${monitor.metadata.namespace}/${monitor.metadata.name}/${e}`,
      scrape_interval: interval,
      scrape_timeout: interval,
      scheme: "https",
      honor_labels: endpoint.honorLabels ?? false,
      authorization: { credentials_file: api.tokenFile },
      tls_config: { ca_file: api.caFile },
      file_sd_configs: [{ files: [targetsFile(api.dir, m, e)], refresh_interval: "1s" }],
      relabel_configs: [
        ...Object.entries(monitor.spec.selector.matchLabels ?? {}).map(([label, value]) => ({
          source_labels: [metaLabel(labelPrefix, label)],
          regex: value,
          action: "keep",
        })),
        { source_labels: [portLabel], regex: endpoint.port, action: "keep" },
        // A pod that is not running has no address to scrape.
        { source_labels: ["__meta_kubernetes_pod_phase"], regex: "Running", action: "keep" },
        { source_labels: ["__meta_kubernetes_namespace"], target_label: "namespace" },
        { source_labels: ["__meta_kubernetes_pod_name"], target_label: "pod" },
        { source_labels: ["__meta_kubernetes_pod_container_name"], target_label: "container" },
        ...(service
          ? [
              { source_labels: ["__meta_kubernetes_service_name"], target_label: "service" },
              { source_labels: ["__meta_kubernetes_service_name"], target_label: "job" },
            ]
          : [
              {
                target_label: "job",
                replacement: `${monitor.metadata.namespace}/${monitor.metadata.name}`,
              },
            ]),
        { target_label: "endpoint", replacement: endpoint.port },
        { source_labels: ["__address__"], target_label: "instance" },
        {
          source_labels: [
            "__meta_kubernetes_namespace",
            "__meta_kubernetes_pod_name",
            "__address__",
          ],
          regex: "(.+);(.+);.*:(\\d+)",
          replacement: `/api/v1/namespaces/$1/pods/$2:$3/proxy${endpoint.path ?? "/metrics"}`,
          target_label: "__metrics_path__",
        },
        { target_label: "__address__", replacement: apiHost },
      ],
    }));
  });
}

/** A running Prometheus and its HTTP API. */
export interface TestPrometheus {
  readonly url: string;
  /** Lists the cluster again and rewrites the candidate targets (Prometheus rereads them within 1 s). */
  discover(): Promise<void>;
  /** GET /api/v1/<path>; rejects when Prometheus answers an error. */
  api<T>(path: string, params?: Record<string, string>): Promise<T>;
  /** An instant query's result vector. */
  query(expr: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]>;
  stop(): Promise<void>;
  logTail(): string;
}

/**
 * Starts Debian's `prometheus` on a free loopback port, scraping the monitors every `interval` and
 * evaluating `ruleGroups` (the PrometheusRule's spec.groups) at the same interval.
 */
export async function startPrometheus(options: {
  monitors: readonly Monitor[];
  ruleGroups: readonly { name: string; rules: object[] }[];
  api: ApiServerAccess;
  list: ListObjects;
  interval?: string;
}): Promise<TestPrometheus> {
  const interval = options.interval ?? "2s";
  const dir = await mkdtemp(join(tmpdir(), "jobchannel-prometheus-"));
  const tokenFile = join(dir, "token");
  const caFile = join(dir, "ca.crt");
  await writeFile(tokenFile, options.api.token, { mode: 0o600 });
  await writeFile(caFile, options.api.caPem);
  await writeFile(
    join(dir, "rules.yaml"),
    dumpYaml({ groups: options.ruleGroups.map((g) => ({ ...g, interval })) }),
  );
  await writeFile(
    join(dir, "prometheus.yaml"),
    dumpYaml({
      global: { scrape_interval: interval, evaluation_interval: interval },
      rule_files: [join(dir, "rules.yaml")],
      scrape_configs: scrapeConfigs(
        options.monitors,
        { server: options.api.server, tokenFile, caFile, dir },
        interval,
      ),
    }),
  );
  const discover = async (): Promise<void> => {
    const [services, slices, pods] = (await Promise.all(
      (["services", "endpointslices", "pods"] as const).map((kind) => options.list(kind)),
    )) as [
      { items: { metadata: ObjectMeta }[] },
      { items: EndpointSliceObject[] },
      { items: PodObject[] },
    ];
    for (const [m, monitor] of options.monitors.entries()) {
      const namespaces = namespacesOf(monitor);
      const inScope = (meta: ObjectMeta) => !namespaces || namespaces.has(meta.namespace);
      const groups =
        monitor.kind === "ServiceMonitor"
          ? endpointSliceTargets(
              slices.items.filter((s) => inScope(s.metadata)),
              services.items,
              pods.items,
            )
          : podTargets(pods.items.filter((p) => inScope(p.metadata)));
      const endpoints =
        (monitor.kind === "ServiceMonitor"
          ? monitor.spec.endpoints
          : monitor.spec.podMetricsEndpoints) ?? [];
      for (const e of endpoints.keys()) {
        // Written aside and renamed, so Prometheus never reads half a file.
        const file = targetsFile(dir, m, e);
        await writeFile(`${file}.tmp`, JSON.stringify(groups));
        await rename(`${file}.tmp`, file);
      }
    }
  };
  await discover();
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  let started: Started | undefined;
  try {
    started = startProcess("prometheus", [
      `--config.file=${join(dir, "prometheus.yaml")}`,
      `--storage.tsdb.path=${join(dir, "data")}`,
      `--web.listen-address=127.0.0.1:${port}`,
    ]);
    const proc = started;
    await waitFor(
      () =>
        proc.child.exitCode !== null
          ? Promise.reject(new Error(`prometheus exited:\n${proc.logTail()}`))
          : fetch(`${url}/-/ready`).then(
              (r) => r.ok,
              () => false,
            ),
      { timeoutMs: 30_000, what: "Prometheus to be ready" },
    );
  } catch (error) {
    await started?.stop();
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  const running = started;
  const api = async <T>(path: string, params: Record<string, string> = {}): Promise<T> => {
    const response = await fetch(`${url}/api/v1/${path}?${new URLSearchParams(params)}`);
    const body = (await response.json()) as { status: string; data: T; error?: string };
    if (body.status !== "success")
      throw new Error(`Prometheus ${path} ${JSON.stringify(params)}: ${body.error}`);
    return body.data;
  };
  return {
    url,
    discover,
    api,
    async query(expr) {
      const data = await api<{
        resultType: string;
        result: { metric: Record<string, string>; value: [number, string] }[];
      }>("query", { query: expr });
      return data.resultType === "vector" ? data.result : [];
    },
    logTail: () => running.logTail(),
    async stop() {
      await running.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
