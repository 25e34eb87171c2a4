// Coded errors of @jobchannel/client: the client's own, and the relay's `error` frames surfaced as values.
import type { ErrorCode } from "@jobchannel/protocol";

/** Codes of problems the client itself detects. */
export const ClientErrorCode = {
  InvalidChannel: "invalid_channel",
  InvalidUrl: "invalid_url",
  InvalidFrame: "invalid_frame",
  TokenFailed: "token_failed",
  FinalClose: "final_close",
  TokenExpired: "token_expired",
  NoWebSocket: "no_websocket",
} as const;

export type ClientErrorCode = (typeof ClientErrorCode)[keyof typeof ClientErrorCode];

/** Every client error code with what it means; `docs/errors.md` is checked against this table. */
export const ERROR_CODES: readonly {
  readonly code: ClientErrorCode;
  readonly description: string;
}[] = [
  {
    code: ClientErrorCode.InvalidChannel,
    description:
      "A channel name given to subscribe or unsubscribe is not a DNS label; nothing was sent.",
  },
  {
    code: ClientErrorCode.InvalidUrl,
    description:
      "The relay URL cannot be resolved: it is relative and there is no page origin, or its scheme is not ws, wss, http or https.",
  },
  {
    code: ClientErrorCode.InvalidFrame,
    description:
      "The relay sent a frame that is not valid JSON or not a valid relay frame; it was ignored.",
  },
  {
    code: ClientErrorCode.TokenFailed,
    description: "`getToken()` threw or rejected; the client retries the connection with backoff.",
  },
  {
    code: ClientErrorCode.FinalClose,
    description:
      "The relay closed the connection with a code of 4400 or above (protocol violation, unauthorized, forbidden, frame too large); the client does not reconnect.",
  },
  {
    code: ClientErrorCode.TokenExpired,
    description:
      "The relay closed with 4001 (token expired) and no fresher token is to be had: the token is fixed, or `getToken()` returned the same one again or none. The client stops; a new token (`setToken`) or `connect()` starts it again.",
  },
  {
    code: ClientErrorCode.NoWebSocket,
    description: "No WebSocket implementation is available: pass one as the `WebSocket` option.",
  },
];

/**
 * A problem reported by the client. `code` is a client code, or the relay's error code for an
 * `error` frame (then `fromRelay` is true); `channel` names the channel it concerns, if any.
 */
export class ClientError extends Error {
  readonly code: ClientErrorCode | ErrorCode;
  readonly channel: string | undefined;
  readonly fromRelay: boolean;
  /** The WebSocket close code, for `final_close` and `token_expired`. */
  readonly closeCode: number | undefined;

  constructor(
    code: ClientErrorCode | ErrorCode,
    message: string,
    details: { channel?: string; fromRelay?: boolean; closeCode?: number; cause?: unknown } = {},
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = "ClientError";
    this.code = code;
    this.channel = details.channel;
    this.fromRelay = details.fromRelay ?? false;
    this.closeCode = details.closeCode;
  }
}
