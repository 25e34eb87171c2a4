// Error codes of the WebSocket protocol and the coded error type the validators produce.

/** Codes of `{"type":"error"}` frames (design section 4). The connection stays open after each. */
export const ErrorCode = {
  BadRequest: "bad_request",
  Unauthorized: "unauthorized",
  Forbidden: "forbidden",
  UnknownChannel: "unknown_channel",
  RateLimited: "rate_limited",
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** Every protocol error code with what it means; `docs/errors.md` is checked against this table. */
export const ERROR_CODES: readonly { readonly code: ErrorCode; readonly description: string }[] = [
  {
    code: ErrorCode.BadRequest,
    description:
      "The frame is not valid JSON, has an unknown type, or a field is missing or wrong.",
  },
  {
    code: ErrorCode.Unauthorized,
    description: "The channel needs a valid token and the connection has none, or it was refused.",
  },
  {
    code: ErrorCode.Forbidden,
    description: "The token is valid but its `channels` claim does not allow this channel.",
  },
  {
    code: ErrorCode.UnknownChannel,
    description: "No channel of that name is configured on the relay.",
  },
  {
    code: ErrorCode.RateLimited,
    description: "The client sent frames faster than the per-connection rate limit allows.",
  },
];

/**
 * A validation problem: `code` is the protocol error code to answer with, `field` the JSON path of
 * the offending value (`""` for the whole message), `message` a sentence a person can act on.
 */
export class ProtocolError extends Error {
  readonly code: ErrorCode;
  readonly field: string;

  constructor(code: ErrorCode, field: string, message: string) {
    super(field ? `${field}: ${message}` : message);
    this.name = "ProtocolError";
    this.code = code;
    this.field = field;
  }
}

export function badRequest(field: string, message: string): ProtocolError {
  return new ProtocolError(ErrorCode.BadRequest, field, message);
}
