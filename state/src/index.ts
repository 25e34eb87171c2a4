// Public surface of @jobchannel/state.
export { ERROR_CODES, StateError, StateErrorCode } from "./errors.ts";
export { DEFAULT_HISTORY, retainedSince, type History } from "./history.ts";
export { channelKeys, pubsubPattern, type ChannelKeys } from "./keys.ts";
export { MemoryBus, type BusListener } from "./memory-bus.ts";
export { MemoryJobStore } from "./memory-store.ts";
export { RedisJobStore, decodeStates, type RedisJobStoreOptions } from "./redis-store.ts";
export { PUBLISH_UPDATE, SNAPSHOT, type ScriptDefinition } from "./scripts.ts";
export { prepareUpdate, type JobStore, type Published, type UpdateInput } from "./store.ts";
