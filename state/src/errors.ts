// Coded errors of the job-state store.

export const StateErrorCode = {
  InvalidUpdate: "invalid_update",
  InvalidChannel: "invalid_channel",
} as const;

export type StateErrorCode = (typeof StateErrorCode)[keyof typeof StateErrorCode];

export const ERROR_CODES: readonly {
  readonly code: StateErrorCode;
  readonly description: string;
}[] = [
  {
    code: StateErrorCode.InvalidUpdate,
    description: "A job update failed validation before publishing; nothing was written.",
  },
  {
    code: StateErrorCode.InvalidChannel,
    description: "The channel name is not a DNS label; nothing was written.",
  },
];

/** Raised before anything is written, so an invalid update never leaves half a state behind. */
export class StateError extends Error {
  readonly code: StateErrorCode;
  readonly field: string;

  constructor(code: StateErrorCode, message: string, field = "") {
    super(message);
    this.name = "StateError";
    this.code = code;
    this.field = field;
  }
}
