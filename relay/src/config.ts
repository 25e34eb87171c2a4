// The relay's settings from environment variables: typed parsing, defaults in one place, --help text.
import {
  DEFAULT_HEARTBEAT_INTERVAL_MS,
  DEFAULT_MAX_CLIENT_FRAME_BYTES,
  DEFAULT_REDIS_PREFIX,
} from "@jobchannel/protocol";
import { parseRedisTarget, RedisTargetError, type RedisTarget } from "@jobchannel/state";
import { RelayError, RelayErrorCode } from "./errors.ts";

/** Settings of the `jobchannel-relay` command. */
export interface RelayEnv {
  /** HTTP port for /ws, /healthz, /readyz and /metrics. @default 8080 */
  port: number;
  /** Address to listen on; unset = every interface. */
  host: string | undefined;
  /** Redis to subscribe to; unset = in-memory broker (single process only). */
  redisUrl: string | undefined;
  /**
   * Where {@link redisUrl} points: one Redis (pattern subscription) or, for a
   * `redis+cluster://host:port,...` URL, a Redis Cluster (sharded subscriptions per channel).
   */
  redis: RedisTarget | undefined;
  /** Prefix of Redis keys and pub/sub channels. @default "jobchannel:" */
  redisPrefix: string;
  /** Channel config file, reloaded on change. */
  configFile: string | undefined;
  /** `namespace/name` of the ConfigMap holding `channels.json`. */
  configMap: { namespace: string; name: string } | undefined;
  /** HS256 secret. */
  jwtSecret: string | undefined;
  /** JWKS URL for RS256 and ES256 tokens. */
  jwksUrl: string | undefined;
  /** Required `iss`, when set. */
  jwtIssuer: string | undefined;
  /** Required `aud`, when set. */
  jwtAudience: string | undefined;
  /** Origins allowed to open a WebSocket; empty = any. */
  allowedOrigins: string[];
  /** Window over which SIGTERM closes connections. @default 10 */
  drainSeconds: number;
  /** Ping interval; a connection that misses one pong is closed with 4002. @default 30 */
  heartbeatSeconds: number;
  /** Seconds without another frame after which a connection is sent a `heartbeat` frame. @default 25 */
  heartbeatFrameSeconds: number;
  /** Largest client frame, bytes; larger closes with 4413. @default 16384 */
  maxFrameBytes: number;
  /** Bytes waiting in a socket before updates queue in the relay's own buffer. @default 65536 */
  sendBufferBytes: number;
  /** Most bytes a connection may have queued before it is closed with 4000. @default 4194304 */
  sendQueueLimitBytes: number;
  /** Client frames per second allowed per connection. @default 20 */
  rateLimit: number;
  /** Client frames allowed in a burst. @default 40 */
  rateLimitBurst: number;
  /** Most open connections; more are closed with 1013. 0 = no limit. @default 0 */
  maxConnections: number;
  /** Seconds between watchdog canaries. @default 5 */
  watchdogSeconds: number;
  /** Seconds without a canary before the subscription counts as dead. @default 15 */
  watchdogTimeoutSeconds: number;
  /** pino level. @default "info" */
  logLevel: string;
}

interface Variable {
  readonly name: string;
  readonly default?: string;
  readonly description: string;
}

