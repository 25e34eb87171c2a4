// jobchannel's Grafana dashboard (relay, operator, workers) as code; render-dashboard.ts writes it into the chart.
//
// Built with @grafana/grafana-foundation-sdk pinned exactly at 11.6.0-cogv0.0.x.1769699379: the
// newest build of the SDK's types for Grafana 11.6, a released Grafana (schemaVersion 41), rather
// than the 0.0.x line (the `latest` dist-tag), which follows Grafana's unreleased main branch and
// may emit a schema ahead of the Grafana a cluster runs. The pin is exact because these builds
// are regenerated from Grafana's schemas and a new one can change the JSON this file renders; the
// test in test/dashboard.test.ts shows such a change as a drift of the chart's file. Whether a
// Grafana loads the result is not tested here: the suites run no Grafana.
import type { Builder } from "@grafana/grafana-foundation-sdk/cog";
import {
  DashboardBuilder,
  DashboardCursorSync,
  DatasourceVariableBuilder,
  MappingType,
  QueryVariableBuilder,
  RowBuilder,
  VariableRefresh,
  VariableSort,
  type Dashboard,
  type Panel,
} from "@grafana/grafana-foundation-sdk/dashboard";
import { PROMETHEUS, quantiles, stat, sumRate, timeseries } from "./panels.ts";

/** The dashboard's uid, kept stable from version to version, as links to it depend on it. */
export const DASHBOARD_UID = "jobchannel-overview";

/** The dashboard's title. */
export const DASHBOARD_TITLE = "jobchannel";

/** The label matcher of the `$channel` variable (a regular expression: `.*` for All). */
const CHANNEL = 'channel=~"$channel"';

/** A panel builder the layout can number. */
type PanelBuilder = Builder<Panel> & { id(id: number): unknown };

function relayPanels(): PanelBuilder[] {
  return [
    timeseries({
      title: "Fan-out latency p50 / p95 / p99 by channel",
      description:
        "Time from a job update's publish timestamp to its frame written to the subscriber's socket (jobchannel_relay_fanout_latency_seconds).",
      unit: "s",
      width: 8,
      queries: quantiles(
        `jobchannel_relay_fanout_latency_seconds_bucket{${CHANNEL}}`,
        ["channel"],
        [50, 95, 99],
      ),
    }),
    timeseries({
      title: "Deliveries/s by channel",
      description:
        "Frames written to subscribers (jobchannel_relay_messages_delivered_total) and updates received from Redis.",
      unit: "ops",
      width: 8,
      queries: [
        {
          expr: sumRate(`jobchannel_relay_messages_delivered_total{${CHANNEL}}`, ["channel"]),
          legend: "delivered {{channel}}",
        },
        {
          expr: sumRate(`jobchannel_relay_messages_received_total{${CHANNEL}}`, ["channel"]),
          legend: "received {{channel}}",
        },
      ],
    }),
    stat({
      title: "Redis up",
      description:
        "1 while each relay's Redis subscription is verified live (jobchannel_relay_redis_up); the lowest relay.",
      unit: "short",
      width: 8,
      queries: [{ expr: "min(jobchannel_relay_redis_up)", legend: "lowest relay" }],
      mappings: [
        {
          type: MappingType.ValueToText,
          options: { "0": { text: "down", color: "red" }, "1": { text: "up", color: "green" } },
        },
      ],
      thresholds: [
        { value: null, color: "red" },
        { value: 1, color: "green" },
      ],
    }),
    timeseries({
      title: "Connections",
      description:
        "Open WebSocket connections, per relay pod and in total (jobchannel_relay_connections).",
      unit: "short",
      width: 8,
      queries: [
        { expr: "sum(jobchannel_relay_connections)", legend: "total" },
        { expr: "sum by (pod) (jobchannel_relay_connections)", legend: "{{pod}}" },
      ],
    }),
    timeseries({
      title: "Subscriptions by channel",
      description: "Active channel subscriptions (jobchannel_relay_subscriptions).",
      unit: "short",
      width: 8,
      queries: [
        {
          expr: `sum by (channel) (jobchannel_relay_subscriptions{${CHANNEL}})`,
          legend: "{{channel}}",
        },
      ],
    }),
    timeseries({
      title: "Drops by reason",
      description:
        "Updates not delivered (jobchannel_relay_messages_dropped_total); collapsed = a superseded progress update.",
      unit: "ops",
      width: 8,
      queries: [
        {
          expr: sumRate("jobchannel_relay_messages_dropped_total", ["reason"]),
          legend: "{{reason}}",
        },
      ],
    }),
    timeseries({
      title: "Disconnects by close code",
      description:
        "Closed connections by WebSocket close code (jobchannel_relay_disconnects_total): 1000 normal, 1001 going away (drain), 1011 internal error.",
      unit: "ops",
      width: 8,
      queries: [
        { expr: sumRate("jobchannel_relay_disconnects_total", ["code"]), legend: "{{code}}" },
      ],
    }),
    timeseries({
      title: "Redis up by relay",
      description: "jobchannel_relay_redis_up per relay pod.",
      unit: "short",
      width: 8,
      queries: [{ expr: "jobchannel_relay_redis_up", legend: "{{pod}}" }],
    }),
    timeseries({
      title: "Ready relays",
      description:
        "Relay pods whose /readyz answers 200 (jobchannel_relay_ready), against the relay targets Prometheus scrapes (up).",
      unit: "short",
      width: 8,
      queries: [
        { expr: "sum(jobchannel_relay_ready)", legend: "ready" },
        { expr: `count(up{job=~".*jobchannel-relay"})`, legend: "relays" },
      ],
    }),
  ];
}

