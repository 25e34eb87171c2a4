// Public surface of @jobchannel/client/react: the hooks, the provider and the BaseJob type.
export { isActiveJob, type BaseJob } from "./base-job.ts";
export {
  JobChannelContext,
  JobChannelProvider,
  getSharedClient,
  useJobChannelClient,
  type ClientChoice,
  type JobChannelProviderProps,
} from "./context.ts";
export type { Credentials } from "./use-channels.ts";
export { useJob, type UseJobOptions } from "./use-job.ts";
export {
  useWebSocket,
  type UseWebSocketOptions,
  type UseWebSocketResult,
} from "./use-web-socket.ts";
export type { ConnectionState, JobChannelClient } from "../client.ts";
