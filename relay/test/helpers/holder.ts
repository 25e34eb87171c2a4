// What a client holds per job after merging `subscribed` and `job` frames the way the protocol
// says a client must: an update whose seq is not greater than the held one is dropped.
import type { Frame, TestClient } from "./client.ts";

/** A held job: its latest state by seq. */
export type HeldJob = Record<string, unknown> & { jobId: string; seq?: number; status: string };

/** The jobs a client holds on `channel` after every frame it received so far. */
export function held(client: TestClient, channel: string): Map<string, HeldJob> {
  const jobs = new Map<string, HeldJob>();
  const apply = (job: HeldJob): void => {
    const before = jobs.get(job.jobId);
    if (before?.seq !== undefined && job.seq !== undefined && job.seq <= before.seq) return;
    jobs.set(job.jobId, job);
  };
  for (const frame of client.frames as Frame[]) {
    if (frame.type === "subscribed" && frame.channel === channel) {
      for (const job of frame.jobs as HeldJob[]) apply(job);
    } else if (frame.type === "job" && (frame.job as HeldJob).channel === channel) {
      apply(frame.job as HeldJob);
    }
  }
  return jobs;
}

/** True when the client holds every job of `expected` at that status. */
export function holdsAll(
  client: TestClient,
  channel: string,
  expected: ReadonlyMap<string, string>,
): boolean {
  const jobs = held(client, channel);
  for (const [jobId, status] of expected) if (jobs.get(jobId)?.status !== status) return false;
  return true;
}
