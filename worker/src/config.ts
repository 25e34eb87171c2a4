// Worker configuration: defaults in one place, and typed parsing of the environment.
import {
  DEFAULT_HISTORY,
  isClusterUrl,
  parseRedisTarget,
  RedisTargetError,
  type History,
} from "@jobchannel/state";
import { WorkerError, WorkerErrorCode } from "./errors.ts";

/** Tunables of the runner, the queue and the HTTP API, with their defaults. */
export interface Tunables {
  /** Jobs run at once by this process. @default 4 */
  concurrency: number;
  /** Tries per job before it fails (a handler error or a timeout uses one). @default 3 */
  attempts: number;
  /** Delay before the first retry; it doubles with each further one. @default 1000 */
  retryDelayMs: number;
  /** Longest one attempt may run; its signal aborts then. @default 600000 */
  timeoutMs: number;
  /** How long a running job's lock lives without renewal (Redis queue only). @default 30000 */
  lockDurationMs: number;
  /** How often the stalled-job check runs (Redis queue only). @default 30000 */
  stalledIntervalMs: number;
  /** How often a job may stall (its process died) and be restarted before it fails. @default 1 */
  maxStalledCount: number;
  /** Largest accepted upload in the multipart field `file`, in bytes. @default 26214400 */
  maxUploadBytes: number;
  /** Largest accepted JSON or form body, in bytes. @default 1048576 */
  maxJsonBytes: number;
  /** How long an upload is kept in Redis for its job (and retries), in seconds. @default 86400 */
  inputTtlSeconds: number;
  /** How long a shutdown waits for running jobs before it hands them back. @default 25000 */
  shutdownGraceMs: number;
  /** Largest published update, in bytes (design section 2). @default 65536 */
  maxMessageBytes: number;
  /** Retention of job state for snapshots. @default {maxJobs: 1000, ttlSeconds: 86400} */
  history: History;
}

export const DEFAULT_TUNABLES: Readonly<Tunables> = Object.freeze({
  concurrency: 4,
  attempts: 3,
  retryDelayMs: 1000,
  timeoutMs: 600_000,
  lockDurationMs: 30_000,
  stalledIntervalMs: 30_000,
  maxStalledCount: 1,
  maxUploadBytes: 25 * 1024 * 1024,
  maxJsonBytes: 1024 * 1024,
  inputTtlSeconds: 86_400,
  shutdownGraceMs: 25_000,
  maxMessageBytes: 65_536,
  history: { ...DEFAULT_HISTORY },
});

// Uploads: how many are read at once and which blob store holds them until their job is final.

/** Largest accepted JOBCHANNEL_MAX_UPLOAD_BYTES: blobs are chunked (Redis) or multipart (S3), so Redis's 512 MB value limit no longer applies. */
export const MAX_UPLOAD_BYTES_CAP = 64 * 1024 ** 3;

/** Which blob store holds uploads until their job is final, with its settings. */
export type BlobStoreSettings =
  | { readonly kind: "memory" }
  | {
      readonly kind: "redis";
      /** Bytes per chunk key. @default 1048576 */
      readonly chunkBytes: number;
    }
  | {
      readonly kind: "s3";
      readonly bucket: string;
      /** An S3-compatible server's URL; `undefined` = AWS. */
      readonly endpoint: string | undefined;
      /** @default "us-east-1" */
      readonly region: string;
      /** @default "jobchannel/uploads/" */
      readonly prefix: string;
      /** @default false */
      readonly forcePathStyle: boolean;
      /** Multipart part size. @default 5242880 */
      readonly partBytes: number;
    };

/** Upload settings of the `jobchannel-worker` command. */
export interface UploadSettings {
  /** Uploads this process reads at once; more are refused (503, Retry-After) unread. @default 16 */
  maxConcurrentUploads: number;
  /** @default redis with REDIS_URL, else memory */
  blobStore: BlobStoreSettings;
}

export const DEFAULT_MAX_CONCURRENT_UPLOADS = 16;
export const DEFAULT_BLOB_CHUNK_BYTES = 1024 * 1024;
const MIN_S3_PART_BYTES = 5 * 1024 * 1024;

