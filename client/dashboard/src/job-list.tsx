// The live job list, newest first, with counts and a running clock for active jobs.
import { useRef } from "react";
import { JobCard, type DashboardJob, type JobStart } from "./job-card.tsx";
import { useNow } from "./use-now.ts";

export interface JobListProps {
  jobs: readonly DashboardJob[];
  /** Shown when there is no job to list. */
  empty: string;
}

export function JobList({ jobs, empty }: JobListProps) {
  // The first update seen of each job gives its start; a `queued` one is the real start.
  const starts = useRef(new Map<string, JobStart | null>());
  for (const job of jobs) {
    if (starts.current.has(job.jobId)) continue;
    const finished = job.status === "completed" || job.status === "failed";
    starts.current.set(
      job.jobId,
      finished ? null : { at: job.timestamp, exact: job.status === "queued" },
    );
  }
  const active = jobs.some((j) => j.status === "queued" || j.status === "processing");
  const now = useNow(active);

  if (jobs.length === 0) return <p className="empty">{empty}</p>;
  return (
    <ul className="job-list" aria-label="Jobs, newest first">
      {jobs.map((job) => {
        const finished = job.status === "completed" || job.status === "failed";
        return (
          <JobCard
            key={`${job.channel}/${job.jobId}`}
            job={job}
            start={starts.current.get(job.jobId) ?? undefined}
            now={finished ? 0 : now}
          />
        );
      })}
    </ul>
  );
}

/** Counts of jobs by state, as a short sentence. */
export function JobCounts({ jobs }: { jobs: readonly DashboardJob[] }) {
  const count = (test: (j: DashboardJob) => boolean) => jobs.filter(test).length;
  const active = count((j) => j.status === "queued" || j.status === "processing");
  const completed = count((j) => j.status === "completed");
  const failed = count((j) => j.status === "failed");
  return (
    <p className="counts">
      <span>
        <strong>{active}</strong> active
      </span>
      <span>
        <strong>{completed}</strong> completed
      </span>
      <span>
        <strong>{failed}</strong> failed
      </span>
    </p>
  );
}
