// Coded errors of the worker: HTTP request refusals, publisher refusals, configuration and job failures.

/** Every code the worker answers with, publishes in a `failed` update's `errorCode`, or throws. */
export const WorkerErrorCode = {
  BadRequest: "bad_request",
  InvalidJson: "invalid_json",
  InvalidInput: "invalid_input",
  MissingFile: "missing_file",
  UnsupportedMediaType: "unsupported_media_type",
  PayloadTooLarge: "payload_too_large",
  TooManyUploads: "too_many_uploads",
  UploadStoreFailed: "upload_store_failed",
  Unauthorized: "unauthorized",
  Forbidden: "forbidden",
  UnknownJobType: "unknown_job_type",
  JobNotFound: "job_not_found",
  MethodNotAllowed: "method_not_allowed",
  Unavailable: "unavailable",
  InternalError: "internal_error",
  InvalidUpdate: "invalid_update",
  InvalidChannel: "invalid_channel",
  UpdateTooLarge: "update_too_large",
  InvalidConfig: "invalid_config",
  JobTimeout: "job_timeout",
  JobFailed: "job_failed",
  InputLost: "input_lost",
  WorkerLost: "worker_lost",
  ShutDown: "shut_down",
  InfrastructureError: "infrastructure_error",
} as const;

export type WorkerErrorCode = (typeof WorkerErrorCode)[keyof typeof WorkerErrorCode];

/** Every worker error code with what it means; `docs/errors.md` is checked against this table. */
export const ERROR_CODES: readonly {
  readonly code: WorkerErrorCode;
  readonly description: string;
}[] = [
  {
    code: WorkerErrorCode.BadRequest,
    description:
      "HTTP 400: the request is malformed (a broken multipart body, a bad path parameter).",
  },
  {
    code: WorkerErrorCode.InvalidJson,
    description: "HTTP 400: the JSON body is not valid JSON, too deep, or not an object.",
  },
  {
    code: WorkerErrorCode.InvalidInput,
    description:
      "HTTP 400: the job type's input parser refused the body; `field` names the offending value.",
  },
  {
    code: WorkerErrorCode.MissingFile,
    description: "HTTP 400: the job type needs a multipart upload in the field `file`.",
  },
  {
    code: WorkerErrorCode.UnsupportedMediaType,
    description:
      "HTTP 415: the body is neither JSON, multipart/form-data nor application/x-www-form-urlencoded.",
  },
  {
    code: WorkerErrorCode.PayloadTooLarge,
    description:
      "HTTP 413: the upload or JSON body is larger than the configured limit; no job was created.",
  },
  {
    code: WorkerErrorCode.TooManyUploads,
    description:
      "HTTP 503 with Retry-After: this process is already receiving its limit of uploads at once; no job was created.",
  },
  {
    code: WorkerErrorCode.UploadStoreFailed,
    description:
      "HTTP 503: the upload could not be stored in the blob store (Redis or S3); no job was created and no update published.",
  },
  {
    code: WorkerErrorCode.Unauthorized,
    description:
      "HTTP 401: a bearer token is required (WORKER_JWT_SECRET or WORKER_JWKS_URL is set) and is missing, expired or invalid.",
  },
  {
    code: WorkerErrorCode.Forbidden,
    description: "HTTP 403: the token's `channels` claim does not include this channel.",
  },
  {
    code: WorkerErrorCode.UnknownJobType,
    description: "HTTP 404: this worker serves no job type of that name.",
  },
  {
    code: WorkerErrorCode.JobNotFound,
    description:
      "HTTP 404: no retained job of that id on the channel (or it belongs to another user).",
  },
  {
    code: WorkerErrorCode.MethodNotAllowed,
    description:
      "HTTP 405: the path exists but not for this method (jobs are created with POST, read with GET).",
  },
  {
    code: WorkerErrorCode.Unavailable,
    description:
      "HTTP 503: the worker is shutting down or its queue is unreachable; retry on another replica.",
  },
  {
    code: WorkerErrorCode.InternalError,
    description: "HTTP 500: an unexpected error; the worker's log has the details.",
  },
  {
    code: WorkerErrorCode.InvalidUpdate,
    description:
      "Publisher: the update fails the job-update contract (status, progress, jobId, ...); nothing was written.",
  },
  {
    code: WorkerErrorCode.InvalidChannel,
    description: "Publisher: the channel name is not a DNS label; nothing was written.",
  },
  {
    code: WorkerErrorCode.UpdateTooLarge,
    description:
      "Publisher: the encoded update is larger than maxMessageBytes (64 KiB by default); nothing was written.",
  },
  {
    code: WorkerErrorCode.InvalidConfig,
    description:
      "Startup: an environment variable or option has an invalid value; the message names it.",
  },
  {
    code: WorkerErrorCode.JobTimeout,
    description: "`failed` update: the handler ran longer than its timeout on its last attempt.",
  },
  {
    code: WorkerErrorCode.JobFailed,
    description:
      "`failed` update: the handler threw (an UnrecoverableError, or an error on its last attempt); `error` says why.",
  },
  {
    code: WorkerErrorCode.InputLost,
    description:
      "`failed` update: the job's stored input (an upload) expired or vanished before a worker could run it.",
  },
  {
    code: WorkerErrorCode.WorkerLost,
    description:
      "`failed` update: the processes running the job died (stalled) more often than the stall limit allows.",
  },
  {
    code: WorkerErrorCode.ShutDown,
    description:
      "`failed` update: an in-process (no Redis) worker shut down before the job finished; its input could not survive.",
  },
  {
    code: WorkerErrorCode.InfrastructureError,
    description:
      "`failed` update: on the job's last attempt the worker could not read or publish the job's state (Redis unreachable); published once Redis answered again.",
  },
];

/** A coded worker error. `status` is the HTTP status it maps to; `field` names the offending input. */
export class WorkerError extends Error {
  readonly code: WorkerErrorCode;
  readonly status: number;
  readonly field: string | undefined;

  constructor(
    code: WorkerErrorCode,
    message: string,
    options: { status?: number; field?: string; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "WorkerError";
    this.code = code;
    this.status = options.status ?? 500;
    this.field = options.field;
  }

  /** The JSON body of an HTTP error answer. */
  toJSON(): { error: { code: WorkerErrorCode; message: string; field?: string } } {
    return {
      error: {
        code: this.code,
        message: this.message,
        ...(this.field ? { field: this.field } : {}),
      },
    };
  }
}

/**
 * Thrown by a handler to fail its job at once, without retries (a corrupt file, an impossible
 * input). The message becomes the `failed` update's `error`.
 */
export class UnrecoverableError extends Error {
  readonly code: WorkerErrorCode;

  constructor(message: string, code: WorkerErrorCode = WorkerErrorCode.JobFailed) {
    super(message);
    this.name = "UnrecoverableError";
    this.code = code;
  }
}

/** An HTTP refusal with a code and a status. */
export function httpError(
  code: WorkerErrorCode,
  status: number,
  message: string,
  field?: string,
): WorkerError {
  return new WorkerError(code, message, field === undefined ? { status } : { status, field });
}
