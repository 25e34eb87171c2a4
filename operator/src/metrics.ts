// Prometheus metrics under controller-runtime's names, so existing controller dashboards work unchanged.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { QueueMetrics } from "./queue.ts";
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
  /** leader_election_master_status: 1 while this process leads. */
  leader(isLeader: boolean): void;
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

  const reconcileTotal = new Counter({
    name: "controller_runtime_reconcile_total",
    help: "Total number of reconciliations per controller",
    labelNames: ["controller", "result"],
    registers,
  });
  for (const result of ["success", "error", "requeue", "requeue_after"]) {
    reconcileTotal.inc({ ...controller, result }, 0);
  }
  const reconcileErrors = new Counter({
    name: "controller_runtime_reconcile_errors_total",
    help: "Total number of reconciliation errors per controller",
    labelNames: ["controller"],
    registers,
  });
  reconcileErrors.inc(controller, 0);
  const terminalErrors = new Counter({
    name: "controller_runtime_terminal_reconcile_errors_total",
    help: "Total number of terminal reconciliation errors per controller",
    labelNames: ["controller"],
    registers,
  });
  terminalErrors.inc(controller, 0);
  const reconcileTime = new Histogram({
    name: "controller_runtime_reconcile_time_seconds",
    help: "Length of time per reconciliation per controller",
    labelNames: ["controller"],
    buckets: RECONCILE_BUCKETS,
    registers,
  });
  const activeWorkers = new Gauge({
    name: "controller_runtime_active_workers",
    help: "Number of currently used workers per controller",
    labelNames: ["controller"],
    registers,
  });
  activeWorkers.set(controller, 0);
  new Gauge({
    name: "controller_runtime_max_concurrent_reconciles",
    help: "Maximum number of concurrent reconciles per controller",
    labelNames: ["controller"],
    registers,
  }).set(controller, options.workers);

  const depth = new Gauge({
    name: "workqueue_depth",
    help: "Current depth of workqueue",
    labelNames: ["name", "controller"],
    registers,
  });
  depth.set(queueLabels, 0);
  const adds = new Counter({
    name: "workqueue_adds_total",
    help: "Total number of adds handled by workqueue",
    labelNames: ["name", "controller"],
    registers,
  });
  adds.inc(queueLabels, 0);
  const retries = new Counter({
    name: "workqueue_retries_total",
    help: "Total number of retries handled by workqueue",
    labelNames: ["name", "controller"],
    registers,
  });
  retries.inc(queueLabels, 0);
  const queueDuration = new Histogram({
    name: "workqueue_queue_duration_seconds",
    help: "How long in seconds an item stays in workqueue before being requested",
    labelNames: ["name", "controller"],
    buckets: QUEUE_BUCKETS,
    registers,
  });
  const workDuration = new Histogram({
    name: "workqueue_work_duration_seconds",
    help: "How long in seconds processing an item from workqueue takes",
    labelNames: ["name", "controller"],
    buckets: QUEUE_BUCKETS,
    registers,
  });

  const leaderStatus = new Gauge({
    name: "leader_election_master_status",
    help: "Gauge of if the reporting system is master of the relevant lease, 0 indicates backup, 1 indicates master",
    labelNames: ["name"],
    registers,
  });
  leaderStatus.set({ name: options.leaseName }, 0);

  const watchRestarts = new Counter({
    name: "jobchannel_operator_watch_restarts_total",
    help: "Watches restarted by the operator's watcher, by watcher and reason (error, expired, silent)",
    labelNames: ["watcher", "reason"],
    registers,
  });
  const relists = new Counter({
    name: "jobchannel_operator_watch_relists_total",
    help: "Full relists by the operator's watcher, by watcher and reason (initial, error, expired, silent)",
    labelNames: ["watcher", "reason"],
    registers,
  });

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
    leader: (isLeader) => leaderStatus.set({ name: options.leaseName }, isLeader ? 1 : 0),
  };
}
