// The chart's monitoring as code without a cluster: promtool checks and unit-tests the alerts, helm
// renders the PrometheusRule, ServiceMonitors, PodMonitor and dashboard ConfigMap, and every PromQL
// expression of the rules and the dashboard names only metrics the code defines.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { dumpYaml, loadYaml } from "@kubernetes/client-node";
import { repoRoot, toolPath } from "../src/paths.ts";
import { helmOffline, renderChart } from "./helpers/helm-offline.ts";
import {
  allPanels,
  dashboardExpressions,
  expandGrafanaVariables,
  loadDashboard,
  loadRuleGroups,
  metricNamesIn,
  RULES_FILE,
  selectorsIn,
} from "./helpers/promql.ts";

const execFileAsync = promisify(execFile);
const root = repoRoot();
const chart = join(root, "charts", "jobchannel");
const files = join(chart, "files");
const rulesTestFile = join(files, "prometheus-rules.test.yaml");
const helmBinary = toolPath("helm");
/** Debian's promtool (`make test` installs the prometheus package); these tests need it. */
const promtool = "promtool";

interface RenderedObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  data?: Record<string, string>;
  spec?: Record<string, unknown>;
}
function markdownHeadings(text: string): { level: number; title: string }[] {
  const headings: { level: number; title: string }[] = [];
  let fenced = false;
  for (const line of text.split("\n")) {
    if (/^\s*```/.test(line)) fenced = !fenced;
    const match = fenced ? null : /^(#{1,6})\s+(.+?)\s*$/.exec(line);
    if (match) headings.push({ level: match[1]!.length, title: match[2]! });
  }
  return headings;
}

/** The anchor GitHub gives a heading: lower case, punctuation removed, spaces as hyphens. */
function githubAnchor(title: string): string {
  return title
    .toLowerCase()
    .replaceAll(/[^\p{L}\p{N} _-]/gu, "")
    .replaceAll(" ", "-");
}

/** Runs promtool; fails with its output when it exits non-zero, or with a hint when it is missing. */
async function runPromtool(args: readonly string[], cwd: string): Promise<string> {
  try {
    const { stdout, stderr } = await execFileAsync(promtool, [...args], { cwd, timeout: 60_000 });
    return stdout + stderr;
  } catch (error) {
    const {
      code,
      stdout = "",
      stderr = "",
    } = error as NodeJS.ErrnoException & {
      stdout?: string;
      stderr?: string;
    };
    if (code === "ENOENT") {
      throw new Error("promtool is not installed: apt-get install prometheus (make test does)", {
        cause: error,
      });
    }
    throw new Error(`promtool ${args.join(" ")} failed:\n${stdout}${stderr}`, { cause: error });
  }
}

/** The metric names relay, operator and worker define, with the series a histogram adds. */
async function definedMetricNames(): Promise<Set<string>> {
  const names = new Set<string>(["up"]);
  for (const source of ["relay", "operator", "worker"]) {
    const text = await readFile(join(root, source, "src", "metrics.ts"), "utf8");
    const histograms = new Set<string>();
    for (const m of text.matchAll(/new Histogram(?:<[^>]*>)?\(\{\s*name:\s*"([^"]+)"/g)) {
      histograms.add(m[1] ?? "");
    }
    for (const m of text.matchAll(/\bhistogram\(\s*"([^"]+)"/g)) histograms.add(m[1] ?? "");
    const defined = [
      ...text.matchAll(/new (?:Counter|Gauge|Histogram)(?:<[^>]*>)?\(\{\s*name:\s*"([^"]+)"/g),
      ...text.matchAll(/\b(?:counter|gauge|histogram)\(\s*"([^"]+)"/g),
    ].map((m) => m[1] ?? "");
    assert.ok(defined.length > 0, `${source}/src/metrics.ts defines metrics`);
    for (const name of defined) {
      names.add(name);
      if (histograms.has(name)) for (const s of ["_bucket", "_sum", "_count"]) names.add(name + s);
    }
  }
  return names;
}

/** The labels a Prometheus Operator scrape of a ServiceMonitor endpoint adds to every series. */
const SCRAPE_LABELS = ["job", "instance", "namespace", "pod", "service", "endpoint", "container"];

/** The label names of every metric a registry holds (prom-client's metrics keep `labelNames`). */
async function declaredLabels(source: "relay" | "operator"): Promise<Map<string, string[]>> {
  type Registry = { getMetricsAsArray(): { name: string; labelNames?: string[] }[] };
  // Loaded by URL, so this package's type check stays out of the other packages' sources.
  const url = pathToFileURL(join(root, source, "src", "metrics.ts")).href;
  let registry: Registry;
  if (source === "relay") {
    const { RelayMetrics } = (await import(url)) as {
      RelayMetrics: new (registry: undefined, ready: () => boolean) => { registry: Registry };
    };
    registry = new RelayMetrics(undefined, () => true).registry;
  } else {
    const { createMetrics } = (await import(url)) as {
      createMetrics(options: { leaseName: string; workers: number }): { registry: Registry };
    };
    registry = createMetrics({ leaseName: "jobchannel-operator", workers: 1 }).registry;
  }
  return new Map(registry.getMetricsAsArray().map((m) => [m.name, m.labelNames ?? []]));
}

describe("the jobchannel chart's monitoring", { timeout: 120_000 }, () => {
  let work: string;

  const helm = (args: readonly string[]) => helmOffline(work, args);
  const render = (...args: string[]) => renderChart<RenderedObject>(work, ...args);
  before(async () => {
    work = await mkdtemp(join(tmpdir(), "jobchannel-monitoring-"));
  });
  after(async () => {
    await rm(work, { recursive: true, force: true });
  });

  it("passes promtool check rules", async () => {
    const output = await runPromtool(["check", "rules", RULES_FILE], files);
    assert.match(output, /SUCCESS: \d+ rules found/);
  });

  it("passes the promtool unit tests, which fire and silence every alert", async () => {
    const output = await runPromtool(["test", "rules", rulesTestFile], files);
    assert.match(output, /SUCCESS/);
    // Each alert of the rule file is tested at least once firing and once silent.
    const tests = (
      loadYaml(await readFile(rulesTestFile, "utf8")) as {
        tests: { alert_rule_test?: { alertname: string; exp_alerts?: unknown[] }[] }[];
      }
    ).tests.flatMap((t) => t.alert_rule_test ?? []);
    const alerts = (await loadRuleGroups()).flatMap((g) => g.rules).filter((r) => r.alert);
    assert.ok(alerts.length >= 9, "the rule file holds the alerts");
    for (const { alert } of alerts) {
      const cases = tests.filter((t) => t.alertname === alert);
      assert.ok(
        cases.some((t) => (t.exp_alerts ?? []).length > 0),
        `${alert} is tested firing`,
      );
      assert.ok(
        cases.some((t) => (t.exp_alerts ?? []).length === 0),
        `${alert} is tested silent`,
      );
    }
  });

  it("gives every alert a severity, a summary and a runbook-style description", async () => {
    for (const rule of (await loadRuleGroups()).flatMap((g) => g.rules)) {
      if (!rule.alert) continue;
      assert.match(rule.labels?.severity ?? "", /^(critical|warning|info)$/, rule.alert);
      assert.ok(rule.annotations?.summary, `${rule.alert} has a summary`);
      assert.ok(
        (rule.annotations?.description ?? "").length > 80,
        `${rule.alert} has a description that says what to check`,
      );
    }
  });

  it("links every alert to its runbook in docs/operations.md, and every runbook to an alert", async () => {
    // The repository the images name as their source (org.opencontainers.image.source).
    const dockerfile = await readFile(join(root, "relay", "Dockerfile"), "utf8");
    const source = /^ARG SOURCE_URL=(\S+)$/m.exec(dockerfile)?.[1];
    assert.ok(source, "relay/Dockerfile has ARG SOURCE_URL");
    const base = `${source}/blob/main/docs/operations.md#`;
    const doc = await readFile(join(root, "docs", "operations.md"), "utf8");
    const headings = markdownHeadings(doc);
    const anchors = headings.map((h) => githubAnchor(h.title));
    assert.equal(new Set(anchors).size, anchors.length, "docs/operations.md has unique headings");
    // Its own links lead somewhere: an anchor of the page, or a file of the repository.
    for (const [, target = ""] of doc.matchAll(/\]\(([^)\s]+)\)/g)) {
      if (target.startsWith("#")) assert.ok(anchors.includes(target.slice(1)), `link ${target}`);
      else assert.ok(existsSync(join(root, "docs", target.split("#")[0] ?? "")), `link ${target}`);
    }
    const section = headings.findIndex((h) => h.level === 2 && h.title === "Alert runbooks");
    assert.ok(section >= 0, 'docs/operations.md has a section "Alert runbooks"');
    const end = headings.findIndex((h, i) => i > section && h.level <= 2);
    const runbooks = headings
      .slice(section + 1, end < 0 ? undefined : end)
      .filter((h) => h.level === 3)
      .map((h) => h.title);
    const alerts = (await loadRuleGroups()).flatMap((g) => g.rules).filter((r) => r.alert);
    for (const { alert, annotations } of alerts) {
      assert.equal(
        annotations?.runbook_url,
        base + githubAnchor(alert ?? ""),
        `${alert} runbook_url`,
      );
      assert.ok(runbooks.includes(alert ?? ""), `docs/operations.md has a runbook "### ${alert}"`);
    }
    for (const runbook of runbooks) {
      assert.ok(
        alerts.some((r) => r.alert === runbook),
        `runbook "${runbook}" names an alert of ${RULES_FILE}`,
      );
    }
  });

  it("renders nothing of monitoring by default", async (t) => {
    if (!existsSync(helmBinary)) return t.skip(`no ${helmBinary}: run \`make tools\``);
    const objects = await render();
    assert.deepEqual(
      objects.filter((o) => o.apiVersion.startsWith("monitoring.coreos.com/")).map((o) => o.kind),
      [],
    );
    assert.equal(objects.filter((o) => o.kind === "ConfigMap").length, 0);
  });

  it("renders the PrometheusRule with the groups of the rule file", async (t) => {
    if (!existsSync(helmBinary)) return t.skip(`no ${helmBinary}: run \`make tools\``);
    await helm(["lint", "--strict", chart, "--set", "monitoring.enabled=true"]);
    const objects = await render("--set", "monitoring.enabled=true");
    const [rule, ...more] = objects.filter((o) => o.kind === "PrometheusRule");
    assert.ok(rule, "a PrometheusRule is rendered");
    assert.equal(more.length, 0, "one PrometheusRule");
    assert.equal(rule.apiVersion, "monitoring.coreos.com/v1");
    assert.equal(rule.metadata.namespace, "jobchannel");
    assert.deepEqual(rule.spec?.groups, await loadRuleGroups());
  });

  it("points the ServiceMonitors at the relay and operator Services' labels and port names", async (t) => {
    if (!existsSync(helmBinary)) return t.skip(`no ${helmBinary}: run \`make tools\``);
    const objects = await render(
      "--set",
      "monitoring.enabled=true",
      "--set",
      "monitoring.labels.release=prom",
    );
    const services = objects.filter((o) => o.kind === "Service");
    const monitors = objects.filter((o) => o.kind === "ServiceMonitor");
    assert.deepEqual(monitors.map((m) => m.metadata.name).sort(), [
      "jobchannel-operator",
      "jobchannel-relay",
    ]);
    for (const monitor of monitors) {
      assert.equal(monitor.metadata.labels?.release, "prom", "monitoring.labels reach it");
      const spec = monitor.spec as {
        selector: { matchLabels: Record<string, string> };
        namespaceSelector: { matchNames: string[] };
        endpoints: { port: string; path: string; honorLabels?: boolean }[];
      };
      assert.deepEqual(spec.namespaceSelector.matchNames, ["jobchannel"]);
      const selected = services.filter((s) =>
        Object.entries(spec.selector.matchLabels).every(([k, v]) => s.metadata.labels?.[k] === v),
      );
      assert.deepEqual(
        selected.map((s) => s.metadata.name),
        [monitor.metadata.name],
        `ServiceMonitor/${monitor.metadata.name} selects exactly its Service`,
      );
      const service = selected[0];
      assert.ok(service);
      const ports = (service.spec as { ports: { name: string; targetPort: string }[] }).ports;
      for (const endpoint of spec.endpoints) {
        assert.equal(endpoint.path, "/metrics");
        // The operator's per-JobChannel gauges keep their own `namespace` label (the JobChannel's)
        // over the target's; the relay's metrics have no label the scrape adds.
        assert.equal(
          endpoint.honorLabels,
          monitor.metadata.name === "jobchannel-operator" ? true : undefined,
          `ServiceMonitor/${monitor.metadata.name} honorLabels`,
        );
        const port = ports.find((p) => p.name === endpoint.port);
        assert.ok(port, `Service/${service.metadata.name} has the port "${endpoint.port}"`);
        // The Service's target port is a named container port of the Deployment it selects.
        const deployment = objects.find(
          (o) => o.kind === "Deployment" && o.metadata.name === service.metadata.name,
        );
        assert.ok(deployment, `Deployment/${service.metadata.name}`);
        const containers = (
          deployment.spec as {
            template: { spec: { containers: { ports?: { name: string }[] }[] } };
          }
        ).template.spec.containers;
        assert.ok(
          containers.some((c) => c.ports?.some((p) => p.name === port.targetPort)),
          `Deployment/${service.metadata.name} names a container port "${port.targetPort}"`,
        );
      }
    }
  });

  it("honors only the operator's labels, whose one clash with the scrape is the JobChannel's namespace", async () => {
    // Which of a metric's own labels a scrape would rename to exported_<label> without honorLabels.
    const clashes = async (source: "relay" | "operator") =>
      [...(await declaredLabels(source))].flatMap(([name, labels]) =>
        labels.filter((l) => SCRAPE_LABELS.includes(l)).map((l) => `${name}{${l}}`),
      );
    assert.deepEqual(await clashes("relay"), []);
    assert.deepEqual((await clashes("operator")).sort(), [
      "jobchannel_operator_jobchannel_ready{namespace}",
      "jobchannel_operator_workers_available{namespace}",
      "jobchannel_operator_workers_desired{namespace}",
    ]);
  });

  it("points the workers' PodMonitor at the labels and port the operator gives worker pods", async (t) => {
    if (!existsSync(helmBinary)) return t.skip(`no ${helmBinary}: run \`make tools\``);
    const source = await readFile(join(root, "operator", "src", "desired-worker.ts"), "utf8");
    const managedBy = /export const MANAGED_BY = "([^"]+)"/.exec(source)?.[1];
    assert.ok(managedBy, "operator/src/desired-worker.ts exports MANAGED_BY");
    assert.match(source, /ports: \[\{ name: "http", containerPort: WORKER_PORT/);
    for (const [values, namespaceSelector] of [
      [[], { any: true }],
      [["--set", "operator.watchNamespaces={apps,reports}"], { matchNames: ["apps", "reports"] }],
    ] as const) {
      const objects = await render("--set", "monitoring.enabled=true", ...values);
      const monitor = objects.find((o) => o.kind === "PodMonitor");
      assert.ok(monitor, "a PodMonitor is rendered");
      assert.deepEqual(monitor.spec, {
        selector: {
          matchLabels: {
            "app.kubernetes.io/managed-by": managedBy,
            "app.kubernetes.io/component": "worker",
          },
        },
        namespaceSelector,
        podMetricsEndpoints: [
          { port: "http", path: "/metrics", interval: "30s", scrapeTimeout: "10s" },
        ],
      });
    }
    const without = await render(
      "--set",
      "monitoring.enabled=true",
      "--set",
      "monitoring.workers.enabled=false",
    );
    assert.equal(without.filter((o) => o.kind === "PodMonitor").length, 0);
  });

  it("ships the dashboard in a ConfigMap for Grafana's sidecar", async (t) => {
    if (!existsSync(helmBinary)) return t.skip(`no ${helmBinary}: run \`make tools\``);
    const objects = await render("--set", "monitoring.enabled=true");
    const [configMap, ...more] = objects.filter((o) => o.kind === "ConfigMap");
    assert.ok(configMap, "a ConfigMap is rendered");
    assert.equal(more.length, 0, "one ConfigMap");
    assert.equal(configMap.metadata.labels?.grafana_dashboard, "1");
    assert.deepEqual(JSON.parse(configMap.data?.["jobchannel.json"] ?? ""), await loadDashboard());
    const off = await render(
      "--set",
      "monitoring.enabled=true",
      "--set",
      "monitoring.grafanaDashboard.enabled=false",
    );
    assert.equal(off.filter((o) => o.kind === "ConfigMap").length, 0);
  });

  it("refuses unknown monitoring values", async (t) => {
    if (!existsSync(helmBinary)) return t.skip(`no ${helmBinary}: run \`make tools\``);
    await assert.rejects(
      render("--set", "monitoring.enable=true"),
      /monitoring.*enable|additional properties/i,
    );
    await assert.rejects(render("--set", "monitoring.interval=often"), /monitoring.*interval/i);
  });

  it("has a Grafana dashboard with the panels of the relay, the operator and the workers", async () => {
    const dashboard = await loadDashboard();
    assert.ok(dashboard.schemaVersion >= 39, "schemaVersion 39 or newer");
    const panels = allPanels(dashboard.panels).filter((p) => p.type !== "row");
    const titles = panels.map((p) => p.title);
    for (const title of [
      "Fan-out latency p50 / p95 / p99 by channel",
      "Deliveries/s by channel",
      "Connections",
      "Subscriptions by channel",
      "Drops by reason",
      "Disconnects by close code",
      "Redis up",
      "Ready relays",
      "Reconciles/s by result",
      "Reconcile errors/s",
      "Work queue depth",
      "Jobs/s by status",
      "Job duration p50 / p95 / p99 by channel",
      "Workers available / desired by JobChannel",
    ]) {
      assert.ok(titles.includes(title), `a panel "${title}"`);
    }
    for (const panel of panels) {
      assert.ok((panel.targets ?? []).length > 0, `panel "${panel.title}" queries something`);
      assert.equal(panel.datasource?.uid, "${datasource}", `panel "${panel.title}" datasource`);
    }
    assert.deepEqual(
      new Set(panels.map((p) => (p as unknown as { id: number }).id)).size,
      panels.length,
      "panel ids are unique",
    );
  });

  it("reads only metrics the code defines, in the rules and in the dashboard", async () => {
    const groups = await loadRuleGroups();
    const known = await definedMetricNames();
    for (const rule of groups.flatMap((g) => g.rules)) if (rule.record) known.add(rule.record);
    // The metric name check itself: it sees metrics and ignores functions, labels and keywords.
    assert.deepEqual(
      metricNamesIn(
        'histogram_quantile(0.99, sum by (channel, le) (rate(a_bucket{code="x"}[5m]))) / on(pod) group_left b > bool 1e3',
      ),
      ["a_bucket", "b"],
    );
    // And the selectors, matchers included, that the live check asks for series one by one.
    assert.deepEqual(
      selectorsIn('sum(rate(a_total{s="failed"}[5m])) / sum(rate(a_total{s=~"x|}"}[5m])) > b'),
      ['a_total{s="failed"}', 'a_total{s=~"x|}"}', "b"],
    );
    const expressions = [
      ...groups.flatMap((g) => g.rules.map((r) => ({ where: r.alert ?? r.record, expr: r.expr }))),
      ...dashboardExpressions(await loadDashboard()).map(({ where, expr }) => ({
        where,
        expr: expandGrafanaVariables(expr),
      })),
    ];
    for (const { where, expr } of expressions) {
      const names = metricNamesIn(expr);
      assert.ok(names.length > 0, `${where} reads a metric: ${expr}`);
      for (const name of names) {
        assert.ok(
          known.has(name),
          `${where} reads "${name}", which no metrics.ts defines: ${expr}`,
        );
      }
    }
  });

  it("has only dashboard expressions Prometheus parses (promtool check rules)", async () => {
    const rules = dashboardExpressions(await loadDashboard()).map(({ expr }, i) => ({
      record: `jobchannel_dashboard_expr_${i}`,
      expr: expandGrafanaVariables(expr),
    }));
    const file = join(work, "dashboard-exprs.yaml");
    await writeFile(file, dumpYaml({ groups: [{ name: "dashboard", rules }] }));
    const output = await runPromtool(["check", "rules", file], work);
    assert.match(output, new RegExp(`SUCCESS: ${rules.length} rules found`));
  });
});
