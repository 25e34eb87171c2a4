// Channel-name rule (DNS label) and the Redis pub/sub name derived from it.

/** A channel name is a DNS label: lower-case letters, digits and dashes, 1-63 characters. */
export const CHANNEL_NAME_PATTERN = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** Prefix of the Redis pub/sub channel an update travels on. @default "jobchannel:" */
export const DEFAULT_REDIS_PREFIX = "jobchannel:";

export function isValidChannelName(name: unknown): name is string {
  return typeof name === "string" && name.length <= 63 && CHANNEL_NAME_PATTERN.test(name);
}

/** Why a channel name is refused, or `undefined` when it is valid. */
export function channelNameProblem(name: unknown): string | undefined {
  if (typeof name !== "string") return `must be a string, got ${describeType(name)}`;
  if (name.length === 0) return "must not be empty";
  if (name.length > 63) return `must be at most 63 characters, got ${name.length}`;
  if (!CHANNEL_NAME_PATTERN.test(name)) {
    return "must be a DNS label: lower-case letters, digits and '-', starting and ending with a letter or digit";
  }
  return undefined;
}

/** `jobchannel:file-upload` for `file-upload`. */
export function redisChannelFor(channel: string, prefix: string = DEFAULT_REDIS_PREFIX): string {
  return prefix + channel;
}

/** `file-upload` for `jobchannel:file-upload`, or `undefined` if the name is not ours or invalid. */
export function channelFromRedis(
  redisChannel: string,
  prefix: string = DEFAULT_REDIS_PREFIX,
): string | undefined {
  if (!redisChannel.startsWith(prefix)) return undefined;
  const name = redisChannel.slice(prefix.length);
  return isValidChannelName(name) ? name : undefined;
}

export function describeType(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  return typeof value;
}
