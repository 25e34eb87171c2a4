// The close-code table (design section 4), read by both the relay and the client.

/** WebSocket close codes jobchannel uses. */
export const CloseCode = {
  /** The relay is shutting down (drain). */
  GoingAway: 1001,
  /** An internal error on the relay. */
  InternalError: 1011,
  /** The relay is overloaded: try later. */
  TryAgainLater: 1013,
  /** The client read too slowly and its send buffer overflowed. */
  SlowConsumer: 4000,
  /** The token expired: refresh it, then reconnect. */
  TokenExpired: 4001,
  /** The client did not answer heartbeats. */
  HeartbeatTimeout: 4002,
  /** The client broke the protocol. */
  ProtocolViolation: 4400,
  /** No valid credentials. */
  Unauthorized: 4401,
  /** Credentials valid, access refused. */
  Forbidden: 4403,
  /** A client frame was larger than the limit. */
  FrameTooLarge: 4413,
} as const;

export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];

/** Close codes from this value up are final: the client must not reconnect. */
export const FIRST_FINAL_CLOSE_CODE = 4400;

/** One row of the close-code table. */
export interface CloseCodeInfo {
  readonly code: CloseCode;
  readonly name: keyof typeof CloseCode;
  readonly reconnect: boolean;
  readonly description: string;
}

const DESCRIPTIONS: Record<keyof typeof CloseCode, string> = {
  GoingAway: "relay shutting down (drain)",
  InternalError: "internal error",
  TryAgainLater: "overloaded, try later",
  SlowConsumer: "slow consumer",
  TokenExpired: "token expired: refresh, then reconnect",
  HeartbeatTimeout: "heartbeat timeout",
  ProtocolViolation: "protocol violation",
  Unauthorized: "unauthorized",
  Forbidden: "forbidden",
  FrameTooLarge: "frame too large",
};

/** Every close code with its meaning and whether the client reconnects after it. */
export const CLOSE_CODES: readonly CloseCodeInfo[] = (
  Object.keys(CloseCode) as (keyof typeof CloseCode)[]
).map((name) => ({
  code: CloseCode[name],
  name,
  reconnect: shouldReconnect(CloseCode[name]),
  description: DESCRIPTIONS[name],
}));

/** The reconnect rule: below 4400 the client reconnects (with backoff and jitter), from 4400 not. */
export function shouldReconnect(code: number): boolean {
  return code < FIRST_FINAL_CLOSE_CODE;
}

/** The table row of a code, if jobchannel defines it. */
export function closeCodeInfo(code: number): CloseCodeInfo | undefined {
  return CLOSE_CODES.find((c) => c.code === code);
}
