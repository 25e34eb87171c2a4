// The job shape React components receive: the original guide's message format, which custom job
// types extend (`interface FileUploadJob extends BaseJob { fileName: string }`).
import type { JobStatus, JobUpdate } from "@jobchannel/protocol";

/**
 * A job as the hooks return it: the protocol's job update, with `channel` always set (the relay sets
 * it) and the handler's `result`. Extend it to type a job type's custom fields.
 */
export interface BaseJob extends Omit<JobUpdate<object>, "channel"> {
  /** The channel the job reports on. */
  channel: string;
  /** The handler's return value, on `completed`. */
  result?: unknown;
}

/** True for `queued` and `processing` jobs: those still expected to change. */
export function isActiveJob(job: { status: JobStatus }): boolean {
  return job.status === "queued" || job.status === "processing";
}
