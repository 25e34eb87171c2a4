// An accessible progress bar: role=progressbar with its value, range and a spoken text.
import type { JobStatus } from "@jobchannel/client";

export interface ProgressBarProps {
  /** 0-100; undefined for an indeterminate bar. */
  value: number | undefined;
  status: JobStatus;
  /** What the bar measures, e.g. "Progress of report.pdf". */
  label: string;
}

export function ProgressBar({ value, status, label }: ProgressBarProps) {
  const clamped = value === undefined ? undefined : Math.min(100, Math.max(0, value));
  const rounded = clamped === undefined ? undefined : Math.round(clamped);
  return (
    <div
      className={`progress progress-${status}`}
      role="progressbar"
      aria-label={label}
      aria-valuemin={0}
      aria-valuemax={100}
      aria-valuenow={rounded}
      aria-valuetext={rounded === undefined ? status : `${rounded}% (${status})`}
    >
      <div className="progress-fill" style={{ width: `${clamped ?? 0}%` }} />
    </div>
  );
}
