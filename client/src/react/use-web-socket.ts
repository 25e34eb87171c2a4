// useWebSocket: the original guide's hook, `{ jobs, activeJobs, isConnected }` for a list of channels.
import { useMemo, useSyncExternalStore } from "react";
import type { ConnectionState } from "../client.ts";
import type { ClientError } from "../errors.ts";
import { isActiveJob, type BaseJob } from "./base-job.ts";
import { useJobChannelClient, type ClientChoice } from "./context.ts";
import { useCredentials, useSubscription, type Credentials } from "./use-channels.ts";

/** Options of {@link useWebSocket}. */
export interface UseWebSocketOptions extends ClientChoice, Credentials {
  /** Channels whose jobs the component shows. */
  channels: readonly string[];
}

/** What {@link useWebSocket} returns. */
export interface UseWebSocketResult<T extends BaseJob> {
  /** Every job of the channels, newest first. */
  jobs: T[];
  /** Jobs still `queued` or `processing`, newest first. */
  activeJobs: T[];
  /** True while the connection to the relay is open. */
  isConnected: boolean;
  connectionState: ConnectionState;
  /** The most recent error the client reported (a relay `error` frame, a final close, ...). */
  error: ClientError | undefined;
}

const SERVER_SNAPSHOT: UseWebSocketResult<never> = Object.freeze({
  jobs: [],
  activeJobs: [],
  isConnected: false,
  connectionState: "closed",
  error: undefined,
});

/**
 * Live jobs of `channels`, merged from the relay's snapshot and its live updates.
 *
 * ```tsx
 * const { activeJobs, isConnected } = useWebSocket<FileUploadJob>({ channels: ["file-upload"] });
 * ```
 */
export function useWebSocket<T extends BaseJob = BaseJob>(
  options: UseWebSocketOptions,
): UseWebSocketResult<T> {
  const client = useJobChannelClient(options);
  const key = JSON.stringify([...new Set(options.channels)]);
  useCredentials(client, options);
  useSubscription(client, key);

  const store = useMemo(() => {
    const names = JSON.parse(key) as string[];
    let last:
      | {
          jobs: readonly unknown[];
          state: ConnectionState;
          error: unknown;
          result: UseWebSocketResult<T>;
        }
      | undefined;
    return {
      subscribe(onChange: () => void): () => void {
        const offs = [
          client.on("jobs", (channel) => {
            if (names.includes(channel)) onChange();
          }),
          client.on("state", onChange),
          client.on("error", onChange),
        ];
        return () => {
          for (const off of offs) off();
        };
      },
      getSnapshot(): UseWebSocketResult<T> {
        const jobs = client.jobs(names);
        const state = client.state;
        const error = client.lastError;
        if (last && last.jobs === jobs && last.state === state && last.error === error)
          return last.result;
        // A copy: the client's cached array must not be reordered by a caller's sort().
        const all = [...jobs] as unknown as T[];
        const result: UseWebSocketResult<T> = {
          jobs: all,
          activeJobs: all.filter(isActiveJob),
          isConnected: state === "open",
          connectionState: state,
          error,
        };
        last = { jobs, state, error, result };
        return result;
      },
    };
  }, [client, key]);

  return useSyncExternalStore(
    store.subscribe,
    store.getSnapshot,
    () => SERVER_SNAPSHOT as UseWebSocketResult<T>,
  );
}
