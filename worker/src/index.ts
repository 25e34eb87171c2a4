// Public surface of @jobchannel/worker: the publisher SDK, job definitions, the worker factory and server.
export { createAuthenticator, type AuthOptions, type Authenticator, type Caller } from "./auth.ts";
export { BUILT_IN_JOBS, selectJobTypes } from "./built-in-jobs.ts";
export {
  DEFAULT_TUNABLES,
  ENVIRONMENT,
  helpText,
  loadConfig,
  type Tunables,
  type WorkerConfig,
} from "./config.ts";
export { createWorker, type CreateWorkerOptions, type JobchannelWorker } from "./create-worker.ts";
export { ERROR_CODES, UnrecoverableError, WorkerError, WorkerErrorCode } from "./errors.ts";
export {
  defineJob,
  invalidInput,
  uploadFields,
  type AnyJobDefinition,
  type FileInfo,
  type JobContext,
  type JobDefinition,
  type JobFile,
  type JobRequest,
  type UploadPolicy,
} from "./job.ts";
export { bulkUpload, type BulkUploadResult, type InvalidRow } from "./jobs/bulk-upload.ts";
export { fileUpload, type FileUploadResult } from "./jobs/file-upload.ts";
export {
  jobUpdates,
  type DealRecord,
  type ScreeningResult,
  type WatchListMatch,
} from "./jobs/job-updates.ts";
export { pdfExtraction, type PageText, type PdfExtractionResult } from "./jobs/pdf-extraction.ts";
export { createMetrics, type WorkerMetrics } from "./metrics.ts";
export { Publisher, type PublisherOptions, type UpdateFields } from "./publisher.ts";
export type { Delivery, JobQueue, QueuedJob } from "./queue.ts";
export { createJobRouter, type JobRouterOptions } from "./router.ts";
export { Runner, type RunnerOptions, type Submission } from "./runner.ts";
export {
  createWorkerApp,
  runWorkerServer,
  type RunningWorkerServer,
  type WorkerServerOptions,
} from "./server.ts";
