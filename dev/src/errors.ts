// Coded errors of the local stack.

export const DevErrorCode = {
  InvalidConfig: "invalid_config",
  PortInUse: "port_in_use",
} as const;

export type DevErrorCode = (typeof DevErrorCode)[keyof typeof DevErrorCode];

/** Every local-stack error code with what it means; `docs/errors.md` is checked against this table. */
export const ERROR_CODES: readonly { readonly code: DevErrorCode; readonly description: string }[] =
  [
    {
      code: DevErrorCode.InvalidConfig,
      description:
        "An environment variable of the local stack has an invalid value; the message names it.",
    },
    {
      code: DevErrorCode.PortInUse,
      description: "The port is taken by another process: stop it, or choose another with PORT.",
    },
  ];

/** A problem that stops the local stack from starting. */
export class DevError extends Error {
  readonly code: DevErrorCode;
  /** The environment variable at fault, if any. */
  readonly variable: string | undefined;

  constructor(code: DevErrorCode, message: string, variable?: string) {
    super(message);
    this.name = "DevError";
    this.code = code;
    this.variable = variable;
  }
}
