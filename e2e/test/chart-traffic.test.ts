// How traffic reaches the chart's pods, without a cluster: the relay's Ingress and HTTPRoute, the HPA's connections metric, and the NetworkPolicies.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { repoRoot, toolPath } from "../src/paths.ts";
import { EVERYTHING_ON, workerPodLabels } from "./helpers/chart-values.ts";
import { renderChart } from "./helpers/helm-offline.ts";

const helmBinary = toolPath("helm");

interface Rendered {
  kind: string;
  metadata: { name: string; namespace?: string };
  spec?: Record<string, unknown>;
}

interface Workload {
  template: {
    metadata: { labels: Record<string, string> };
    spec: { containers: { ports?: { name: string }[] }[] };
  };
}

interface Peer {
  podSelector?: { matchLabels?: Record<string, string> };
  namespaceSelector?: {
    matchLabels?: Record<string, string>;
    matchExpressions?: { key: string; operator: string; values: string[] }[];
  };
}

/** A NetworkPolicy rule as client-node's model reads it (renderChart): `from` is named `_from` there. */
interface PolicyRule {
  ports?: { port: string | number; protocol: string }[];
  _from?: Peer[];
  to?: { ipBlock: { cidr: string } }[];
}

interface PolicySpec {
  podSelector: { matchLabels: Record<string, string> };
  policyTypes: string[];
  ingress?: PolicyRule[];
  egress?: PolicyRule[];
}

const PROMETHEUS: Peer = {
  namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "monitoring" } },
  podSelector: { matchLabels: { "app.kubernetes.io/name": "prometheus" } },
};

/** Whether `labels` has every label of `selector`. */
const selects = (selector: Record<string, string> | undefined, labels: Record<string, string>) =>
  Object.entries(selector ?? {}).every(([k, v]) => labels[k] === v);

