// The jobchannel-dev command: the one-process local stack behind `make dev`.
import { loadConfig as loadWorkerConfig } from "@jobchannel/worker";
import pino from "pino";
import { banner } from "./banner.ts";
import { helpText, loadConfig, redactUrl } from "./config.ts";
import { startStack } from "./stack.ts";

/** Runs the stack until SIGINT or SIGTERM; resolves with the exit code. */
export async function main(
  argv: readonly string[] = process.argv.slice(2),
  env: Readonly<Record<string, string | undefined>> = process.env,
): Promise<number> {
  if (argv.includes("--help") || argv.includes("-h")) {
    process.stdout.write(helpText());
    return 0;
  }
  if (argv.length > 0) {
    process.stderr.write(`jobchannel-dev: unknown argument ${argv[0]}; see --help\n`);
    return 2;
  }
  let config: ReturnType<typeof loadConfig>;
  let worker: ReturnType<typeof loadWorkerConfig>;
  try {
    config = loadConfig(env);
    // PORT and REDIS_URL mean the same to the worker's loader; it adds the JOBCHANNEL_* tunables.
    worker = loadWorkerConfig(env);
  } catch (e) {
    process.stderr.write(`jobchannel-dev: ${(e as Error).message}\n`);
    return 2;
  }
  // Synchronous writes keep the log lines and the banner in the order they happened.
  const logger = pino(
    { level: config.logLevel, base: { service: "jobchannel-dev" } },
    pino.destination({ dest: 1, sync: true }),
  );
  // The local stack runs in development mode (no tokens), like the relay beside it.
  const {
    port: _port,
    redisUrl: _redisUrl,
    jobTypes,
    logLevel: _logLevel,
    jwtSecret: _jwtSecret,
    jwksUrl: _jwksUrl,
    jwtIssuer: _jwtIssuer,
    jwtAudience: _jwtAudience,
    ...tunables
  } = worker;
  const stack = await startStack({
    port: config.port,
    host: config.host,
    redisUrl: config.redisUrl,
    dashboardDir: config.dashboardDir,
    jobTypes,
    // The worker's 25 s production grace applies only when asked for; a Ctrl-C should be quick.
    tunables: env.JOBCHANNEL_SHUTDOWN_GRACE_MS ? tunables : { ...tunables, shutdownGraceMs: 3000 },
    logger,
  });
  const backend = config.redisUrl
    ? `Redis at ${redactUrl(config.redisUrl)} for broker, queue and job state`
    : "in-memory broker, queue and job state";
  process.stdout.write(banner(stack.url, backend));

  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: NodeJS.Signals): void => {
      if (stopping) {
        logger.warn({ signal }, "second signal: exiting now");
        resolve(1);
        return;
      }
      stopping = true;
      logger.info({ signal }, "shutdown requested");
      stack.close().then(
        () => resolve(0),
        (e: unknown) => {
          logger.error({ err: (e as Error).message }, "shutdown failed");
          resolve(1);
        },
      );
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
  });
}
