// Public surface of @jobchannel/state.
export { ERROR_CODES, StateError, StateErrorCode } from "./errors.ts";
export { DEFAULT_HISTORY, retainedSince, type History } from "./history.ts";
export {
  channelKeys,
  channelOfShardedPubsub,
  pubsubPattern,
  shardedPubsubChannel,
  type ChannelKeys,
} from "./keys.ts";
export { SLOT_COUNT, keySlot } from "./key-slot.ts";
export { MemoryBus, type BusListener } from "./memory-bus.ts";
export { MemoryJobStore } from "./memory-store.ts";
export { RedisJobStore, decodeStates, type RedisJobStoreOptions } from "./redis-store.ts";
export {
  PUBLISH_UPDATE,
  PUBLISH_UPDATE_SHARDED,
  SNAPSHOT,
  type ScriptDefinition,
} from "./scripts.ts";
export {
  RedisTargetError,
  clusterTargetFromNodes,
  createClusterClient,
  createRedisClient,
  isClusterUrl,
  nodeOptions,
  parseRedisTarget,
  type ClusterNode,
  type RedisTarget,
} from "./redis-target.ts";
export {
  prepareUpdate,
  type GuardedPublished,
  type JobStore,
  type PublishGuard,
  type Published,
  type UpdateInput,
} from "./store.ts";
