// Public surface of @jobchannel/testkit.
export { freePort } from "./ports.ts";
export {
  fuzzRuns,
  fuzzSeed,
  percentile,
  RefusalTally,
  reliabilityProfile,
  type ReliabilityProfile,
} from "./fuzz.ts";
export { startProcess, type Started } from "./process.ts";
export { startRedis, type TestRedis } from "./redis.ts";
export {
  startRedisCluster,
  type ClusterNodeInfo,
  type RedisClusterOptions,
  type TestRedisCluster,
} from "./redis-cluster.ts";
export { startSeaweedfs, type SeaweedfsOptions, type TestS3 } from "./seaweedfs.ts";
export { nextEvent, waitFor, type WaitOptions } from "./wait.ts";
export {
  recordFaults,
  recordHostile,
  reliabilityDir,
  type FaultFigures,
  type HostileFigures,
} from "./reliability.ts";
