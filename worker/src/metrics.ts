// Prometheus metrics of the worker (design section 8), labelled by channel, never by job or user.
import { Counter, Histogram, Registry } from "prom-client";
import type { JobStatus } from "@jobchannel/protocol";

/** The worker's metrics, registered on one registry. */
export interface WorkerMetrics {
  readonly registry: Registry;
  /** `jobchannel_worker_jobs_total{channel,status}`: jobs that reached each status. */
  readonly jobs: Counter<"channel" | "status">;
  /** `jobchannel_worker_job_duration_seconds{channel,status}`: one attempt, from start to outcome. */
  readonly duration: Histogram<"channel" | "status">;
  /** `jobchannel_worker_job_retries_total{channel}`: failed attempts that were retried. */
  readonly retries: Counter<"channel">;
  countStatus(channel: string, status: JobStatus): void;
}

/** Creates the worker's metrics on `registry` (a new one by default). */
export function createMetrics(registry: Registry = new Registry()): WorkerMetrics {
  const jobs = new Counter({
    name: "jobchannel_worker_jobs_total",
    help: "Jobs that reached each status (queued, processing, completed, failed).",
    labelNames: ["channel", "status"] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: "jobchannel_worker_job_duration_seconds",
    help: "Duration of one job attempt, from its start to completed, failed or retried.",
    labelNames: ["channel", "status"] as const,
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900],
    registers: [registry],
  });
  const retries = new Counter({
    name: "jobchannel_worker_job_retries_total",
    help: "Failed job attempts that were queued again for a retry.",
    labelNames: ["channel"] as const,
    registers: [registry],
  });
  return {
    registry,
    jobs,
    duration,
    retries,
    countStatus: (channel, status) => jobs.inc({ channel, status }),
  };
}