const UPLOAD_ENVIRONMENT: readonly { name: string; meaning: string; default: string }[] = [
  {
    name: "JOBCHANNEL_MAX_CONCURRENT_UPLOADS",
    meaning: "uploads read at once per process; more get 503 with Retry-After",
    default: String(DEFAULT_MAX_CONCURRENT_UPLOADS),
  },
  {
    name: "JOBCHANNEL_BLOB_STORE",
    meaning: "where uploads wait for their job: redis, s3 or memory",
    default: "redis with REDIS_URL, else memory",
  },
  {
    name: "JOBCHANNEL_BLOB_CHUNK_BYTES",
    meaning: "bytes per Redis chunk key of an upload",
    default: String(DEFAULT_BLOB_CHUNK_BYTES),
  },
  { name: "JOBCHANNEL_S3_BUCKET", meaning: "bucket of the s3 blob store", default: "unset" },
  {
    name: "JOBCHANNEL_S3_ENDPOINT",
    meaning: "S3-compatible server URL (unset = AWS); credentials come from AWS_* variables",
    default: "unset",
  },
  {
    name: "JOBCHANNEL_S3_REGION",
    meaning: "the bucket's region",
    default: "AWS_REGION or us-east-1",
  },
  {
    name: "JOBCHANNEL_S3_PREFIX",
    meaning: "key prefix of uploads in the bucket",
    default: "jobchannel/uploads/",
  },
  {
    name: "JOBCHANNEL_S3_FORCE_PATH_STYLE",
    meaning: "true: address the bucket as <endpoint>/<bucket> (most S3-compatible servers)",
    default: "false",
  },
  {
    name: "JOBCHANNEL_S3_PART_BYTES",
    meaning: "multipart part size; an upload holds two parts in memory",
    default: String(MIN_S3_PART_BYTES),
  },
];

function flag(env: Env, name: string, fallback: boolean): boolean {
  const value = text(env, name)?.toLowerCase();
  if (value === undefined) return fallback;
  if (value === "true" || value === "1") return true;
  if (value === "false" || value === "0") return false;
  throw invalid(name, value, "true or false");
}

/** The upload settings from the environment; `redisUrl` decides the default blob store. */
export function loadUploadSettings(env: Env, redisUrl: string | undefined): UploadSettings {
  const kind = text(env, "JOBCHANNEL_BLOB_STORE") ?? (redisUrl ? "redis" : "memory");
  const maxConcurrentUploads = integer(
    env,
    "JOBCHANNEL_MAX_CONCURRENT_UPLOADS",
    DEFAULT_MAX_CONCURRENT_UPLOADS,
    1,
    10_000,
  );
  if (kind === "memory") {
    // Another process may run the job: an upload in this one's memory would be lost to it.
    if (redisUrl) throw invalid("JOBCHANNEL_BLOB_STORE", kind, "redis or s3 when REDIS_URL is set");
    return { maxConcurrentUploads, blobStore: { kind } };
  }
  if (kind === "redis") {
    if (!redisUrl) throw invalid("JOBCHANNEL_BLOB_STORE", kind, "memory or s3 without REDIS_URL");
    const chunkBytes = integer(
      env,
      "JOBCHANNEL_BLOB_CHUNK_BYTES",
      DEFAULT_BLOB_CHUNK_BYTES,
      4096,
      64 * 1024 * 1024,
    );
    return { maxConcurrentUploads, blobStore: { kind, chunkBytes } };
  }
  if (kind !== "s3") throw invalid("JOBCHANNEL_BLOB_STORE", kind, "redis, s3 or memory");
  const bucket = text(env, "JOBCHANNEL_S3_BUCKET");
  if (!bucket)
    throw invalid("JOBCHANNEL_S3_BUCKET", "", "a bucket name with JOBCHANNEL_BLOB_STORE=s3");
  return {
    maxConcurrentUploads,
    blobStore: {
      kind,
      bucket,
      endpoint: url(env, "JOBCHANNEL_S3_ENDPOINT", ["http:", "https:"]),
      region: text(env, "JOBCHANNEL_S3_REGION") ?? text(env, "AWS_REGION") ?? "us-east-1",
      prefix: text(env, "JOBCHANNEL_S3_PREFIX") ?? "jobchannel/uploads/",
      forcePathStyle: flag(env, "JOBCHANNEL_S3_FORCE_PATH_STYLE", false),
      partBytes: integer(
        env,
        "JOBCHANNEL_S3_PART_BYTES",
        MIN_S3_PART_BYTES,
        MIN_S3_PART_BYTES,
        5 * 1024 ** 3,
      ),
    },
  };
}

/** The whole configuration of the `jobchannel-worker` command. */
export interface WorkerConfig extends Tunables, UploadSettings {
  port: number;
  redisUrl: string | undefined;
  /** Built-in job types to serve; `undefined` = all. */
  jobTypes: string[] | undefined;
  jwtSecret: string | undefined;
  jwksUrl: string | undefined;
  jwtIssuer: string | undefined;
  jwtAudience: string | undefined;
  logLevel: string;
}

