// The dashboard: start jobs, choose channels, and watch every job of them live.
import { useMemo, useState } from "react";
import { useWebSocket } from "@jobchannel/client/react";
import { ChannelFilter } from "./channel-filter.tsx";
import { ConnectionStatus } from "./connection-status.tsx";
import { ErrorBoundary } from "./error-boundary.tsx";
import type { DashboardJob } from "./job-card.tsx";
import { JobCounts, JobList } from "./job-list.tsx";
import { StartJobForm } from "./start-job-form.tsx";
import { useJobTypes } from "./use-job-types.ts";

export function App() {
  const { types, error: typesError } = useJobTypes();
  const [extra, setExtra] = useState<readonly string[]>([]);
  const [hidden, setHidden] = useState<ReadonlySet<string>>(new Set());
  const channels = useMemo(
    () => [...new Set([...types.map((t) => t.name), ...extra])],
    [types, extra],
  );
  const { jobs, connectionState, error } = useWebSocket<DashboardJob>({ channels });
  const visible = hidden.size === 0 ? jobs : jobs.filter((j) => !hidden.has(j.channel));

  const toggle = (channel: string) =>
    setHidden((before) => {
      const next = new Set(before);
      if (!next.delete(channel)) next.add(channel);
      return next;
    });

  const stopped = connectionState === "closed" && error?.code === "final_close";

  return (
    <>
      <a className="skip-link" href="#jobs">
        Skip to jobs
      </a>
      <header className="app-header">
        <div>
          <h1>jobchannel</h1>
          <p className="tagline">Background jobs, live</p>
        </div>
        <ConnectionStatus state={connectionState} />
      </header>
      {stopped && (
        <div className="banner" role="alert">
          The relay closed the connection and will not take it back: {error.message}. Reload the
          page to try again.
        </div>
      )}
      <main className="layout">
        <div className="sidebar">
          <section className="panel" aria-labelledby="start-heading">
            <h2 id="start-heading">Start a job</h2>
            <ErrorBoundary what="job form">
              <StartJobForm types={types} />
            </ErrorBoundary>
            {typesError && (
              <p className="hint">
                The worker's job types could not be listed ({typesError}); the built-in ones are
                shown.
              </p>
            )}
          </section>
          <section className="panel" aria-labelledby="channels-heading">
            <h2 id="channels-heading">Channels</h2>
            <ChannelFilter
              channels={channels}
              jobs={jobs}
              hidden={hidden}
              onToggle={toggle}
              onAdd={(channel) => setExtra((before) => [...before, channel])}
            />
          </section>
        </div>
        <section
          id="jobs"
          className="panel jobs-panel"
          aria-labelledby="jobs-heading"
          tabIndex={-1}
        >
          <div className="jobs-head">
            <h2 id="jobs-heading">Jobs</h2>
            <JobCounts jobs={visible} />
          </div>
          <ErrorBoundary what="job list">
            <JobList
              jobs={visible}
              empty={
                jobs.length === 0
                  ? "No jobs yet. Start one with the form, or with curl against /api/jobs/<channel>."
                  : "No jobs on the channels shown."
              }
            />
          </ErrorBoundary>
        </section>
      </main>
    </>
  );
}
