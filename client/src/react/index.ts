// Public surface of @jobchannel/client/react: the hooks, the provider and the BaseJob type.
// The directive marks this entry as client code for React Server Components (Next.js): hooks and
// context cannot run in a server component. tsc keeps it at the top of dist/react/index.js.
"use client";

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
