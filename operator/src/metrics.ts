// Prometheus metrics under controller-runtime's names, so existing controller dashboards work unchanged.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import { ConditionType } from "./jobchannel.ts";
import type { QueueMetrics } from "./queue.ts";
import type { StatusMetrics, WriteMetrics } from "./reconciler.ts";
import type { RunnerMetrics } from "./runner.ts";
import type { WatcherMetrics } from "./watcher.ts";

/** The controller name in every controller_runtime_* and workqueue_* label. */
export const CONTROLLER_NAME = "jobchannel";

/** The operator's registry and the adapters each pipeline stage reports through. */
export interface OperatorMetrics {
  readonly registry: Registry;
  readonly queue: QueueMetrics;
  readonly runner: RunnerMetrics;
  readonly watcher: WatcherMetrics;
  /** The per-JobChannel gauges, set from each status the reconciler computes. */
  readonly statuses: StatusMetrics;
  /** jobchannel_operator_api_writes_total: every write the reconciler makes. */
  readonly writes: WriteMetrics;
  /** leader_election_master_status: 1 while this process leads. */
  leader(isLeader: boolean): void;
  /** Drops every per-JobChannel series: a process that does not lead exports none. */
  clearJobChannels(): void;
}

/** Buckets of controller-runtime's reconcile_time_seconds. */
const RECONCILE_BUCKETS = [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7, 0.8, 0.9, 1,
  1.25, 1.5, 1.75, 2, 2.5, 3, 3.5, 4, 4.5, 5, 6, 7, 8, 9, 10, 15, 20, 25, 30, 40, 50, 60,
];

/** Buckets of client-go's workqueue durations: 1 µs to 10 s, by tens. */
const QUEUE_BUCKETS = [1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1, 10];