/** Every variable the relay reads, in --help and README order. */
export const VARIABLES: readonly Variable[] = [
  { name: "PORT", default: "8080", description: "HTTP port: /ws, /healthz, /readyz, /metrics" },
  { name: "RELAY_HOST", description: "address to listen on (unset: every interface)" },
  {
    name: "REDIS_URL",
    description:
      "Redis to subscribe to (unset: in-memory broker, single process); redis+cluster://[user:password@]host:port,host:port,... for a Redis Cluster (sharded pub/sub)",
  },
  {
    name: "RELAY_REDIS_PREFIX",
    default: DEFAULT_REDIS_PREFIX,
    description: "prefix of Redis keys and pub/sub channels",
  },
  {
    name: "RELAY_CONFIG_FILE",
    description: "channel config file (channels.json), reloaded on change",
  },
  {
    name: "RELAY_CONFIG_CONFIGMAP",
    description: "namespace/name of the ConfigMap holding channels.json, watched",
  },
  { name: "RELAY_JWT_SECRET", description: "HS256 secret for tokens" },
  { name: "RELAY_JWKS_URL", description: "JWKS URL for RS256 and ES256 tokens" },
  { name: "RELAY_JWT_ISSUER", description: "required token issuer (iss), when set" },
  { name: "RELAY_JWT_AUDIENCE", description: "required token audience (aud), when set" },
  {
    name: "RELAY_ALLOWED_ORIGINS",
    description: "comma list of allowed Origin headers (unset: any)",
  },
  {
    name: "RELAY_DRAIN_SECONDS",
    default: "10",
    description: "window over which SIGTERM closes connections (1001)",
  },
  {
    name: "RELAY_HEARTBEAT_SECONDS",
    default: "30",
    description: "ping interval; a missed pong closes with 4002",
  },
  {
    name: "RELAY_HEARTBEAT_FRAME_SECONDS",
    default: String(DEFAULT_HEARTBEAT_INTERVAL_MS / 1000),
    description: "seconds without another frame before a connection is sent a heartbeat frame",
  },
  {
    name: "RELAY_MAX_FRAME_BYTES",
    default: String(DEFAULT_MAX_CLIENT_FRAME_BYTES),
    description: "largest client frame; larger closes with 4413",
  },
  {
    name: "RELAY_SEND_BUFFER_BYTES",
    default: "65536",
    description: "socket backlog before updates queue (and collapse) in the relay",
  },
  {
    name: "RELAY_SEND_QUEUE_LIMIT_BYTES",
    default: "4194304",
    description: "queued bytes past which a slow client is closed with 4000",
  },
  {
    name: "RELAY_RATE_LIMIT",
    default: "20",
    description: "client frames per second per connection",
  },
  {
    name: "RELAY_RATE_LIMIT_BURST",
    default: "40",
    description: "client frames allowed in a burst",
  },
  {
    name: "RELAY_MAX_CONNECTIONS",
    default: "0",
    description: "most open connections, more close with 1013 (0: no limit)",
  },
  { name: "RELAY_WATCHDOG_SECONDS", default: "5", description: "interval of the Redis canary" },
  {
    name: "RELAY_WATCHDOG_TIMEOUT_SECONDS",
    default: "15",
    description: "canary silence after which the relay resubscribes",
  },
  {
    name: "LOG_LEVEL",
    default: "info",
    description: "pino level: fatal, error, warn, info, debug, trace, silent",
  },
  {
    name: "KUBECONFIG",
    description:
      "kubeconfig for the ConfigMap watch outside a cluster (in-cluster config otherwise)",
  },
];

const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"];

type Env = Readonly<Record<string, string | undefined>>;

function bad(name: string, message: string): RelayError {
  return new RelayError(RelayErrorCode.InvalidEnv, `${name} ${message}`, name);
}

function defaultOf(name: string): string {
  const value = VARIABLES.find((v) => v.name === name)?.default;
  if (value === undefined) throw new Error(`no default for ${name}`);
  return value;
}

function text(env: Env, name: string): string | undefined {
  const value = env[name]?.trim();
  return value ? value : undefined;
}

function number(env: Env, name: string, min: number, max: number, integer = true): number {
  const raw = text(env, name) ?? defaultOf(name);
  const value = Number(raw);
  if (
    !Number.isFinite(value) ||
    (integer && !Number.isInteger(value)) ||
    value < min ||
    value > max
  ) {
    const kind = integer ? "an integer" : "a number";
    throw bad(name, `must be ${kind} from ${min} to ${max}, got "${raw}"`);
  }
  return value;
}

function url(env: Env, name: string, protocols: readonly string[]): string | undefined {
  const raw = text(env, name);
  if (raw === undefined) return undefined;
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    throw bad(name, "must be a URL");
  }
  if (!protocols.includes(parsed.protocol)) {
    throw bad(name, `must be a ${protocols.map((p) => p.slice(0, -1)).join(" or ")} URL`);
  }
  return raw;
}

/** REDIS_URL: a redis:// or rediss:// URL, or a redis+cluster:// (rediss+cluster://) one. */
function redisLocation(env: Env): string | undefined {
  const raw = text(env, "REDIS_URL");
  if (raw === undefined || !/^rediss?\+cluster:\/\//.test(raw)) {
    return url(env, "REDIS_URL", ["redis:", "rediss:"]);
  }
  try {
    parseRedisTarget(raw);
  } catch (e) {
    if (e instanceof RedisTargetError) throw bad("REDIS_URL", e.message);
    throw e;
  }
  return raw;
}

