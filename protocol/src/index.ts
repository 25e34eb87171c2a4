// Public surface of @jobchannel/protocol: types, validators, codes. Browser-safe: no Node APIs.
export {
  CHANNEL_NAME_PATTERN,
  DEFAULT_REDIS_PREFIX,
  channelFromRedis,
  channelNameProblem,
  isValidChannelName,
  redisChannelFor,
} from "./channel.ts";
export {
  CLOSE_CODES,
  CloseCode,
  FIRST_FINAL_CLOSE_CODE,
  closeCodeInfo,
  shouldReconnect,
  type CloseCodeInfo,
} from "./close-codes.ts";
export { ERROR_CODES, ErrorCode, ProtocolError } from "./errors.ts";
export {
  CLIENT_FRAME_TYPES,
  DEFAULT_MAX_CLIENT_FRAME_BYTES,
  MAX_CHANNELS_PER_FRAME,
  MAX_TOKEN_LENGTH,
  SERVER_FRAME_TYPES,
  errorFrame,
  heartbeatFrame,
  parseClientFrame,
  parseServerFrame,
  validateClientFrame,
  validateServerFrame,
  type AuthFrame,
  type ClientFrame,
  type ErrorFrame,
  type HeartbeatFrame,
  type JobFrame,
  type ServerFrame,
  type SubscribeFrame,
  type SubscribedFrame,
  type UnsubscribeFrame,
  type UnsubscribedFrame,
} from "./frames.ts";
export {
  DEFAULT_HEARTBEAT_INTERVAL_MS,
  HEARTBEAT_TIMEOUT_SLACK_MS,
  MAX_HEARTBEAT_INTERVAL_MS,
  heartbeatIntervalProblem,
  heartbeatTimeoutMs,
} from "./heartbeat.ts";
export {
  JOB_STATUSES,
  MAX_JOB_ID_LENGTH,
  MAX_USER_ID_LENGTH,
  isJobStatus,
  isTerminalStatus,
  parseJobUpdate,
  validateJobUpdate,
  type JobStatus,
  type JobUpdate,
} from "./job-update.ts";
export {
  DEFAULT_MAX_MESSAGE_BYTES,
  MAX_JSON_DEPTH,
  jsonShapeProblem,
  parseJson,
  utf8ByteLength,
  type ParseJsonOptions,
} from "./json.ts";
export type { Err, Ok, Result } from "./result.ts";