export function createMetrics(options: { leaseName: string; workers: number }): OperatorMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const registers = [registry];
  const controller = { controller: CONTROLLER_NAME };
  const queueLabels = { name: CONTROLLER_NAME, controller: CONTROLLER_NAME };
  const counter = <L extends string>(name: string, help: string, labelNames: L[]) =>
    new Counter<L>({ name, help, labelNames, registers });
  const gauge = <L extends string>(name: string, help: string, labelNames: L[]) =>
    new Gauge<L>({ name, help, labelNames, registers });
  const histogram = <L extends string>(
    name: string,
    help: string,
    labelNames: L[],
    buckets: number[],
  ) => new Histogram<L>({ name, help, labelNames, buckets, registers });

  const reconcileTotal = counter(
    "controller_runtime_reconcile_total",
    "Total number of reconciliations per controller",
    ["controller", "result"],
  );
  // Series exist from the start, so rate() and absent() work before the first reconcile.
  for (const result of ["success", "error", "requeue", "requeue_after"]) {
    reconcileTotal.inc({ ...controller, result }, 0);
  }
  const reconcileErrors = counter(
    "controller_runtime_reconcile_errors_total",
    "Total number of reconciliation errors per controller",
    ["controller"],
  );
  const terminalErrors = counter(
    "controller_runtime_terminal_reconcile_errors_total",
    "Total number of terminal reconciliation errors per controller",
    ["controller"],
  );
  const reconcileTime = histogram(
    "controller_runtime_reconcile_time_seconds",
    "Length of time per reconciliation per controller",
    ["controller"],
    RECONCILE_BUCKETS,
  );
  const activeWorkers = gauge(
    "controller_runtime_active_workers",
    "Number of currently used workers per controller",
    ["controller"],
  );
  gauge(
    "controller_runtime_max_concurrent_reconciles",
    "Maximum number of concurrent reconciles per controller",
    ["controller"],
  ).set(controller, options.workers);
  for (const metric of [reconcileErrors, terminalErrors]) metric.inc(controller, 0);
  activeWorkers.set(controller, 0);

  const queueLabelNames: ("name" | "controller")[] = ["name", "controller"];
  const depth = gauge("workqueue_depth", "Current depth of workqueue", queueLabelNames);
  const adds = counter(
    "workqueue_adds_total",
    "Total number of adds handled by workqueue",
    queueLabelNames,
  );
  const retries = counter(
    "workqueue_retries_total",
    "Total number of retries handled by workqueue",
    queueLabelNames,
  );
  depth.set(queueLabels, 0);
  for (const metric of [adds, retries]) metric.inc(queueLabels, 0);
  const queueDuration = histogram(
    "workqueue_queue_duration_seconds",
    "How long in seconds an item stays in workqueue before being requested",
    queueLabelNames,
    QUEUE_BUCKETS,
  );
  const workDuration = histogram(
    "workqueue_work_duration_seconds",
    "How long in seconds processing an item from workqueue takes",
    queueLabelNames,
    QUEUE_BUCKETS,
  );

  const leaderStatus = gauge(
    "leader_election_master_status",
    "Gauge of if the reporting system is master of the relevant lease, 0 indicates backup, 1 indicates master",
    ["name"],
  );
  leaderStatus.set({ name: options.leaseName }, 0);

  const watchRestarts = counter(
    "jobchannel_operator_watch_restarts_total",
    "Watches restarted by the operator's watcher, by watcher and reason (error, expired, silent)",
    ["watcher", "reason"],
  );
  const relists = counter(
    "jobchannel_operator_watch_relists_total",
    "Full relists by the operator's watcher, by watcher and reason (initial, error, expired, silent)",
    ["watcher", "reason"],
  );

  // Per JobChannel, from the status the leader computes; bounded by the number of JobChannels.
  const jobChannelLabelNames: ("namespace" | "jobchannel")[] = ["namespace", "jobchannel"];
  const workersDesired = gauge(
    "jobchannel_operator_workers_desired",
    "Worker replicas a JobChannel's Deployment wants (status.workers.desiredReplicas); set by the leader only",
    jobChannelLabelNames,
  );
  const workersAvailable = gauge(
    "jobchannel_operator_workers_available",
    "Available worker replicas of a JobChannel (status.workers.availableReplicas); set by the leader only",
    jobChannelLabelNames,
  );
  const jobChannelReady = gauge(
    "jobchannel_operator_jobchannel_ready",
    "1 while a JobChannel's Ready condition is True, else 0; set by the leader only",
    jobChannelLabelNames,
  );
  const apiWrites = counter(
    "jobchannel_operator_api_writes_total",
    "Writes the operator made to the Kubernetes API, by resource and verb (apply, delete, create); zero in a steady state",
    ["resource", "verb"],
  );
  const perJobChannel = [workersDesired, workersAvailable, jobChannelReady];
  /** `namespace/name` as labels; JobChannel keys always hold a slash. */
  const jobChannelLabels = (key: string) => {
    const slash = key.indexOf("/");
    return { namespace: key.slice(0, slash), jobchannel: key.slice(slash + 1) };
  };

  return {
    registry,
    queue: {
      depth: (value) => depth.set(queueLabels, value),
      added: () => adds.inc(queueLabels),
      retried: () => retries.inc(queueLabels),
      queued: (seconds) => queueDuration.observe(queueLabels, seconds),
      worked: (seconds) => workDuration.observe(queueLabels, seconds),
    },
    runner: {
      reconciled(outcome, seconds, terminal) {
        reconcileTotal.inc({ ...controller, result: outcome });
        reconcileTime.observe(controller, seconds);
        if (outcome === "error") reconcileErrors.inc(controller);
        if (terminal) terminalErrors.inc(controller);
      },
      active: (delta) => activeWorkers.inc(controller, delta),
    },
    watcher: {
      restarted: (watcher, reason) => watchRestarts.inc({ watcher, reason }),
      relisted: (watcher, reason) => relists.inc({ watcher, reason }),
    },
    statuses: {
      computed(key, status) {
        const labels = jobChannelLabels(key);
        // An invalid spec's status has no worker counts: no series rather than made-up zeros.
        if (status.workers) {
          workersDesired.set(labels, status.workers.desiredReplicas);
          workersAvailable.set(labels, status.workers.availableReplicas);
        } else {
          workersDesired.remove(labels);
          workersAvailable.remove(labels);
        }
        const ready = status.conditions?.find((c) => c.type === ConditionType.Ready);
        jobChannelReady.set(labels, ready?.status === "True" ? 1 : 0);
      },
      forget(key) {
        for (const metric of perJobChannel) metric.remove(jobChannelLabels(key));
      },
    },
    writes: {
      wrote: (resource, verb) => apiWrites.inc({ resource, verb }),
    },
    leader: (isLeader) => leaderStatus.set({ name: options.leaseName }, isLeader ? 1 : 0),
    clearJobChannels() {
      for (const metric of perJobChannel) metric.reset();
    },
  };
}
