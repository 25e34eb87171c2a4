// Configuration of the local stack from the environment: defaults in one place, typed parsing, and
// errors that name the variable. Worker tunables (JOBCHANNEL_*) are read by the worker's own loader.
import { fileURLToPath } from "node:url";
import { DevError, DevErrorCode } from "./errors.ts";

/** The local stack's configuration. */
export interface DevConfig {
  /** @default 8080 */
  port: number;
  /** Interface to listen on. @default "127.0.0.1" */
  host: string;
  /** Redis for broker, queue and store; undefined = everything in memory. */
  redisUrl: string | undefined;
  /** The built dashboard. @default client/dashboard/dist */
  dashboardDir: string;
  /** @default "info" */
  logLevel: string;
}

/** The built dashboard in the client package, beside this package in the workspace. */
export const DEFAULT_DASHBOARD_DIR = fileURLToPath(
  new URL("../../client/dashboard/dist", import.meta.url),
);

/** Variables the local stack reads, for `--help`. */
export const VARIABLES: readonly { name: string; meaning: string; default: string }[] = [
  {
    name: "PORT",
    meaning: "HTTP port: dashboard at /, relay at /ws, worker API at /api/",
    default: "8080",
  },
  { name: "HOST", meaning: "interface to listen on (0.0.0.0 for every one)", default: "127.0.0.1" },
  {
    name: "REDIS_URL",
    meaning: "Redis for broker, job queue and job state; unset = in memory",
    default: "unset",
  },
  {
    name: "JOBCHANNEL_DASHBOARD_DIR",
    meaning: "directory of the built dashboard",
    default: "client/dashboard/dist",
  },
  { name: "LOG_LEVEL", meaning: "pino log level", default: "info" },
  {
    name: "JOBCHANNEL_*",
    meaning: "worker tunables, as jobchannel-worker --help lists them",
    default: "",
  },
];

const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"];

function urlScheme(url: string): string {
  try {
    return new URL(url).protocol;
  } catch {
    return "";
  }
}

function invalid(variable: string, message: string): DevError {
  return new DevError(DevErrorCode.InvalidConfig, `${variable} ${message}`, variable);
}

/** Reads the configuration; throws a {@link DevError} naming the first bad variable. */
export function loadConfig(
  env: Readonly<Record<string, string | undefined>> = process.env,
): DevConfig {
  const text = (name: string): string | undefined => {
    const value = env[name]?.trim();
    return value === undefined || value === "" ? undefined : value;
  };

  const portText = text("PORT") ?? "8080";
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port > 65535)
    throw invalid("PORT", `must be a port number (0-65535), got "${portText}"`);

  const redisUrl = text("REDIS_URL");
  if (redisUrl !== undefined && !/^rediss?:$/.test(urlScheme(redisUrl))) {
    throw invalid("REDIS_URL", "must be a redis:// or rediss:// URL");
  }

  const logLevel = text("LOG_LEVEL") ?? "info";
  if (!LOG_LEVELS.includes(logLevel))
    throw invalid("LOG_LEVEL", `must be one of ${LOG_LEVELS.join(", ")}`);

  return {
    port,
    host: text("HOST") ?? "127.0.0.1",
    redisUrl,
    dashboardDir: text("JOBCHANNEL_DASHBOARD_DIR") ?? DEFAULT_DASHBOARD_DIR,
    logLevel,
  };
}

/** `--help` text. */
export function helpText(): string {
  const width = Math.max(...VARIABLES.map((v) => v.name.length));
  const rows = VARIABLES.map(
    (v) => `  ${v.name.padEnd(width)}  ${v.meaning}${v.default ? ` (default: ${v.default})` : ""}`,
  );
  return [
    "Usage: jobchannel-dev",
    "",
    "Runs jobchannel in one process: the dashboard at /, the relay at /ws and the worker API at /api/,",
    "with an in-memory broker, queue and store (or Redis with REDIS_URL). Ctrl-C stops it.",
    "",
    "Environment:",
    ...rows,
    "",
  ].join("\n");
}

/** A Redis URL fit to print: its password hidden. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = "***";
    return parsed.toString();
  } catch {
    return "(invalid URL)";
  }
}
