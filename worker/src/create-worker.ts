// Assembles a worker from its parts (publisher, queue, runner, router, metrics) for any host process.
import type { JobStore } from "@jobchannel/state";
import type { Router } from "express";
import pino, { type Logger } from "pino";
import type { Registry } from "prom-client";
import { createAuthenticator, type AuthOptions, type Authenticator } from "./auth.ts";
import type { BlobStore } from "./blob-store.ts";
import { MemoryBlobStore } from "./blob-store-memory.ts";
import { RedisBlobStore } from "./blob-store-redis.ts";
import { S3BlobStore } from "./blob-store-s3.ts";
import { BUILT_IN_JOBS } from "./built-in-jobs.ts";
import {
  DEFAULT_BLOB_CHUNK_BYTES,
  DEFAULT_MAX_CONCURRENT_UPLOADS,
  DEFAULT_TUNABLES,
  type BlobStoreSettings,
  type Tunables,
} from "./config.ts";
import { WorkerError, WorkerErrorCode } from "./errors.ts";
import type { AnyJobDefinition } from "./job.ts";
import { createMetrics, type WorkerMetrics } from "./metrics.ts";
import { Publisher } from "./publisher.ts";
import type { JobQueue } from "./queue.ts";
import { BullMQQueue } from "./queue-bullmq.ts";
import { MemoryQueue } from "./queue-memory.ts";
import { openRedis } from "./redis-connection.ts";
import { createJobRouter } from "./router.ts";
import { Runner } from "./runner.ts";

/** Options of {@link createWorker}; every tunable defaults as in {@link DEFAULT_TUNABLES}. */
export interface CreateWorkerOptions extends Partial<Tunables> {
  /** Where job updates are published and job state is kept (RedisJobStore or MemoryJobStore). */
  store: JobStore;
  /** Redis for the durable queue and uploads; unset = the in-process queue (nothing survives a crash). */
  redisUrl?: string | undefined;
  /** The job types to serve. @default BUILT_IN_JOBS */
  jobTypes?: readonly AnyJobDefinition[];
  /** Token settings or a ready authenticator. @default development mode (a `userId` field is trusted) */
  auth?: AuthOptions | Authenticator;
  /** @default pino at level info */
  logger?: Logger;
  /** Where the worker's metrics are registered. @default a new Registry */
  registry?: Registry;
  /** Uploads read at once; more are refused with 503 and Retry-After. @default 16 */
  maxConcurrentUploads?: number;
  /**
   * Where uploads wait for their job: settings, or a ready store (which `close()` leaves open).
   * @default Redis (chunked) with `redisUrl`, else in process
   */
  blobStore?: BlobStoreSettings | BlobStore;
}

/** A worker: mount `router` at `/api`, then `start()`; `close()` drains it. */
export interface JobchannelWorker {
  /** `POST /jobs/<channel>`, `GET /jobs/<channel>/<jobId>`, `POST /<channel>`, `GET /jobs`. */
  readonly router: Router;
  readonly publisher: Publisher;
  readonly metrics: WorkerMetrics;
  readonly runner: Runner;
  readonly queue: JobQueue;
  readonly jobTypes: readonly AnyJobDefinition[];
  /** Starts running queued jobs. */
  start(): Promise<void>;
  /** True while jobs are accepted and the queue is reachable (for /readyz). */
  ready(): Promise<boolean>;
  /** Refuses new jobs, lets running ones finish within `graceMs`, then hands them back. */
  close(graceMs?: number): Promise<void>;
}

function isAuthenticator(auth: AuthOptions | Authenticator): auth is Authenticator {
  return typeof (auth as Authenticator).authenticate === "function";
}

