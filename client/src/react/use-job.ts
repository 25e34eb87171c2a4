// useJob: one job of one channel, for a detail view or a "your upload" widget.
import { useCallback, useSyncExternalStore } from "react";
import type { BaseJob } from "./base-job.ts";
import { useJobChannelClient, type ClientChoice } from "./context.ts";
import { useCredentials, useSubscription, type Credentials } from "./use-channels.ts";

/** Options of {@link useJob}. */
export type UseJobOptions = ClientChoice & Credentials;

/** The latest state of job `jobId` on `channel`, or undefined until the relay has reported it. */
export function useJob<T extends BaseJob = BaseJob>(
  channel: string,
  jobId: string | undefined,
  options: UseJobOptions = {},
): T | undefined {
  const client = useJobChannelClient(options);
  useCredentials(client, options);
  useSubscription(client, JSON.stringify([channel]));
  const subscribe = useCallback(
    (onChange: () => void) =>
      client.on("jobs", (changed) => {
        if (changed === channel) onChange();
      }),
    [client, channel],
  );
  const getSnapshot = useCallback(
    () =>
      jobId === undefined ? undefined : (client.job(channel, jobId) as unknown as T | undefined),
    [client, channel, jobId],
  );
  return useSyncExternalStore(subscribe, getSnapshot, () => undefined);
}
