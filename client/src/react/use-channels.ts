// Holds a subscription to channels for as long as a component is mounted, and applies credentials.
import { useEffect, useRef } from "react";
import type { JobChannelClient, TokenProvider } from "../client.ts";

/** Credentials a hook may pass to its client. */
export interface Credentials {
  /** A token for the connection; a new value is sent to an open connection in an `auth` frame. */
  token?: string;
  /** Returns a token; see {@link ClientOptions.getToken}. The latest function passed is used. */
  getToken?: TokenProvider;
}

/** Applies credentials to `client`; call before {@link useSubscription} so they are set before it connects. */
export function useCredentials(client: JobChannelClient, { token, getToken }: Credentials): void {
  const latest = useRef(getToken);
  useEffect(() => {
    latest.current = getToken;
  });
  const hasProvider = getToken !== undefined;
  useEffect(() => {
    if (hasProvider) client.setTokenProvider(() => latest.current?.());
  }, [client, hasProvider]);
  useEffect(() => {
    if (token !== undefined) client.setToken(token);
  }, [client, token]);
}

/** Subscribes `client` to the channels named by `key` (a JSON array) while mounted. */
export function useSubscription(client: JobChannelClient, key: string): void {
  useEffect(() => {
    const names = JSON.parse(key) as string[];
    if (names.length === 0) return;
    const release = client.subscribe(names);
    return () => {
      // Released a moment later, so a re-render with the same channels (or React's development
      // double effect) keeps the subscription and its jobs instead of dropping and re-fetching them.
      setTimeout(release, 0);
    };
  }, [client, key]);
}
