// The connection state of the relay, announced politely to screen readers when it changes.
import type { ConnectionState } from "@jobchannel/client/react";

const LABELS: Record<ConnectionState, string> = {
  connecting: "Connecting…",
  open: "Live",
  reconnecting: "Reconnecting…",
  closed: "Disconnected",
};

export function ConnectionStatus({ state }: { state: ConnectionState }) {
  return (
    <p
      className={`connection connection-${state}`}
      role="status"
      aria-live="polite"
      data-state={state}
    >
      <span className="connection-dot" aria-hidden="true" />
      <span className="visually-hidden">Connection: </span>
      {LABELS[state]}
    </p>
  );
}
