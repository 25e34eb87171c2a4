// The one-process stack: one HTTP server carrying the dashboard (/), the relay (/ws), the worker
// API (/api/), /healthz, /readyz and /metrics, over one broker, queue and job store.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import {
  createMemoryBroker,
  createRedisBroker,
  createRelay,
  type Broker,
  type Relay,
} from "@jobchannel/relay";
import { MemoryBus, MemoryJobStore, RedisJobStore, type JobStore } from "@jobchannel/state";
import {
  BUILT_IN_JOBS,
  DEFAULT_TUNABLES,
  createWorker,
  selectJobTypes,
  type JobchannelWorker,
  type Tunables,
} from "@jobchannel/worker";
import express, { type NextFunction, type Request, type Response } from "express";
import { Redis } from "ioredis";
import pino, { type Logger } from "pino";
import { Registry, collectDefaultMetrics } from "prom-client";
import { DevError, DevErrorCode } from "./errors.ts";
import { createStaticHandler } from "./static-files.ts";

/** Options of {@link startStack}. */
export interface StackOptions {
  /** 0 picks a free port. @default 8080 */
  port?: number;
  /** @default "127.0.0.1" */
  host?: string;
  /** Redis for broker, queue and store; unset = all in memory. */
  redisUrl?: string | undefined;
  /** The built dashboard's directory. */
  dashboardDir: string;
  /** Built-in job types to serve. @default all */
  jobTypes?: readonly string[] | undefined;
  /** Worker tunables. @default DEFAULT_TUNABLES, with a 3 s shutdown grace */
  tunables?: Partial<Tunables>;
  /** @default pino at level info */
  logger?: Logger;
}

/** A running stack. */
export interface Stack {
  readonly server: Server;
  readonly port: number;
  /** `http://<host>:<port>` as a browser on this machine reaches it. */
  readonly url: string;
  readonly mode: "memory" | "redis";
  readonly relay: Relay;
  readonly worker: JobchannelWorker;
  /** Stops accepting, lets running jobs finish briefly, closes every connection. Idempotent. */
  close(): Promise<void>;
}

/** A Ctrl-C should not wait the production 25 s for running jobs. */
const DEV_SHUTDOWN_GRACE_MS = 3000;

function openBackends(
  redisUrl: string | undefined,
  logger: Logger,
): { store: JobStore; broker: Broker } {
  if (!redisUrl) {
    // One bus: the store publishes into it and the relay's broker listens to it, as Redis would.
    const bus = new MemoryBus();
    return { store: new MemoryJobStore(bus), broker: createMemoryBroker(bus) };
  }
  const redis = new Redis(redisUrl);
  redis.on("error", (e: Error) => logger.warn({ err: e.message }, "state redis error"));
  return {
    store: new RedisJobStore(redis, { ownsConnection: true }),
    broker: createRedisBroker({ url: redisUrl, logger }),
  };
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (e: NodeJS.ErrnoException): void => {
      reject(
        e.code === "EADDRINUSE"
          ? new DevError(
              DevErrorCode.PortInUse,
              `port ${port} on ${host} is in use: stop what runs there, or set PORT`,
              "PORT",
            )
          : e,
      );
    };
    server.once("error", onError);
    server.listen(port, host, () => {
      server.off("error", onError);
      resolve();
    });
  });
}

/** The address a browser on this machine uses for `host`. */
function browserHost(host: string): string {
  if (host === "127.0.0.1" || host === "0.0.0.0" || host === "::" || host === "::1")
    return "localhost";
  return host.includes(":") ? `[${host}]` : host;
}

/** Starts relay, worker and dashboard on one HTTP server. */
export async function startStack(options: StackOptions): Promise<Stack> {
  const logger = options.logger ?? pino({ base: { service: "jobchannel-dev" } });
  const host = options.host ?? "127.0.0.1";
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });

  const { store, broker } = openBackends(options.redisUrl, logger);
  const relay = createRelay({
    broker,
    store,
    logger: logger.child({ component: "relay" }),
    registry,
  });
  const worker = createWorker({
    ...DEFAULT_TUNABLES,
    shutdownGraceMs: DEV_SHUTDOWN_GRACE_MS,
    ...options.tunables,
    store,
    redisUrl: options.redisUrl,
    jobTypes: selectJobTypes(options.jobTypes, BUILT_IN_JOBS),
    logger: logger.child({ component: "worker" }),
    registry,
  });

  const app = express();
  app.disable("x-powered-by");
  app.get("/healthz", (_req, res) => {
    res.json({ status: "ok" });
  });
  app.get("/readyz", async (_req, res) => {
    const ready = relay.ready() && (await worker.ready());
    res
      .status(ready ? 200 : 503)
      .json({ status: ready ? "ready" : "not ready", relay: relay.readiness() });
  });
  app.get("/metrics", async (_req, res) => {
    res.type(registry.contentType).send(await registry.metrics());
  });
  app.use("/api", worker.router);
  app.use(createStaticHandler(options.dashboardDir));
  app.use((req: Request, res: Response) => {
    res.status(404);
    if (req.path.startsWith("/api/"))
      res.json({ error: { code: "bad_request", message: "no such endpoint" } });
    else res.type("text/plain").send("Not found\n");
  });
  app.use((error: unknown, req: Request, res: Response, next: NextFunction) => {
    if (res.headersSent) return next(error);
    logger.error(
      { err: (error as Error).message, method: req.method, path: req.path },
      "request failed",
    );
    res.status(500).json({ error: { code: "internal_error", message: "internal error" } });
  });

  const server = createServer(app);
  // A whole upload may take this long on a slow link.
  server.requestTimeout = 10 * 60_000;
  relay.attach(server, "/ws");
  try {
    await listen(server, options.port ?? 8080, host);
    await worker.start();
  } catch (e) {
    server.close();
    await relay.close().catch(() => undefined);
    await worker.close(0).catch(() => undefined);
    await store.close().catch(() => undefined);
    throw e;
  }
  const port = (server.address() as AddressInfo).port;
  const mode = options.redisUrl ? "redis" : "memory";
  logger.info(
    { port, host, mode, jobTypes: worker.jobTypes.map((j) => j.name) },
    "local stack listening",
  );

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> =>
    (closing ??= (async () => {
      logger.info("local stack stopping");
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // Running jobs publish their last updates while the browsers are still connected.
      await worker.close();
      await relay.close();
      server.closeAllConnections();
      await closed;
      await store.close();
      logger.info("local stack stopped");
    })());

  return { server, port, url: `http://${browserHost(host)}:${port}`, mode, relay, worker, close };
}
