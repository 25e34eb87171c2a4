// Public surface of @jobchannel/relay: the relay factory, its brokers, auth, channel config and metrics.
export {
  ANONYMOUS,
  accessProblem,
  createAuthenticator,
  tokenFromRequest,
  type AuthOptions,
  type AuthResult,
  type Authenticator,
  type Identity,
} from "./auth.ts";
export type { Broker, BrokerListener, BrokerMessageListener } from "./broker.ts";
export { createMemoryBroker } from "./broker-memory.ts";
export { CANARY_CHANNEL, createRedisBroker, type RedisBrokerOptions } from "./broker-redis.ts";
export {
  ChannelPolicy,
  MAX_MESSAGE_BYTES_LIMIT,
  parseChannelConfig,
  validateChannelConfig,
  type Access,
  type ChannelConfig,
  type ChannelSettings,
  type PolicyMode,
  type Visibility,
} from "./channel-config.ts";
export { VARIABLES, helpText, loadEnv, type RelayEnv } from "./config.ts";
export { staticConfigSource, type ChannelConfigSource } from "./config-source.ts";
export {
  CONFIGMAP_KEY,
  configFromConfigMap,
  configMapConfigSource,
  type ConfigMapSourceOptions,
} from "./config-source-configmap.ts";
export { fileConfigSource, type FileConfigSourceOptions } from "./config-source-file.ts";
export type { ConnectionLimits } from "./connection.ts";
export { ERROR_CODES, RelayError, RelayErrorCode } from "./errors.ts";
export {
  FANOUT_LATENCY_BUCKETS,
  MAX_CHANNEL_LABELS,
  RelayMetrics,
  type DropReason,
} from "./metrics.ts";
export {
  DEFAULT_LIMITS,
  MAX_SUBSCRIPTIONS_PER_CONNECTION,
  createRelay,
  type Readiness,
  type Relay,
  type RelayOptions,
} from "./relay.ts";
export { createProbeHandler, startRelayServer, type RelayServerOptions } from "./server.ts";
