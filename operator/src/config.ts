// Operator configuration: environment variables (design section 6) and tuning flags, parsed and checked in one place.
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { hostname } from "node:os";
import { parseArgs } from "node:util";
import { isValidChannelName } from "@jobchannel/protocol";
import { ConfigError } from "./errors.ts";

/** Where a pod finds its own namespace. */
const SERVICE_ACCOUNT_NAMESPACE_FILE = "/var/run/secrets/kubernetes.io/serviceaccount/namespace";

const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;

/** Defaults, in one place. */
export const DEFAULTS = {
  relayConfigMap: "jobchannel-relay",
  workerImage: "jobchannel/worker:0.1.0",
  redisSecret: "jobchannel-redis",
  port: 8080,
  logLevel: "info",
  leaseName: "jobchannel-operator",
  leaseDurationSeconds: 15,
  renewDeadlineSeconds: 10,
  retryPeriodSeconds: 2,
  resyncSeconds: 600,
  silenceSeconds: 300,
  workers: 2,
} as const;

/** The operator's settings. */
export interface OperatorConfig {
  /** Namespace of the relay ConfigMap and the leader Lease. */
  readonly namespace: string;
  readonly relayConfigMap: string;
  /** Namespaces to watch; empty = all. */
  readonly watchNamespaces: readonly string[];
  readonly workerImage: string;
  readonly redisSecret: string;
  /**
   * The operator's own Deployment in {@link OperatorConfig.namespace}: the relay ConfigMap's
   * owner, so it is deleted with that Deployment. Unset: the ConfigMap has no owner.
   */
  readonly operatorDeployment?: string;
  readonly leaderElection: boolean;
  readonly port: number;
  readonly logLevel: (typeof LOG_LEVELS)[number];
  readonly leaseName: string;
  readonly leaseDurationSeconds: number;
  readonly renewDeadlineSeconds: number;
  readonly retryPeriodSeconds: number;
  /** Every key is reconciled again this often. */
  readonly resyncSeconds: number;
  /** A watch silent for this long is replaced by a relist. */
  readonly silenceSeconds: number;
  /** Reconciles running at once. */
  readonly workers: number;
  /** This process's name in the Lease and in Events. */
  readonly identity: string;
}

export const USAGE = `Usage: jobchannel-operator [flags]

Reconciles JobChannel resources (jobchannel.io/v1alpha1) into worker Deployments and Services and
the relay's channel ConfigMap.

Environment:
  KUBECONFIG                  kubeconfig to use outside a cluster (in-cluster config otherwise)
  JOBCHANNEL_NAMESPACE        namespace of the relay ConfigMap and the leader Lease
                              (default: the pod's own namespace, else "default")
  JOBCHANNEL_RELAY_CONFIGMAP  name of the relay ConfigMap (default "${DEFAULTS.relayConfigMap}")
  WATCH_NAMESPACES            comma-separated namespaces to watch; empty = all
  JOBCHANNEL_WORKER_IMAGE     the built-in worker image (default "${DEFAULTS.workerImage}")
  JOBCHANNEL_REDIS_SECRET     Secret whose key REDIS_URL workers get (default "${DEFAULTS.redisSecret}")
  JOBCHANNEL_OPERATOR_DEPLOYMENT
                              the operator's own Deployment in JOBCHANNEL_NAMESPACE; the relay
                              ConfigMap is deleted with it (default: unset, no owner)
  LEADER_ELECTION             "true" or "false" (default true)
  PORT                        port of /healthz, /readyz and /metrics (default ${DEFAULTS.port})
  LOG_LEVEL                   ${LOG_LEVELS.join(", ")} (default ${DEFAULTS.logLevel})

Flags:
  --lease-name NAME                 Lease for leader election (default ${DEFAULTS.leaseName})
  --lease-duration-seconds N        how long a Lease holds without renewal (default ${DEFAULTS.leaseDurationSeconds})
  --renew-deadline-seconds N        the leader gives up if it cannot renew for this long (default ${DEFAULTS.renewDeadlineSeconds})
  --retry-period-seconds N          how often candidates try and the leader renews (default ${DEFAULTS.retryPeriodSeconds})
  --resync-seconds N                reconcile every JobChannel at least this often (default ${DEFAULTS.resyncSeconds})
  --silence-seconds N               relist a watch that was silent this long (default ${DEFAULTS.silenceSeconds})
  --workers N                       reconciles at once (default ${DEFAULTS.workers})
  -h, --help                        show this help

Identity: <hostname>_<random hex>, new for every process; logged in "operator started".
`;

function positiveInt(
  name: string,
  raw: string | undefined,
  fallback: number,
  max = 86_400,
): number {
  if (raw === undefined || raw === "") return fallback;
  if (!/^\d+$/.test(raw)) throw new ConfigError(name, `must be a whole number, got "${raw}"`);
  const value = Number(raw);
  if (value < 1 || value > max)
    throw new ConfigError(name, `must be between 1 and ${max}, got ${value}`);
  return value;
}

function dnsName(name: string, raw: string): string {
  if (!isValidChannelName(raw)) throw new ConfigError(name, `must be a DNS label, got "${raw}"`);
  return raw;
}

function dnsSubdomain(name: string, raw: string): string {
  if (!/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/.test(raw)) {
    throw new ConfigError(name, `must be a DNS subdomain name, got "${raw}"`);
  }
  return raw;
}

