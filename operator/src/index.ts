// Public surface of @jobchannel/operator: the resource types, the pure desired-state functions and the pipeline stages.
export { main } from "./main.ts";
export { parseConfig, DEFAULTS, USAGE, type OperatorConfig } from "./config.ts";
export { ERROR_CODES, OperatorError, OperatorErrorCode, ConfigError } from "./errors.ts";
export {
  API_VERSION,
  ConditionType,
  GROUP,
  KIND,
  PLURAL,
  SPEC_BOUNDS,
  VERSION,
  channelOf,
  type Condition,
  type JobChannel,
  type JobChannelSpec,
  type JobChannelStatus,
  type WorkerSpec,
} from "./jobchannel.ts";
export { parseJobChannel, type ParseResult } from "./validate.ts";
export { resolveChannelOwners, type ChannelClaim } from "./conflicts.ts";
export { mergeConditions, conditionTransitions, type ConditionInput } from "./conditions.ts";
export {
  desiredStatus,
  invalidStatus,
  Reason,
  type DeploymentObservation,
  type StatusInput,
} from "./status.ts";
export {
  DEFAULT_WORKER_RESOURCES,
  desiredDeployment,
  desiredService,
  workerName,
  type WorkerSettings,
} from "./desired-worker.ts";
export {
  RELAY_CONFIG_KEY,
  isRegistered,
  parseRelayConfig,
  relayChannelFor,
  renderRelayConfig,
  type RelayChannel,
} from "./relay-config.ts";
export { TerminalError, type Reconciler, type Request, type Result } from "./reconcile.ts";
export { WorkQueue, type QueueMetrics } from "./queue.ts";
export { RateLimiter, type RateLimiterOptions } from "./rate-limit.ts";
export { Runner, type RunnerMetrics } from "./runner.ts";
export { Store, type StoreChange, type StoreReader } from "./store.ts";
export { Watcher, type ListWatchSource, type WatchSink, type WatcherOptions } from "./watcher.ts";
export { LeaderElector, type LeaseClient, type LeaseRecord } from "./leader-election.ts";
export { Manager } from "./manager.ts";
