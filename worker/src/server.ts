// The worker's own HTTP server: /api, /healthz, /readyz, /metrics on PORT, with graceful shutdown.
import { MemoryJobStore, RedisJobStore, type JobStore } from "@jobchannel/state";
import express, { type Express } from "express";
import type { Server } from "node:http";
import type { Duplex } from "node:stream";
import pino, { type Logger } from "pino";
import { Registry, collectDefaultMetrics } from "prom-client";
import { BUILT_IN_JOBS, selectJobTypes } from "./built-in-jobs.ts";
import { helpText, loadConfig, type WorkerConfig } from "./config.ts";
import { createWorker, type JobchannelWorker } from "./create-worker.ts";
import { httpError, WorkerErrorCode } from "./errors.ts";
import type { AnyJobDefinition } from "./job.ts";
import { isClusterRedisUrl, openRedis } from "./redis-connection.ts";

/** Builds the Express app around a worker: `/api` (the job router), `/healthz`, `/readyz`, `/metrics`. */
export function createWorkerApp(worker: JobchannelWorker): Express {
  const app = express();
  app.disable("x-powered-by");
  app.use("/api", worker.router);
  app.get("/healthz", (_req, res) => {
    res.json({ status: "ok" });
  });
  app.get("/readyz", async (_req, res) => {
    const ready = await worker.ready();
    res.status(ready ? 200 : 503).json({ status: ready ? "ready" : "not ready" });
  });
  app.get("/metrics", async (_req, res) => {
    res.type(worker.metrics.registry.contentType).send(await worker.metrics.registry.metrics());
  });
  app.use((_req, res) => {
    res.status(404).json({ error: { code: "bad_request", message: "no such endpoint" } });
  });
  return app;
}

/** Node's statuses for a request its HTTP parser refused, by error code; anything else is 400. */
const CLIENT_ERROR_STATUS: Readonly<Record<string, [number, string]>> = {
  HPE_HEADER_OVERFLOW: [431, "Request Header Fields Too Large"],
  ERR_HTTP_REQUEST_TIMEOUT: [408, "Request Timeout"],
};

/**
 * Answers a request Node's HTTP parser refused (a body cut short of its Content-Length, a
 * malformed request line or header, headers past 16 KiB, the request timeout) with the worker's
 * coded JSON refusal instead of Node's bare status line, then closes the connection.
 */
export function answerClientError(error: Error & { code?: string }, socket: Duplex): void {
  if (error.code === "ECONNRESET" || !socket.writable) {
    socket.destroy();
    return;
  }
  const [status, text] = CLIENT_ERROR_STATUS[error.code ?? ""] ?? [400, "Bad Request"];
  const body = JSON.stringify(
    httpError(
      WorkerErrorCode.BadRequest,
      status,
      `the request could not be read: ${error.message}`,
    ).toJSON(),
  );
  socket.end(
    `HTTP/1.1 ${status} ${text}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

/** Options of {@link runWorkerServer}. */
export interface WorkerServerOptions {
  /** Job types to choose from; JOBCHANNEL_JOB_TYPES selects among them. @default BUILT_IN_JOBS */
  jobTypes?: readonly AnyJobDefinition[];
  /** @default process.env */
  env?: Readonly<Record<string, string | undefined>>;
  /** Command-line arguments (`--help`). @default process.argv.slice(2) */
  argv?: readonly string[];
  /** Exit the process on SIGTERM / SIGINT after draining. @default true */
  handleSignals?: boolean;
}

/** A running worker server. */
export interface RunningWorkerServer {
  readonly port: number;
  readonly worker: JobchannelWorker;
  readonly config: WorkerConfig;
  /** Drains (running jobs finish or are handed back), then closes the server and connections. */
  close(): Promise<void>;
}

function openStore(config: WorkerConfig, logger: Logger): JobStore {
  if (!config.redisUrl) return new MemoryJobStore();
  const redis = openRedis(config.redisUrl);
  redis.on("error", (e: Error) => logger.warn({ err: e.message }, "state redis error"));
  // On a Redis Cluster the publish script SPUBLISHes on the shard that owns the channel.
  return new RedisJobStore(redis, {
    ownsConnection: true,
    sharded: isClusterRedisUrl(config.redisUrl),
  });
}

/**
 * Runs a worker server configured from the environment, as the `jobchannel-worker` command does.
 * Resolves once it listens; resolves `undefined` after printing help for `--help`.
 */
export async function runWorkerServer(
  options: WorkerServerOptions = {},
): Promise<RunningWorkerServer | undefined> {
  const available = options.jobTypes ?? BUILT_IN_JOBS;
  const argv = options.argv ?? process.argv.slice(2);
  if (argv.includes("--help") || argv.includes("-h")) {
    process.stdout.write(helpText(available.map((j) => j.name)));
    return undefined;
  }
  if (argv.length > 0) throw new Error(`unknown argument ${argv[0]}; see --help`);
  const config = loadConfig(options.env);
  const logger = pino({ level: config.logLevel, base: { component: "worker" } });
  const jobTypes = selectJobTypes(config.jobTypes, available);
  const store = openStore(config, logger);
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const worker = createWorker({
    ...config,
    store,
    redisUrl: config.redisUrl,
    jobTypes,
    auth: {
      jwtSecret: config.jwtSecret,
      jwksUrl: config.jwksUrl,
      issuer: config.jwtIssuer,
      audience: config.jwtAudience,
    },
    logger,
    registry,
  });
  const app = createWorkerApp(worker);
  const server: Server = await new Promise((resolve, reject) => {
    const s = app.listen(config.port, (error?: Error) => (error ? reject(error) : resolve(s)));
  });
  // Slow uploads must not hold a socket forever; a whole upload gets this long.
  server.requestTimeout = 10 * 60_000;
  server.on("clientError", answerClientError);
  await worker.start();
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : config.port;
  logger.info(
    {
      port,
      jobTypes: jobTypes.map((j) => j.name),
      queue: config.redisUrl ? "redis" : "memory",
      blobStore: config.blobStore.kind,
    },
    "worker listening",
  );

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> =>
    (closing ??= (async () => {
      logger.info({ graceMs: config.shutdownGraceMs }, "worker draining");
      await worker.close(config.shutdownGraceMs);
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      });
      await store.close();
      logger.info("worker stopped");
    })());
  if (options.handleSignals ?? true) {
    const onSignal = (signal: NodeJS.Signals): void => {
      logger.info({ signal }, "shutdown requested");
      close().then(
        () => process.exit(0),
        (e: unknown) => {
          logger.error({ err: (e as Error).message }, "shutdown failed");
          process.exit(1);
        },
      );
    };
    process.once("SIGTERM", onSignal);
    process.once("SIGINT", onSignal);
  }
  return { port, worker, config, close };
}
