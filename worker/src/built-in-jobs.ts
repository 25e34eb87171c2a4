// The built-in job types the jobchannel-worker image serves, by name.
import type { AnyJobDefinition } from "./job.ts";
import { bulkUpload } from "./jobs/bulk-upload.ts";
import { fileUpload } from "./jobs/file-upload.ts";
import { jobUpdates } from "./jobs/job-updates.ts";
import { pdfExtraction } from "./jobs/pdf-extraction.ts";
import { WorkerError, WorkerErrorCode } from "./errors.ts";

/** file-upload, bulk-upload, pdf-extraction and job-updates. */
export const BUILT_IN_JOBS: readonly AnyJobDefinition[] = Object.freeze([
  fileUpload,
  bulkUpload,
  pdfExtraction,
  jobUpdates,
]);

/** The built-in job types named in `names` (JOBCHANNEL_JOB_TYPES); all when `undefined`. */
export function selectJobTypes(
  names: readonly string[] | undefined,
  from: readonly AnyJobDefinition[] = BUILT_IN_JOBS,
): AnyJobDefinition[] {
  if (names === undefined) return [...from];
  const known = new Map(from.map((j) => [j.name, j]));
  const unknown = names.filter((n) => !known.has(n));
  if (unknown.length > 0) {
    throw new WorkerError(
      WorkerErrorCode.InvalidConfig,
      `JOBCHANNEL_JOB_TYPES names unknown job type(s) ${unknown.join(", ")}; known: ${[...known.keys()].join(", ")}`,
      { field: "JOBCHANNEL_JOB_TYPES" },
    );
  }
  if (names.length === 0)
    throw new WorkerError(WorkerErrorCode.InvalidConfig, "JOBCHANNEL_JOB_TYPES names no job type", {
      field: "JOBCHANNEL_JOB_TYPES",
    });
  return names.map((n) => known.get(n)!);
}
