// A worker fault scenario's figures for the reliability report, from the updates a Redis
// subscriber (the Recorder) saw of each job: its final update reached subscribers or was lost,
// and any (job, seq) shown twice or any second final update counts as a duplicate.
import type { JobUpdate } from "@jobchannel/protocol";
import { recordFaults } from "@jobchannel/testkit";

const isFinal = (u: JobUpdate): boolean => u.status === "completed" || u.status === "failed";

/** Records `scenario` from the updates of each of its jobs (one array per job). */
export function recordWorkerFaults(
  scenario: string,
  load: string,
  faultsInjected: number,
  jobs: readonly (readonly JobUpdate[])[],
  recoverySeconds: number | null,
): void {
  let duplicates = 0;
  let delivered = 0;
  for (const updates of jobs) {
    const seqs = new Set<number>();
    for (const u of updates) {
      if (u.seq !== undefined && seqs.has(u.seq)) duplicates++;
      if (u.seq !== undefined) seqs.add(u.seq);
    }
    const finals = updates.filter(isFinal).length;
    if (finals > 0) delivered++;
    duplicates += Math.max(0, finals - 1);
  }
  recordFaults({
    scenario: `worker: ${scenario}`,
    load,
    faultsInjected,
    updatesPublished: jobs.reduce((n, u) => n + u.length, 0),
    finalUpdatesDelivered: delivered,
    lost: jobs.length - delivered,
    duplicatesShown: duplicates,
    recoverySeconds,
  });
}