describe(
  "the jobchannel chart's relay exposure, scaling and NetworkPolicies",
  { timeout: 120_000 },
  () => {
    let helmHome: string;
    // Plain objects (through JSON), so that deepStrictEqual compares them with literals.
    const render = async (...args: string[]): Promise<Rendered[]> =>
      JSON.parse(JSON.stringify(await renderChart<Rendered>(helmHome, ...args))) as Rendered[];
    const only = (objects: Rendered[], kind: string): Rendered => {
      const matching = objects.filter((o) => o.kind === kind);
      assert.equal(matching.length, 1, `one ${kind}`);
      return matching[0] as Rendered;
    };
    const policies = (objects: Rendered[]): Map<string, PolicySpec> =>
      new Map(
        objects
          .filter((o) => o.kind === "NetworkPolicy")
          .map((o) => [o.metadata.name, o.spec as unknown as PolicySpec]),
      );

    before(async () => {
      helmHome = await mkdtemp(join(tmpdir(), "jobchannel-helm-"));
    });

    after(async () => {
      await rm(helmHome, { recursive: true, force: true });
    });

    it("renders no Ingress, HTTPRoute, NetworkPolicy or connections metric by default", async (t) => {
      if (!existsSync(helmBinary)) return t.skip(`no ${helmBinary}: run \`make tools\``);
      const kinds = (await render()).map((o) => o.kind);
      for (const kind of ["Ingress", "HTTPRoute", "NetworkPolicy", "HorizontalPodAutoscaler"])
        assert.equal(kinds.includes(kind), false, kind);
    });

    it("routes only /ws to the relay Service through the Ingress, with the class, hosts, TLS and annotations given", async (t) => {
      if (!existsSync(helmBinary)) return t.skip(`no ${helmBinary}: run \`make tools\``);
      const objects = await render(...EVERYTHING_ON);
      const ingress = only(objects, "Ingress") as Rendered & {
        metadata: { annotations?: Record<string, string> };
      };
      const backend = { service: { name: "jobchannel-relay", port: { name: "http" } } };
      assert.deepEqual(ingress.spec, {
        ingressClassName: "nginx",
        tls: [{ secretName: "jobs-tls", hosts: ["jobs.example.com"] }],
        rules: [
          {
            host: "jobs.example.com",
            http: { paths: [{ path: "/ws", pathType: "Exact", backend }] },
          },
        ],
      });
      assert.equal(
        ingress.metadata.annotations?.["nginx.ingress.kubernetes.io/proxy-read-timeout"],
        "3600",
      );
      const service = objects.find(
        (o) => o.kind === "Service" && o.metadata.name === "jobchannel-relay",
      );
      assert.deepEqual(
        (service?.spec as { ports: { name: string }[] }).ports.map((p) => p.name),
        ["http"],
        "the Service port the Ingress names",
      );
      // Without hosts: one rule for any host.
      const anyHost = only(await render("--set", "relay.ingress.enabled=true"), "Ingress");
      assert.deepEqual((anyHost.spec as { rules: unknown[] }).rules, [
        { http: { paths: [{ path: "/ws", pathType: "Exact", backend }] } },
      ]);
    });

    it("routes only /ws to the relay Service's port through the HTTPRoute, with the parents, hostnames and timeouts given", async (t) => {
      if (!existsSync(helmBinary)) return t.skip(`no ${helmBinary}: run \`make tools\``);
      const route = only(await render(...EVERYTHING_ON), "HTTPRoute");
      assert.deepEqual(route.spec, {
        parentRefs: [{ name: "public", namespace: "gateways", sectionName: "https" }],
        hostnames: ["jobs.example.com"],
        rules: [
          {
            matches: [{ path: { type: "Exact", value: "/ws" } }],
            backendRefs: [{ name: "jobchannel-relay", port: 8080 }],
            timeouts: { request: "0s" },
          },
        ],
      });
    });

    it("scales relays on CPU, and also on the relay's connections gauge when asked", async (t) => {
      if (!existsSync(helmBinary)) return t.skip(`no ${helmBinary}: run \`make tools\``);
      const metricsOf = async (...args: string[]) =>
        (
          only(
            await render("--set", "relay.autoscaling.enabled=true", ...args),
            "HorizontalPodAutoscaler",
          ).spec as { metrics: { type: string }[] }
        ).metrics;
      assert.deepEqual(
        (await metricsOf()).map((m) => m.type),
        ["Resource"],
      );
      const metrics = await metricsOf(
        "--set",
        "relay.autoscaling.connections.enabled=true",
        "--set",
        "relay.autoscaling.connections.targetAverageValue=500",
      );
      assert.deepEqual(metrics[1], {
        type: "Pods",
        pods: {
          metric: { name: "jobchannel_relay_connections" },
          target: { type: "AverageValue", averageValue: "500" },
        },
      });
      // The metric is the relay's own gauge of open WebSockets.
      const source = await readFile(join(repoRoot(), "relay", "src", "metrics.ts"), "utf8");
      assert.match(
        source,
        /new Gauge\(\{\s*name: "jobchannel_relay_connections",\s*help: "Open WebSocket/,
      );
      await assert.rejects(
        render("--set", "relay.autoscaling.connections.enabled=true"),
        /relay.autoscaling.connections.enabled needs relay.autoscaling.enabled=true/,
      );
      await assert.rejects(
        render(
          "--set",
          "relay.autoscaling.enabled=true",
          "--set",
          "relay.autoscaling.minReplicas=11",
        ),
        /relay.autoscaling.minReplicas \(11\) must not exceed relay.autoscaling.maxReplicas \(10\)/,
      );
    });

    it("gives each of the chart's pods one NetworkPolicy, selecting it by its labels, on ports its containers name", async (t) => {
      if (!existsSync(helmBinary)) return t.skip(`no ${helmBinary}: run \`make tools\``);
      const objects = await render(...EVERYTHING_ON);
      const workloads = objects
        .filter((o) => o.kind === "Deployment" || o.kind === "StatefulSet")
        .map((o) => (o.spec as unknown as Workload).template);
      const found = policies(objects);
      assert.deepEqual([...found.keys()].sort(), [
        "jobchannel-operator",
        "jobchannel-redis",
        "jobchannel-relay",
      ]);
      for (const [name, spec] of found) {
        const selected = workloads.filter((w) =>
          selects(spec.podSelector.matchLabels, w.metadata.labels),
        );
        assert.equal(selected.length, 1, `${name} selects one workload's pods`);
        const ports = new Set(
          selected[0]?.spec.containers.flatMap((c) => c.ports ?? []).map((p) => p.name),
        );
        for (const rule of spec.ingress ?? [])
          for (const port of rule.ports ?? [])
            assert.ok(ports.has(String(port.port)), `${name}: ${port.port}`);
        assert.equal(
          selected[0]?.metadata.labels["app.kubernetes.io/component"],
          name.replace("jobchannel-", ""),
        );
      }
    });

    it("opens the relay to anyone by default, else to relayFrom and Prometheus; the operator's port to Prometheus and its egress to the API server's ports", async (t) => {
      if (!existsSync(helmBinary)) return t.skip(`no ${helmBinary}: run \`make tools\``);
      const open = policies(await render("--set", "networkPolicy.enabled=true"));
      assert.deepEqual(open.get("jobchannel-relay")?.ingress, [
        { ports: [{ port: "http", protocol: "TCP" }] },
      ]);
      assert.deepEqual(open.get("jobchannel-relay")?.policyTypes, ["Ingress"]);
      const operator = open.get("jobchannel-operator");
      assert.deepEqual(operator?.policyTypes, ["Ingress", "Egress"]);
      assert.deepEqual(operator?.ingress, [
        { ports: [{ port: "http", protocol: "TCP" }], _from: [PROMETHEUS] },
      ]);
      assert.deepEqual(operator?.egress, [
        {
          ports: [
            { port: 443, protocol: "TCP" },
            { port: 6443, protocol: "TCP" },
          ],
        },
      ]);
      const closed = policies(await render(...EVERYTHING_ON));
      assert.deepEqual(closed.get("jobchannel-relay")?.ingress?.[0]?._from, [
        { namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "ingress-nginx" } } },
        PROMETHEUS,
      ]);
      assert.deepEqual(closed.get("jobchannel-operator")?.egress?.[0]?.to, [
        { ipBlock: { cidr: "10.0.0.1/32" } },
      ]);
    });

    it("lets only relays, the operator's workers where the Redis Secret is, and redisFrom reach the bundled Redis", async (t) => {
      if (!existsSync(helmBinary)) return t.skip(`no ${helmBinary}: run \`make tools\``);
      const objects = await render(...EVERYTHING_ON);
      const relayPod = (
        objects.find((o) => o.kind === "Deployment" && o.metadata.name === "jobchannel-relay")
          ?.spec as unknown as Workload
      ).template.metadata.labels;
      const [rule, ...more] = policies(objects).get("jobchannel-redis")?.ingress ?? [];
      assert.deepEqual(more, []);
      assert.deepEqual(rule?.ports, [{ port: "redis", protocol: "TCP" }]);
      const [relays, workers, extra, ...rest] = rule?._from ?? [];
      assert.deepEqual(rest, []);
      assert.deepEqual(
        Object.keys(relays ?? {}),
        ["podSelector"],
        "relays of the release namespace",
      );
      assert.ok(
        selects(relays?.podSelector?.matchLabels, relayPod),
        "the relay peer selects relay pods",
      );
      assert.ok(
        selects(workers?.podSelector?.matchLabels, workerPodLabels()),
        "the worker peer selects the pods operator/src/desired-worker.ts makes",
      );
      assert.deepEqual(workers?.namespaceSelector?.matchExpressions, [
        { key: "kubernetes.io/metadata.name", operator: "In", values: ["jobchannel", "apps"] },
      ]);
      assert.deepEqual(extra, {
        namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "publishers" } },
      });
      // An external Redis is not the chart's to guard.
      const external = policies(
        await render(
          "--set",
          "networkPolicy.enabled=true",
          "--set",
          "redis.enabled=false",
          "--set",
          "redis.url=redis://elsewhere:6379",
        ),
      );
      assert.equal(external.has("jobchannel-redis"), false);
    });
  },
);
