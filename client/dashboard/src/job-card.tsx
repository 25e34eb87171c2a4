// One job: title, status, channel, elapsed time, progress bar, and its result or error.
import { memo, useId, useState } from "react";
import type { BaseJob } from "@jobchannel/client/react";
import { formatBytes, formatDuration, summarizeResult } from "./format.ts";
import { ProgressBar } from "./progress-bar.tsx";

/** The fields the built-in job types add to their updates. */
export interface DashboardJob extends BaseJob {
  filename?: string;
  size?: number;
  attempt?: number;
  /** The step a multi-step job (job-updates) is on, and how many it has. */
  step?: string;
  stepsDone?: number;
  steps?: number;
  /** The company being screened (job-updates). */
  company?: string;
  /** Rows read so far (bulk-upload). */
  rowsProcessed?: number;
}

/** When a job started, as far as the dashboard knows. */
export interface JobStart {
  at: number;
  /** False when the job was first seen mid-way (from a snapshot), so the elapsed time is a lower bound. */
  exact: boolean;
}

const STATUS_LABELS = {
  queued: "Queued",
  processing: "Processing",
  completed: "Completed",
  failed: "Failed",
} as const;

function ResultJson({ result }: { result: unknown }) {
  const [open, setOpen] = useState(false);
  return (
    <details className="result-json" onToggle={(e) => setOpen(e.currentTarget.open)}>
      <summary>Full result</summary>
      {open && <pre>{JSON.stringify(result, null, 2)}</pre>}
    </details>
  );
}

export interface JobCardProps {
  job: DashboardJob;
  start: JobStart | undefined;
  /** The current time for active jobs; 0 for finished ones, whose elapsed time no longer changes. */
  now: number;
}

export const JobCard = memo(function JobCard({ job, start, now }: JobCardProps) {
  const titleId = useId();
  const title = job.filename ?? job.company ?? `Job ${job.jobId.slice(0, 8)}`;
  const finished = job.status === "completed" || job.status === "failed";
  const progress = job.progress ?? (job.status === "completed" ? 100 : undefined);
  const summary = job.status === "completed" ? summarizeResult(job.result) : [];

  let elapsed: string;
  if (start) {
    const ms = (finished ? job.timestamp : Math.max(now, job.timestamp)) - start.at;
    elapsed = `${start.exact ? "" : "≥ "}${formatDuration(ms)}`;
  } else {
    elapsed = `Finished ${new Date(job.timestamp).toLocaleTimeString()}`;
  }

  return (
    <li
      className={`job job-${job.status}`}
      data-job-id={job.jobId}
      data-status={job.status}
      data-channel={job.channel}
    >
      <article aria-labelledby={titleId}>
        <div className="job-head">
          <h3 id={titleId} className="job-title">
            {title}
          </h3>
          <span className={`badge badge-${job.status}`}>{STATUS_LABELS[job.status]}</span>
        </div>
        <p className="job-meta">
          <span className="chip">{job.channel}</span>
          <code title={`Job id ${job.jobId}`}>{job.jobId.slice(0, 8)}</code>
          <span className="job-elapsed">{start ? `Elapsed ${elapsed}` : elapsed}</span>
          {job.size !== undefined && <span>{formatBytes(job.size)}</span>}
          {job.attempt !== undefined && job.attempt > 1 && <span>attempt {job.attempt}</span>}
          {!finished && typeof job.step === "string" && (
            <span>
              step {job.stepsDone ?? "?"}/{job.steps ?? "?"}: {job.step}
            </span>
          )}
          {!finished && typeof job.rowsProcessed === "number" && (
            <span>{job.rowsProcessed.toLocaleString("en")} rows read</span>
          )}
        </p>
        <ProgressBar value={progress} status={job.status} label={`Progress of ${title}`} />
        {summary.length > 0 && (
          <dl className="result">
            {summary.map((item) => (
              <div key={item.label}>
                <dt>{item.label}</dt>
                <dd title={item.full} data-result={item.label}>
                  {item.code ? <code>{item.value}</code> : item.value}
                </dd>
              </div>
            ))}
          </dl>
        )}
        {job.status === "failed" && (
          <p className="job-error">
            <strong>Failed:</strong> {job.error ?? "no reason given"}
          </p>
        )}
        {job.status === "completed" && job.result !== undefined && job.result !== null && (
          <ResultJson result={job.result} />
        )}
      </article>
    </li>
  );
});