/** Builds a worker. Nothing runs until `start()`. */
export function createWorker(options: CreateWorkerOptions): JobchannelWorker {
  const t: Tunables = { ...DEFAULT_TUNABLES, ...stripUndefined(options) };
  const jobTypes = options.jobTypes ?? BUILT_IN_JOBS;
  const names = jobTypes.map((j) => j.name);
  const duplicate = names.find((n, i) => names.indexOf(n) !== i);
  if (duplicate)
    throw new WorkerError(WorkerErrorCode.InvalidConfig, `job type ${duplicate} is defined twice`);
  if (jobTypes.length === 0)
    throw new WorkerError(WorkerErrorCode.InvalidConfig, "a worker needs at least one job type");
  const logger = options.logger ?? pino({ base: { component: "worker" } });
  const metrics = createMetrics(options.registry);
  const publisher = new Publisher(options.store, {
    history: t.history,
    maxMessageBytes: t.maxMessageBytes,
  });
  const queue: JobQueue = options.redisUrl
    ? new BullMQQueue({
        redisUrl: options.redisUrl,
        types: names,
        concurrency: t.concurrency,
        retryDelayMs: t.retryDelayMs,
        lockDurationMs: t.lockDurationMs,
        stalledIntervalMs: t.stalledIntervalMs,
        maxStalledCount: t.maxStalledCount,
        logger,
      })
    : new MemoryQueue({
        concurrency: t.concurrency,
        retryDelayMs: t.retryDelayMs,
      });
  const blobs = openBlobStore(options.blobStore, options.redisUrl, t, logger);
  const runner = new Runner({
    publisher,
    queue,
    blobs: blobs.store,
    jobTypes,
    logger,
    metrics,
    attempts: t.attempts,
    timeoutMs: t.timeoutMs,
    retryDelayMs: t.retryDelayMs,
  });
  const authenticator =
    options.auth && isAuthenticator(options.auth)
      ? options.auth
      : createAuthenticator(options.auth);
  if (authenticator.development)
    logger.warn(
      "no WORKER_JWT_SECRET or WORKER_JWKS_URL: development mode, the userId field is trusted",
    );
  let accepting = true;
  let started: Promise<void> | undefined;
  const router = createJobRouter({
    runner,
    store: options.store,
    jobTypes,
    authenticator,
    limits: { maxUploadBytes: t.maxUploadBytes, maxJsonBytes: t.maxJsonBytes },
    blobs: blobs.store,
    maxConcurrentUploads: options.maxConcurrentUploads ?? DEFAULT_MAX_CONCURRENT_UPLOADS,
    logger,
    accepting: () => accepting,
  });
  return {
    router,
    publisher,
    metrics,
    runner,
    queue,
    jobTypes,
    start: () => (started ??= runner.start()),
    ready: async () => accepting && started !== undefined && (await queue.isReady()),
    async close(graceMs = t.shutdownGraceMs) {
      accepting = false;
      await started?.catch(() => undefined);
      await queue.close(graceMs);
      if (blobs.owned) await blobs.store.close();
    },
  };
}

function openBlobStore(
  choice: BlobStoreSettings | BlobStore | undefined,
  redisUrl: string | undefined,
  t: Tunables,
  logger: Logger,
): { store: BlobStore; owned: boolean } {
  if (choice && "put" in choice) return { store: choice, owned: false };
  const settings: BlobStoreSettings =
    choice ??
    (redisUrl ? { kind: "redis", chunkBytes: DEFAULT_BLOB_CHUNK_BYTES } : { kind: "memory" });
  const limits = { maxBytes: t.maxUploadBytes };
  switch (settings.kind) {
    case "memory":
      return {
        store: new MemoryBlobStore({ ...limits, ttlSeconds: t.inputTtlSeconds }),
        owned: true,
      };
    case "redis": {
      if (!redisUrl)
        throw new WorkerError(WorkerErrorCode.InvalidConfig, "the redis blob store needs redisUrl");
      // Its own connection: megabyte chunk writes must not queue behind (or ahead of) job commands.
      const redis = openRedis(redisUrl);
      redis.on("error", (e: Error) => logger.warn({ err: e.message }, "blob store redis error"));
      const store = new RedisBlobStore({
        ...limits,
        redis,
        ownsConnection: true,
        chunkBytes: settings.chunkBytes,
        ttlSeconds: t.inputTtlSeconds,
      });
      return { store, owned: true };
    }
    case "s3":
      return { store: new S3BlobStore({ ...limits, ...settings }), owned: true };
  }
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