/** Reads the relay's settings; throws a {@link RelayError} naming the first bad variable. */
export function loadEnv(env: Env = process.env): RelayEnv {
  const configMapRaw = text(env, "RELAY_CONFIG_CONFIGMAP");
  let configMap: RelayEnv["configMap"];
  if (configMapRaw !== undefined) {
    const [namespace, name, extra] = configMapRaw.split("/");
    if (!namespace || !name || extra !== undefined) {
      throw bad("RELAY_CONFIG_CONFIGMAP", `must be namespace/name, got "${configMapRaw}"`);
    }
    configMap = { namespace, name };
  }
  const configFile = text(env, "RELAY_CONFIG_FILE");
  if (configFile !== undefined && configMap !== undefined) {
    throw bad("RELAY_CONFIG_FILE", "and RELAY_CONFIG_CONFIGMAP are exclusive: set one");
  }
  const logLevel = text(env, "LOG_LEVEL") ?? defaultOf("LOG_LEVEL");
  if (!LOG_LEVELS.includes(logLevel))
    throw bad("LOG_LEVEL", `must be one of ${LOG_LEVELS.join(", ")}`);
  const allowedOrigins = (text(env, "RELAY_ALLOWED_ORIGINS") ?? "")
    .split(",")
    .map((o) => o.trim())
    .filter((o) => o && o !== "*");
  for (const origin of allowedOrigins) {
    if (!/^https?:\/\/[^/\s]+$/.test(origin)) {
      throw bad(
        "RELAY_ALLOWED_ORIGINS",
        `entries must be origins like https://app.example.com, got "${origin}"`,
      );
    }
  }
  const prefix = text(env, "RELAY_REDIS_PREFIX") ?? defaultOf("RELAY_REDIS_PREFIX");
  if (/[*?[\]\\\s]/.test(prefix))
    throw bad("RELAY_REDIS_PREFIX", "must not contain glob characters or spaces");
  const watchdogSeconds = number(env, "RELAY_WATCHDOG_SECONDS", 0.05, 3600, false);
  const watchdogTimeoutSeconds = number(env, "RELAY_WATCHDOG_TIMEOUT_SECONDS", 0.1, 86400, false);
  if (watchdogTimeoutSeconds <= watchdogSeconds) {
    throw bad("RELAY_WATCHDOG_TIMEOUT_SECONDS", "must be longer than RELAY_WATCHDOG_SECONDS");
  }
  const redisUrl = redisLocation(env);
  const sendBufferBytes = number(env, "RELAY_SEND_BUFFER_BYTES", 1024, 1 << 30);
  const sendQueueLimitBytes = number(env, "RELAY_SEND_QUEUE_LIMIT_BYTES", 1024, 1 << 30);
  return {
    port: number(env, "PORT", 0, 65535),
    host: text(env, "RELAY_HOST"),
    redisUrl,
    redis: redisUrl === undefined ? undefined : parseRedisTarget(redisUrl),
    redisPrefix: prefix,
    configFile,
    configMap,
    jwtSecret: text(env, "RELAY_JWT_SECRET"),
    jwksUrl: url(env, "RELAY_JWKS_URL", ["http:", "https:"]),
    jwtIssuer: text(env, "RELAY_JWT_ISSUER"),
    jwtAudience: text(env, "RELAY_JWT_AUDIENCE"),
    allowedOrigins,
    drainSeconds: number(env, "RELAY_DRAIN_SECONDS", 0, 3600, false),
    heartbeatSeconds: number(env, "RELAY_HEARTBEAT_SECONDS", 0.05, 3600, false),
    heartbeatFrameSeconds: number(env, "RELAY_HEARTBEAT_FRAME_SECONDS", 0.001, 3600, false),
    maxFrameBytes: number(env, "RELAY_MAX_FRAME_BYTES", 256, 1 << 24),
    sendBufferBytes,
    sendQueueLimitBytes,
    rateLimit: number(env, "RELAY_RATE_LIMIT", 0.01, 1e6, false),
    rateLimitBurst: number(env, "RELAY_RATE_LIMIT_BURST", 1, 1e6),
    maxConnections: number(env, "RELAY_MAX_CONNECTIONS", 0, 1e7),
    watchdogSeconds,
    watchdogTimeoutSeconds,
    logLevel,
  };
}

/** The `--help` text. */
export function helpText(): string {
  const width = Math.max(...VARIABLES.map((v) => v.name.length));
  const rows = VARIABLES.map(
    (v) =>
      `  ${v.name.padEnd(width)}  ${v.description}${v.default !== undefined ? ` (default ${v.default})` : ""}`,
  );
  return [
    "Usage: jobchannel-relay [--help]",
    "",
    "The jobchannel WebSocket relay: subscribes to jobchannel:* in Redis and fans job updates out",
    "to the browsers subscribed to each channel. With a redis+cluster:// REDIS_URL it subscribes",
    "instead (SSUBSCRIBE) to the channels its clients watch, each on the shard that owns it.",
    "Configured by environment variables:",
    "",
    ...rows,
    "",
    "Endpoints: /ws (WebSocket), /healthz, /readyz, /metrics.",
    "With neither a channel config nor a JWT secret or JWKS the relay runs in open development mode.",
    "",
  ].join("\n");
}
