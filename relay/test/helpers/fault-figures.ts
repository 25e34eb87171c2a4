// What subscribers were shown during a fault scenario, as the reliability report counts it:
// final updates that did not reach them and updates shown twice.
import type { Frame, TestClient } from "./client.ts";
import { held } from "./holder.ts";

interface Shown {
  jobId: string;
  seq?: number;
  status: string;
  channel?: string;
}

/** Updates of `channel` a client was shown more than once (same job, seq and status), summed over clients. */
export function duplicatesShown(clients: readonly TestClient[], channel: string): number {
  let duplicates = 0;
  for (const client of clients) {
    const seen = new Set<string>();
    for (const frame of client.frames as Frame[]) {
      const shown =
        frame.type === "subscribed" && frame.channel === channel
          ? (frame.jobs as Shown[])
          : frame.type === "job" && (frame.job as Shown).channel === channel
            ? [frame.job as Shown]
            : [];
      for (const job of shown) {
        if (job.seq === undefined) continue;
        const key = `${job.jobId}:${job.seq}:${job.status}`;
        if (seen.has(key)) duplicates++;
        seen.add(key);
      }
    }
  }
  return duplicates;
}

/** Jobs of `finals` (jobId -> final status) that some client does not hold at that status. */
export function finalsMissed(
  clients: readonly TestClient[],
  channel: string,
  finals: ReadonlyMap<string, string>,
): number {
  let missed = 0;
  for (const [jobId, status] of finals)
    if (clients.some((c) => held(c, channel).get(jobId)?.status !== status)) missed++;
  return missed;
}
