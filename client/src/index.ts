// Public surface of @jobchannel/client: the framework-free client. React hooks live in ./react.
export { backoffDelay, resolveBackoff, type BackoffOptions } from "./backoff.ts";
export {
  JobChannelClient,
  type ChannelInfo,
  type ChannelStatus,
  type ClientEvents,
  type ClientOptions,
  type CloseInfo,
  type ConnectionState,
  type TokenProvider,
  type WebSocketConstructor,
} from "./client.ts";
export { ClientError, ClientErrorCode, ERROR_CODES } from "./errors.ts";
export { JobMap, isNewer, mergeNewestFirst, type JobEntry } from "./job-map.ts";
export { refreshDelay, tokenExpiry } from "./token.ts";
export { DEFAULT_PATH, connectUrl, resolveRelayUrl } from "./url.ts";
export {
  CLOSE_CODES,
  CloseCode,
  ErrorCode,
  JOB_STATUSES,
  channelNameProblem,
  isTerminalStatus,
  isValidChannelName,
  shouldReconnect,
  type JobStatus,
  type JobUpdate,
} from "@jobchannel/protocol";
