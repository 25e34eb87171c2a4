// Coded errors of the relay: bad settings at start-up, bad channel configs at run time, and the
// relay's own code in `error` frames.

export const RelayErrorCode = {
  InvalidEnv: "invalid_env",
  InvalidChannelConfig: "invalid_channel_config",
  ChannelConfigUnavailable: "channel_config_unavailable",
  SnapshotUnavailable: "snapshot_unavailable",
} as const;

export type RelayErrorCode = (typeof RelayErrorCode)[keyof typeof RelayErrorCode];

/** Every relay error code with what it means; `docs/errors.md` is checked against this table. */
export const ERROR_CODES: readonly {
  readonly code: RelayErrorCode;
  readonly description: string;
}[] = [
  {
    code: RelayErrorCode.InvalidEnv,
    description:
      "An environment variable has a value the relay cannot use; the message names the variable. The relay does not start.",
  },
  {
    code: RelayErrorCode.InvalidChannelConfig,
    description:
      "The channel config (file or ConfigMap key `channels.json`) is not valid; the message names the field. The last good config stays in force.",
  },
  {
    code: RelayErrorCode.ChannelConfigUnavailable,
    description:
      "The channel config could not be read (missing file, ConfigMap or key, API error). The relay keeps retrying and is not ready until a config is loaded.",
  },
  {
    code: RelayErrorCode.SnapshotUnavailable,
    description:
      "Sent in an `error` frame with the channel: the snapshot read failed or timed out, so the subscription was not made. The connection stays open; subscribe again.",
  },
];

/** A problem named by code; `field` is the variable or JSON path at fault (`""` when none). */
export class RelayError extends Error {
  readonly code: RelayErrorCode;
  readonly field: string;

  constructor(code: RelayErrorCode, message: string, field = "") {
    super(message);
    this.name = "RelayError";
    this.code = code;
    this.field = field;
  }
}