/** One row of the `--help` table: variable, meaning, default. */
export const ENVIRONMENT: readonly { name: string; meaning: string; default: string }[] = [
  { name: "PORT", meaning: "HTTP port for /api, /healthz, /readyz, /metrics", default: "8080" },
  {
    name: "REDIS_URL",
    meaning:
      "Redis for the job queue, uploads and job state; unset = in-process queue and broker; redis+cluster://[user:password@]host:port,host:port,... for a Redis Cluster (updates go out with SPUBLISH on the channel's shard)",
    default: "unset",
  },
  {
    name: "JOBCHANNEL_JOB_TYPES",
    meaning: "comma list of built-in job types to serve",
    default: "all",
  },
  { name: "WORKER_JWT_SECRET", meaning: "HS256 secret verifying bearer tokens", default: "unset" },
  {
    name: "WORKER_JWKS_URL",
    meaning: "JWKS URL verifying RS256/ES256 bearer tokens",
    default: "unset",
  },
  {
    name: "WORKER_JWT_ISSUER",
    meaning: "required `iss` of tokens, checked when set",
    default: "unset",
  },
  {
    name: "WORKER_JWT_AUDIENCE",
    meaning: "required `aud` of tokens, checked when set",
    default: "unset",
  },
  {
    name: "JOBCHANNEL_HISTORY_MAX_JOBS",
    meaning: "most jobs kept per channel for snapshots (0 = unbounded)",
    default: "1000",
  },
  {
    name: "JOBCHANNEL_HISTORY_TTL_SECONDS",
    meaning: "seconds a job is kept after its last update (0 = forever)",
    default: "86400",
  },
  { name: "JOBCHANNEL_CONCURRENCY", meaning: "jobs run at once per process", default: "4" },
  { name: "JOBCHANNEL_JOB_ATTEMPTS", meaning: "tries per job before it fails", default: "3" },
  {
    name: "JOBCHANNEL_RETRY_DELAY_MS",
    meaning: "first retry delay, doubled each retry",
    default: "1000",
  },
  { name: "JOBCHANNEL_JOB_TIMEOUT_MS", meaning: "longest one attempt may run", default: "600000" },
  {
    name: "JOBCHANNEL_LOCK_DURATION_MS",
    meaning: "job lock lifetime; a dead process's job stalls after it",
    default: "30000",
  },
  {
    name: "JOBCHANNEL_STALLED_INTERVAL_MS",
    meaning: "how often stalled jobs are looked for",
    default: "30000",
  },
  {
    name: "JOBCHANNEL_MAX_STALLED_COUNT",
    meaning: "restarts after a dead process before the job fails",
    default: "1",
  },
  {
    name: "JOBCHANNEL_MAX_UPLOAD_BYTES",
    meaning: "largest upload in the field `file`",
    default: "26214400",
  },
  { name: "JOBCHANNEL_MAX_JSON_BYTES", meaning: "largest JSON or form body", default: "1048576" },
  {
    name: "JOBCHANNEL_INPUT_TTL_SECONDS",
    meaning: "how long uploads are kept in Redis for their job",
    default: "86400",
  },
  {
    name: "JOBCHANNEL_SHUTDOWN_GRACE_MS",
    meaning: "SIGTERM: wait this long for running jobs, then hand them back",
    default: "25000",
  },
  { name: "LOG_LEVEL", meaning: "pino level", default: "info" },
  ...UPLOAD_ENVIRONMENT,
];

type Env = Readonly<Record<string, string | undefined>>;

function invalid(name: string, value: string, expected: string): WorkerError {
  return new WorkerError(
    WorkerErrorCode.InvalidConfig,
    `${name}=${JSON.stringify(value)} is invalid: expected ${expected}`,
    {
      field: name,
    },
  );
}

function text(env: Env, name: string): string | undefined {
  const value = env[name]?.trim();
  return value ? value : undefined;
}

function integer(
  env: Env,
  name: string,
  fallback: number,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): number {
  const value = text(env, name);
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value)) throw invalid(name, value, `an integer from ${min} to ${max}`);
  const n = Number(value);
  if (n < min || n > max) throw invalid(name, value, `an integer from ${min} to ${max}`);
  return n;
}

function url(env: Env, name: string, protocols: readonly string[]): string | undefined {
  const value = text(env, name);
  if (value === undefined) return undefined;
  if (name === "REDIS_URL" && isClusterUrl(value)) return clusterRedisUrl(value);
  let parsed: URL;
  try {
    parsed = new URL(value);
  } catch {
    throw invalid(
      name,
      name === "REDIS_URL" ? "<redacted>" : value,
      `a URL (${protocols.join(", ")})`,
    );
  }
  if (!protocols.includes(parsed.protocol)) {
    throw invalid(name, `${parsed.protocol}//...`, `a URL with scheme ${protocols.join(" or ")}`);
  }
  return value;
}