function ownNamespace(): string | undefined {
  try {
    return readFileSync(SERVICE_ACCOUNT_NAMESPACE_FILE, "utf8").trim() || undefined;
  } catch {
    return undefined;
  }
}

/** The result of parsing the command line: help requested, or the settings. */
export type ParsedCommand =
  { readonly help: true } | { readonly help: false; readonly config: OperatorConfig };

/** Parses flags and environment; throws {@link ConfigError} naming the bad variable or flag. */
export function parseConfig(argv: readonly string[], env: NodeJS.ProcessEnv): ParsedCommand {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        help: { type: "boolean", short: "h" },
        "lease-name": { type: "string" },
        "lease-duration-seconds": { type: "string" },
        "renew-deadline-seconds": { type: "string" },
        "retry-period-seconds": { type: "string" },
        "resync-seconds": { type: "string" },
        "silence-seconds": { type: "string" },
        workers: { type: "string" },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new ConfigError("command line", error instanceof Error ? error.message : String(error));
  }
  if (values.help) return { help: true };

  const namespace = dnsName(
    "JOBCHANNEL_NAMESPACE",
    env.JOBCHANNEL_NAMESPACE || ownNamespace() || "default",
  );
  const watchNamespaces = (env.WATCH_NAMESPACES ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean)
    .map((ns) => dnsName("WATCH_NAMESPACES", ns));
  const leaderRaw = (env.LEADER_ELECTION ?? "true").toLowerCase();
  if (leaderRaw !== "true" && leaderRaw !== "false") {
    throw new ConfigError(
      "LEADER_ELECTION",
      `must be "true" or "false", got "${env.LEADER_ELECTION}"`,
    );
  }
  const logLevel = (env.LOG_LEVEL || DEFAULTS.logLevel) as OperatorConfig["logLevel"];
  if (!LOG_LEVELS.includes(logLevel)) {
    throw new ConfigError(
      "LOG_LEVEL",
      `must be one of ${LOG_LEVELS.join(", ")}, got "${env.LOG_LEVEL}"`,
    );
  }
  const relayConfigMap = dnsSubdomain(
    "JOBCHANNEL_RELAY_CONFIGMAP",
    env.JOBCHANNEL_RELAY_CONFIGMAP || DEFAULTS.relayConfigMap,
  );
  const workerImage = env.JOBCHANNEL_WORKER_IMAGE || DEFAULTS.workerImage;
  if (/\s/.test(workerImage))
    throw new ConfigError("JOBCHANNEL_WORKER_IMAGE", "must not contain spaces");
  const redisSecret = dnsSubdomain(
    "JOBCHANNEL_REDIS_SECRET",
    env.JOBCHANNEL_REDIS_SECRET || DEFAULTS.redisSecret,
  );
  const operatorDeployment = env.JOBCHANNEL_OPERATOR_DEPLOYMENT
    ? dnsSubdomain("JOBCHANNEL_OPERATOR_DEPLOYMENT", env.JOBCHANNEL_OPERATOR_DEPLOYMENT)
    : undefined;
  const leaseName = dnsName("--lease-name", values["lease-name"] ?? DEFAULTS.leaseName);
  const leaseDurationSeconds = positiveInt(
    "--lease-duration-seconds",
    values["lease-duration-seconds"],
    DEFAULTS.leaseDurationSeconds,
    3600,
  );
  const renewDeadlineSeconds = positiveInt(
    "--renew-deadline-seconds",
    values["renew-deadline-seconds"],
    Math.min(DEFAULTS.renewDeadlineSeconds, Math.max(1, leaseDurationSeconds - 1)),
    3600,
  );
  const retryPeriodSeconds = positiveInt(
    "--retry-period-seconds",
    values["retry-period-seconds"],
    Math.min(DEFAULTS.retryPeriodSeconds, renewDeadlineSeconds),
    3600,
  );
  if (renewDeadlineSeconds >= leaseDurationSeconds) {
    throw new ConfigError("--renew-deadline-seconds", "must be less than --lease-duration-seconds");
  }
  if (retryPeriodSeconds > renewDeadlineSeconds) {
    throw new ConfigError("--retry-period-seconds", "must not exceed --renew-deadline-seconds");
  }
  return {
    help: false,
    config: {
      namespace,
      relayConfigMap,
      watchNamespaces: [...new Set(watchNamespaces)],
      workerImage,
      redisSecret,
      ...(operatorDeployment ? { operatorDeployment } : {}),
      leaderElection: leaderRaw === "true",
      port: positiveInt("PORT", env.PORT, DEFAULTS.port, 65_535),
      logLevel,
      leaseName,
      leaseDurationSeconds,
      renewDeadlineSeconds,
      retryPeriodSeconds,
      resyncSeconds: positiveInt(
        "--resync-seconds",
        values["resync-seconds"],
        DEFAULTS.resyncSeconds,
      ),
      silenceSeconds: positiveInt(
        "--silence-seconds",
        values["silence-seconds"],
        DEFAULTS.silenceSeconds,
      ),
      workers: positiveInt("--workers", values.workers, DEFAULTS.workers, 64),
      identity: `${hostname()}_${randomBytes(6).toString("hex")}`,
    },
  };
}
