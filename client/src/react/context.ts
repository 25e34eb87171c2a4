// Which client a hook talks to: an explicit one, the provider's, or one shared per relay URL.
import { createContext, createElement, useContext, type ReactElement, type ReactNode } from "react";
import { JobChannelClient } from "../client.ts";
import { DEFAULT_PATH } from "../url.ts";

const sharedClients = new Map<string, JobChannelClient>();

/**
 * The client shared by every hook that names the same relay URL (default `/ws` on the page's
 * origin), so a page holds one connection however many components subscribe.
 */
export function getSharedClient(url: string = DEFAULT_PATH): JobChannelClient {
  let client = sharedClients.get(url);
  if (!client) sharedClients.set(url, (client = new JobChannelClient({ url })));
  return client;
}

/** The client that hooks below a {@link JobChannelProvider} use. */
export const JobChannelContext = /* @__PURE__ */ createContext<JobChannelClient | undefined>(
  undefined,
);

/** Props of {@link JobChannelProvider}. */
export interface JobChannelProviderProps {
  /** The client to use; without it, the shared client of `url`. */
  client?: JobChannelClient;
  /** The relay endpoint of the shared client. @default "/ws" */
  url?: string;
  children?: ReactNode;
}

/** Makes one client (yours, or the shared one of a URL) the default of the hooks below it. */
export function JobChannelProvider(props: JobChannelProviderProps): ReactElement {
  const client = props.client ?? getSharedClient(props.url);
  return createElement(JobChannelContext.Provider, { value: client }, props.children);
}

/** Options every hook accepts to pick its client. */
export interface ClientChoice {
  /** Use this client. */
  client?: JobChannelClient;
  /** Use the shared client of this relay URL (instead of the provider's). */
  url?: string;
}

/** The client a hook uses: `client`, else the shared one of `url`, else the provider's, else the shared default. */
export function useJobChannelClient(choice: ClientChoice = {}): JobChannelClient {
  const provided = useContext(JobChannelContext);
  if (choice.client) return choice.client;
  if (choice.url !== undefined) return getSharedClient(choice.url);
  return provided ?? getSharedClient();
}