const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"];

/** Reads the configuration from the environment; throws a {@link WorkerError} naming a bad variable. */
export function loadConfig(env: Env = process.env): WorkerConfig {
  const d = DEFAULT_TUNABLES;
  const types = text(env, "JOBCHANNEL_JOB_TYPES");
  const logLevel = text(env, "LOG_LEVEL") ?? "info";
  if (!LOG_LEVELS.includes(logLevel))
    throw invalid("LOG_LEVEL", logLevel, `one of ${LOG_LEVELS.join(", ")}`);
  const lockDurationMs = integer(env, "JOBCHANNEL_LOCK_DURATION_MS", d.lockDurationMs, 100);
  return {
    port: integer(env, "PORT", 8080, 0, 65535),
    redisUrl: url(env, "REDIS_URL", ["redis:", "rediss:"]),
    jobTypes:
      types === undefined
        ? undefined
        : [
            ...new Set(
              types
                .split(",")
                .map((t) => t.trim())
                .filter(Boolean),
            ),
          ],
    jwtSecret: text(env, "WORKER_JWT_SECRET"),
    jwksUrl: url(env, "WORKER_JWKS_URL", ["http:", "https:"]),
    jwtIssuer: text(env, "WORKER_JWT_ISSUER"),
    jwtAudience: text(env, "WORKER_JWT_AUDIENCE"),
    logLevel,
    concurrency: integer(env, "JOBCHANNEL_CONCURRENCY", d.concurrency, 1, 1000),
    attempts: integer(env, "JOBCHANNEL_JOB_ATTEMPTS", d.attempts, 1, 100),
    retryDelayMs: integer(env, "JOBCHANNEL_RETRY_DELAY_MS", d.retryDelayMs, 0),
    timeoutMs: integer(env, "JOBCHANNEL_JOB_TIMEOUT_MS", d.timeoutMs, 1),
    lockDurationMs,
    stalledIntervalMs: integer(env, "JOBCHANNEL_STALLED_INTERVAL_MS", d.stalledIntervalMs, 100),
    maxStalledCount: integer(env, "JOBCHANNEL_MAX_STALLED_COUNT", d.maxStalledCount, 0, 100),
    maxUploadBytes: integer(
      env,
      "JOBCHANNEL_MAX_UPLOAD_BYTES",
      d.maxUploadBytes,
      1,
      MAX_UPLOAD_BYTES_CAP,
    ),
    maxJsonBytes: integer(env, "JOBCHANNEL_MAX_JSON_BYTES", d.maxJsonBytes, 2, 64 * 1024 * 1024),
    inputTtlSeconds: integer(env, "JOBCHANNEL_INPUT_TTL_SECONDS", d.inputTtlSeconds, 1),
    shutdownGraceMs: integer(env, "JOBCHANNEL_SHUTDOWN_GRACE_MS", d.shutdownGraceMs, 0),
    maxMessageBytes: d.maxMessageBytes,
    history: {
      maxJobs: integer(env, "JOBCHANNEL_HISTORY_MAX_JOBS", d.history.maxJobs, 0),
      ttlSeconds: integer(env, "JOBCHANNEL_HISTORY_TTL_SECONDS", d.history.ttlSeconds, 0),
    },
    ...loadUploadSettings(env, url(env, "REDIS_URL", ["redis:", "rediss:"])),
  };
}

// ---- Redis Cluster (redis+cluster:// in REDIS_URL) ----

/** Checks a redis+cluster:// REDIS_URL; the error names the variable, never the password. */
function clusterRedisUrl(value: string): string {
  try {
    parseRedisTarget(value);
  } catch (e) {
    if (!(e instanceof RedisTargetError)) throw e;
    throw invalid("REDIS_URL", "<redacted>", `a redis+cluster:// URL: ${e.message}`);
  }
  return value;
}

/** The `--help` text of `jobchannel-worker`. */
export function helpText(jobTypes: readonly string[]): string {
  const width = Math.max(...ENVIRONMENT.map((e) => e.name.length));
  const rows = ENVIRONMENT.map(
    (e) => `  ${e.name.padEnd(width)}  ${e.meaning} (default: ${e.default})`,
  );
  return [
    "Usage: jobchannel-worker [--help]",
    "",
    "Runs jobchannel job types: accepts jobs over HTTP (POST /api/jobs/<channel>), runs them with",
    "retries and crash recovery, and publishes their progress to Redis for the relay.",
    "",
    `Built-in job types: ${jobTypes.join(", ")}`,
    "",
    "Environment:",
    ...rows,
    "",
  ].join("\n");
}