function operatorPanels(): PanelBuilder[] {
  return [
    timeseries({
      title: "Reconciles/s by result",
      description: "controller_runtime_reconcile_total by result.",
      unit: "ops",
      width: 8,
      queries: [
        { expr: sumRate("controller_runtime_reconcile_total", ["result"]), legend: "{{result}}" },
      ],
    }),
    timeseries({
      title: "Reconcile errors/s",
      description: "controller_runtime_reconcile_errors_total and terminal errors.",
      unit: "ops",
      width: 8,
      queries: [
        { expr: sumRate("controller_runtime_reconcile_errors_total"), legend: "errors" },
        { expr: sumRate("controller_runtime_terminal_reconcile_errors_total"), legend: "terminal" },
      ],
    }),
    timeseries({
      title: "Reconcile time p50 / p99",
      description: "controller_runtime_reconcile_time_seconds.",
      unit: "s",
      width: 8,
      queries: quantiles("controller_runtime_reconcile_time_seconds_bucket", [], [50, 99]),
    }),
    timeseries({
      title: "Work queue depth",
      description: "workqueue_depth, and retries/s (workqueue_retries_total).",
      unit: "short",
      width: 12,
      queries: [
        { expr: "sum by (name) (workqueue_depth)", legend: "depth {{name}}" },
        { expr: sumRate("workqueue_retries_total", ["name"]), legend: "retries/s {{name}}" },
      ],
    }),
    timeseries({
      title: "Leader",
      description: "leader_election_master_status: 1 on the operator pod holding the Lease.",
      unit: "short",
      width: 12,
      queries: [{ expr: "max by (pod) (leader_election_master_status)", legend: "{{pod}}" }],
    }),
  ];
}

function workerPanels(): PanelBuilder[] {
  return [
    timeseries({
      title: "Jobs/s by status",
      description: "jobchannel_worker_jobs_total by status.",
      unit: "ops",
      width: 8,
      queries: [
        {
          expr: sumRate(`jobchannel_worker_jobs_total{${CHANNEL}}`, ["status"]),
          legend: "{{status}}",
        },
      ],
    }),
    timeseries({
      title: "Job duration p50 / p95 / p99 by channel",
      description: "jobchannel_worker_job_duration_seconds: one attempt, from start to outcome.",
      unit: "s",
      width: 8,
      queries: quantiles(
        `jobchannel_worker_job_duration_seconds_bucket{${CHANNEL}}`,
        ["channel"],
        [50, 95, 99],
      ),
    }),
    timeseries({
      title: "Failed share by channel",
      description:
        "Failed / (completed + failed) jobs over 10 minutes (recording rule channel:jobchannel_worker_jobs_failed:ratio_rate10m; alert above 10%).",
      unit: "percentunit",
      width: 8,
      queries: [
        {
          expr: `channel:jobchannel_worker_jobs_failed:ratio_rate10m{${CHANNEL}}`,
          legend: "{{channel}}",
        },
      ],
    }),
    timeseries({
      title: "Workers available / desired by JobChannel",
      description:
        "Available and desired worker replicas of each JobChannel, as the leading operator reports them (recording rules namespace_jobchannel:jobchannel_operator_workers_available:max and _desired:max).",
      unit: "short",
      width: 24,
      queries: (["available", "desired"] as const).map((kind) => ({
        expr: `namespace_jobchannel:jobchannel_operator_workers_${kind}:max`,
        legend: `${kind} {{namespace}}/{{jobchannel}}`,
      })),
    }),
  ];
}

/** The dashboard: a Prometheus data source and a channel variable, then a row each for relay, operator and workers. */
export function jobchannelDashboard(): Dashboard {
  const builder = new DashboardBuilder(DASHBOARD_TITLE)
    .uid(DASHBOARD_UID)
    .description(
      "jobchannel relay, operator and workers (generated by monitoring/src/dashboard.ts).",
    )
    .tags(["jobchannel"])
    .editable()
    .tooltip(DashboardCursorSync.Crosshair)
    .refresh("30s")
    .time({ from: "now-3h", to: "now" })
    .timezone("browser")
    .annotations([])
    .withVariable(
      new DatasourceVariableBuilder("datasource").label("Prometheus").type("prometheus"),
    )
    .withVariable(
      new QueryVariableBuilder("channel")
        .label("Channel")
        .datasource(PROMETHEUS)
        .query({ query: "label_values(jobchannel_relay_subscriptions, channel)", refId: "channel" })
        .refresh(VariableRefresh.OnTimeRangeChanged)
        .sort(VariableSort.AlphabeticalAsc)
        .includeAll(true)
        .allValue(".*")
        .multi(true),
    );
  // Rows and panels numbered in order, so that every panel id is unique in the dashboard.
  let id = 0;
  for (const [title, panels] of [
    ["Relay", relayPanels()],
    ["Operator", operatorPanels()],
    ["Workers", workerPanels()],
  ] as const) {
    builder.withRow(new RowBuilder(title).id(++id));
    for (const panel of panels) {
      panel.id(++id);
      builder.withPanel(panel);
    }
  }
  return builder.build();
}

/** The dashboard as the chart ships it: JSON with two-space indentation and a final newline. */
export function dashboardJson(): string {
  return `${JSON.stringify(jobchannelDashboard(), null, 2)}\n`;
}
