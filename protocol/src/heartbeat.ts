// Application-level liveness (design section 4): the heartbeat interval's bounds and the silence
// after which a client counts its connection as dead. Browsers never see WebSocket pings.

/**
 * Interval a relay uses when none is configured, and the one a client assumes until a `heartbeat`
 * frame tells it otherwise. Chosen below 60 s, the default idle timeout of nginx's
 * `proxy_read_timeout` and of AWS load balancers, which close a connection that carries nothing.
 * @default 25000
 */
export const DEFAULT_HEARTBEAT_INTERVAL_MS = 25_000;

/** Largest interval a `heartbeat` frame may announce, in milliseconds (one hour, the ceiling of the relay's `RELAY_HEARTBEAT_FRAME_SECONDS`). */
export const MAX_HEARTBEAT_INTERVAL_MS = 3_600_000;

/**
 * Added to two intervals before a client counts a silent connection as dead, for timers that fire
 * late and frames that sit in network buffers. @default 1000
 */
export const HEARTBEAT_TIMEOUT_SLACK_MS = 1_000;

/** Why a value cannot be a heartbeat interval, or `undefined` when it can. */
export function heartbeatIntervalProblem(value: unknown): string | undefined {
  if (typeof value !== "number" || !Number.isInteger(value)) {
    return "must be an integer number of milliseconds";
  }
  if (value < 1 || value > MAX_HEARTBEAT_INTERVAL_MS) {
    return `must be from 1 to ${MAX_HEARTBEAT_INTERVAL_MS} milliseconds`;
  }
  return undefined;
}

/**
 * Milliseconds without any frame after which a client counts the connection as dead: two intervals
 * (one heartbeat may be late or lost) plus {@link HEARTBEAT_TIMEOUT_SLACK_MS}.
 */
export function heartbeatTimeoutMs(intervalMs: number): number {
  return 2 * intervalMs + HEARTBEAT_TIMEOUT_SLACK_MS;
}
