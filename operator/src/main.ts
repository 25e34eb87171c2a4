// The jobchannel-operator command: parse configuration, run the manager, shut down gracefully on SIGTERM/SIGINT, exit on lost leadership.
import { KubeConfig } from "@kubernetes/client-node";
import { parseConfig, USAGE } from "./config.ts";
import { ConfigError, OperatorError, OperatorErrorCode } from "./errors.ts";
import { operatorDeploymentOwner } from "./kube-client.ts";
import { createLogger } from "./logger.ts";
import { Manager } from "./manager.ts";
import { withTimeout } from "./timeout.ts";

/** Longest graceful shutdown; kubelet's default grace period is 30 s. */
const SHUTDOWN_TIMEOUT_MS = 25_000;

/** Exit status after the Lease was lost. */
const LEADERSHIP_LOST_EXIT_CODE = 1;

/** Runs the operator until a signal stops it; resolves with the exit code. */
export async function main(
  argv: readonly string[] = process.argv.slice(2),
  env = process.env,
): Promise<number> {
  let parsed;
  try {
    parsed = parseConfig(argv, env);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`jobchannel-operator: ${error.message}\n\n${USAGE}`);
      return 2;
    }
    throw error;
  }
  if (parsed.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const { config } = parsed;
  const logger = createLogger(config.logLevel);
  const kubeConfig = new KubeConfig();
  try {
    // KUBECONFIG outside a cluster, the pod's service account inside one.
    kubeConfig.loadFromDefault();
    if (!kubeConfig.getCurrentCluster()) throw new Error("no current cluster in the kubeconfig");
  } catch (error) {
    logger.fatal(
      { code: OperatorErrorCode.InvalidConfig, err: String(error) },
      "no usable Kubernetes configuration",
    );
    return 2;
  }
  let owner;
  if (config.operatorDeployment) {
    try {
      owner = await operatorDeploymentOwner(
        kubeConfig,
        config.namespace,
        config.operatorDeployment,
      );
    } catch (error) {
      if (!(error instanceof OperatorError)) throw error;
      logger.fatal({ code: error.code, err: error.message }, "operator deployment unreadable");
      return 1;
    }
  }
  const manager = new Manager(config, kubeConfig, logger, owner, {
    onLeadershipLost: () => {
      // As controller-runtime does: exit before anything else runs, so this process writes nothing
      // more; the Deployment restarts it as a candidate.
      logger.fatal(
        { code: OperatorErrorCode.LeadershipLost, identity: config.identity },
        "leadership lost, exiting",
      );
      process.exit(LEADERSHIP_LOST_EXIT_CODE);
    },
  });
  // Handlers stay installed: a signal sent both to the process group and forwarded by the bin
  // arrives twice, and the second must not kill the process mid-shutdown.
  const stopped = new Promise<NodeJS.Signals>((resolve) => {
    process.on("SIGTERM", () => resolve("SIGTERM"));
    process.on("SIGINT", () => resolve("SIGINT"));
  });
  try {
    await manager.start();
  } catch (error) {
    logger.fatal({ err: String(error) }, "start failed");
    await manager.stop();
    return 1;
  }
  logger.info(
    {
      namespace: config.namespace,
      relayConfigMap: config.relayConfigMap,
      watchNamespaces: config.watchNamespaces.length > 0 ? config.watchNamespaces : "all",
      leaderElection: config.leaderElection,
      relayConfigMapOwner: owner ? `Deployment ${owner.name} ${owner.uid}` : "none",
      port: config.port,
      identity: config.identity,
    },
    "operator started",
  );
  const signal = await stopped;
  logger.info({ signal }, "shutting down");
  try {
    await withTimeout(manager.stop(), SHUTDOWN_TIMEOUT_MS, "shutdown");
  } catch (error) {
    logger.error({ err: String(error) }, "shutdown incomplete");
    return 1;
  }
  logger.info("stopped");
  return 0;
}
