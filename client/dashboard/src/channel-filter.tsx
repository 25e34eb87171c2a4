// The channels the dashboard watches: show or hide each one's jobs, and watch another by name.
import { useId, useState, type FormEvent } from "react";
import { channelNameProblem } from "@jobchannel/client";
import { useJobChannelClient } from "@jobchannel/client/react";
import type { DashboardJob } from "./job-card.tsx";

export interface ChannelFilterProps {
  channels: readonly string[];
  jobs: readonly DashboardJob[];
  hidden: ReadonlySet<string>;
  onToggle(channel: string): void;
  onAdd(channel: string): void;
}

export function ChannelFilter({ channels, jobs, hidden, onToggle, onAdd }: ChannelFilterProps) {
  const client = useJobChannelClient();
  const [name, setName] = useState("");
  const [problem, setProblem] = useState<string | undefined>();
  const inputId = useId();
  const problemId = useId();

  const add = (event: FormEvent) => {
    event.preventDefault();
    const channel = name.trim();
    const why =
      channelNameProblem(channel) ??
      (channels.includes(channel) ? "is already watched" : undefined);
    setProblem(why && `The channel name ${why}.`);
    if (why) return;
    onAdd(channel);
    setName("");
  };

  return (
    <>
      <fieldset className="channels">
        <legend className="visually-hidden">Show jobs of these channels</legend>
        {channels.map((channel) => {
          const mine = jobs.filter((j) => j.channel === channel);
          const active = mine.filter(
            (j) => j.status === "queued" || j.status === "processing",
          ).length;
          const info = client.channel(channel);
          const refused = info && (info.status === "refused" || info.status === "unsubscribed");
          return (
            <label key={channel} className="channel">
              <input
                type="checkbox"
                checked={!hidden.has(channel)}
                onChange={() => onToggle(channel)}
              />
              <span className="channel-name">{channel}</span>
              <span className="channel-count">
                {mine.length} {mine.length === 1 ? "job" : "jobs"}
                {active > 0 && `, ${active} active`}
              </span>
              {refused && <span className="channel-refused">{info.reason || info.status}</span>}
            </label>
          );
        })}
      </fieldset>
      <form className="add-channel" onSubmit={add} noValidate>
        <label htmlFor={inputId}>Watch another channel</label>
        <div className="inline">
          <input
            id={inputId}
            value={name}
            onChange={(e) => setName(e.target.value)}
            placeholder="your-new-channel"
            autoComplete="off"
            spellCheck={false}
            aria-invalid={problem ? true : undefined}
            aria-describedby={problem ? problemId : undefined}
          />
          <button type="submit">Watch</button>
        </div>
        {problem && (
          <p id={problemId} className="field-error">
            {problem}
          </p>
        )}
      </form>
    </>
  );
}
