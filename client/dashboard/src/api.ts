// Calls to the worker API (design section 7): the served job types, and starting a job.

/** Where the worker API is mounted on the dashboard's origin (design section 1: `/api/`). */
export const API_BASE = "/api";

/** Whether a job type takes an upload in the multipart field `file`. */
export type UploadPolicy = "required" | "optional" | "none";

/** A job type the worker serves; its name is its channel. */
export interface JobTypeInfo {
  name: string;
  upload: UploadPolicy;
}

/** The built-in job types, shown when the worker cannot be asked. */
export const BUILT_IN_JOB_TYPES: readonly JobTypeInfo[] = [
  { name: "file-upload", upload: "required" },
  { name: "bulk-upload", upload: "optional" },
  { name: "pdf-extraction", upload: "required" },
  { name: "job-updates", upload: "none" },
];

/** A refused or failed API call, with the worker's error code when it sent one. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string | undefined;

  constructor(status: number, message: string, code?: string) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
  }
}

const UPLOAD_POLICIES: readonly string[] = ["required", "optional", "none"];

function isJobTypeInfo(value: unknown): value is JobTypeInfo {
  if (value === null || typeof value !== "object") return false;
  const v = value as Record<string, unknown>;
  return (
    typeof v.name === "string" && typeof v.upload === "string" && UPLOAD_POLICIES.includes(v.upload)
  );
}

async function errorOf(response: Response): Promise<ApiError> {
  let message = `${response.status} ${response.statusText}`.trim();
  let code: string | undefined;
  try {
    const body = (await response.json()) as { error?: { code?: unknown; message?: unknown } };
    if (typeof body.error?.message === "string") message = body.error.message;
    if (typeof body.error?.code === "string") code = body.error.code;
  } catch {
    // Not JSON (a proxy's error page): the status line is all there is to say.
  }
  return new ApiError(response.status, message, code);
}

/** The job types the worker serves (`GET /api/jobs`). */
export async function fetchJobTypes(signal?: AbortSignal): Promise<JobTypeInfo[]> {
  const response = await fetch(`${API_BASE}/jobs`, {
    signal: signal ?? null,
    headers: { accept: "application/json" },
  });
  if (!response.ok) throw await errorOf(response);
  const body = (await response.json()) as { jobTypes?: unknown };
  if (!Array.isArray(body.jobTypes))
    throw new ApiError(response.status, "the worker's job type list is malformed");
  return body.jobTypes.filter(isJobTypeInfo);
}

/** Starts a job (`POST /api/jobs/<channel>`) with a form (upload) or a JSON body; resolves with its id. */
export async function startJob(
  channel: string,
  body: FormData | Record<string, unknown>,
): Promise<string> {
  const init: RequestInit =
    body instanceof FormData
      ? { method: "POST", body }
      : {
          method: "POST",
          body: JSON.stringify(body),
          headers: { "content-type": "application/json" },
        };
  const response = await fetch(`${API_BASE}/jobs/${encodeURIComponent(channel)}`, init);
  if (!response.ok) throw await errorOf(response);
  const answer = (await response.json()) as { jobId?: unknown };
  if (typeof answer.jobId !== "string")
    throw new ApiError(response.status, "the worker answered without a jobId");
  return answer.jobId;
}
