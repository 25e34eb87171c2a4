// The job shape React components receive: the original guide's message format, which custom job
// types extend (`interface FileUploadJob extends BaseJob { fileName: string }`).
import type { JobStatus } from "@jobchannel/protocol";

/** A job as the hooks return it. Extend it to type a job type's custom fields. */
export interface BaseJob {
  /** Unique job identifier. */
  jobId: string;
  /** The channel the job reports on (set by the relay). */
  channel: string;
  status: JobStatus;
  /** 0-100. */
  progress?: number;
  /** Unix milliseconds of the latest update's publication. */
  timestamp: number;
  /** The job's owner. */
  userId?: string;
  /** Per-job version, strictly increasing. */
  seq?: number;
  /** Why the job failed. */
  error?: string;
  /** The handler's return value, on `completed`. */
  result?: unknown;
}

/** True for `queued` and `processing` jobs: those still expected to change. */
export function isActiveJob(job: Pick<BaseJob, "status">): boolean {
  return job.status === "queued" || job.status === "processing";
}
