// The channel config (design section 5): parsing `channels.json`, and the policy that answers
// "is this channel served, and how" in each of the relay's three modes.
import {
  DEFAULT_MAX_MESSAGE_BYTES,
  channelNameProblem,
  isValidChannelName,
  parseJson,
} from "@jobchannel/protocol";
import { DEFAULT_HISTORY, type History } from "@jobchannel/state";
import { RelayError, RelayErrorCode } from "./errors.ts";

/** Who may subscribe: anyone (also without a token) or holders of a valid token. */
export type Access = "public" | "authenticated";
/** Who sees a job: every subscriber of the channel, or only the job's owner (`userId` = token `sub`). */
export type Visibility = "channel" | "user";

/** One configured channel, with defaults applied. */
export interface ChannelSettings {
  readonly name: string;
  /** @default "authenticated" */
  readonly access: Access;
  /** @default "channel" */
  readonly visibility: Visibility;
  /** @default {maxJobs: 1000, ttlSeconds: 86400} */
  readonly history: History;
  /** Largest update accepted from Redis, bytes. @default 65536 */
  readonly maxMessageBytes: number;
}

/** A parsed `channels.json`. */
export interface ChannelConfig {
  readonly channels: readonly ChannelSettings[];
}

/** Largest accepted `maxMessageBytes` (16 MiB). */
export const MAX_MESSAGE_BYTES_LIMIT = 16 * 1024 * 1024;

const ACCESS: readonly Access[] = ["public", "authenticated"];
const VISIBILITY: readonly Visibility[] = ["channel", "user"];

function invalid(field: string, message: string): RelayError {
  return new RelayError(RelayErrorCode.InvalidChannelConfig, `${field}: ${message}`, field);
}

function describeType(value: unknown): string {
  return value === null ? "null" : Array.isArray(value) ? "array" : typeof value;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

function integer(
  value: unknown,
  field: string,
  min: number,
  max: number,
  fallback: number,
): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    throw invalid(field, `must be an integer from ${min} to ${max}, got ${JSON.stringify(value)}`);
  }
  return value;
}

function oneOf<T extends string>(
  value: unknown,
  field: string,
  allowed: readonly T[],
  fallback: T,
): T {
  if (value === undefined) return fallback;
  if (!allowed.includes(value as T)) throw invalid(field, `must be one of ${allowed.join(", ")}`);
  return value as T;
}

function channelSettings(value: unknown, field: string): ChannelSettings {
  if (!isObject(value)) throw invalid(field, `must be an object, got ${describeType(value)}`);
  const problem = channelNameProblem(value.name);
  if (problem) throw invalid(`${field}.name`, problem);
  const history = value.history;
  if (history !== undefined && !isObject(history))
    throw invalid(`${field}.history`, "must be an object");
  return {
    name: value.name as string,
    access: oneOf(value.access, `${field}.access`, ACCESS, "authenticated"),
    visibility: oneOf(value.visibility, `${field}.visibility`, VISIBILITY, "channel"),
    history: {
      maxJobs: integer(
        history?.maxJobs,
        `${field}.history.maxJobs`,
        0,
        1e7,
        DEFAULT_HISTORY.maxJobs,
      ),
      ttlSeconds: integer(
        history?.ttlSeconds,
        `${field}.history.ttlSeconds`,
        0,
        1e9,
        DEFAULT_HISTORY.ttlSeconds,
      ),
    },
    maxMessageBytes: integer(
      value.maxMessageBytes,
      `${field}.maxMessageBytes`,
      256,
      MAX_MESSAGE_BYTES_LIMIT,
      DEFAULT_MAX_MESSAGE_BYTES,
    ),
  };
}

/** Checks a decoded channel config; throws an `invalid_channel_config` {@link RelayError} naming the field. */
export function validateChannelConfig(value: unknown): ChannelConfig {
  if (!isObject(value))
    throw invalid("", `the config must be a JSON object, got ${describeType(value)}`);
  if (!Array.isArray(value.channels)) throw invalid("channels", "must be an array");
  const seen = new Set<string>();
  const channels = value.channels.map((entry, i) => {
    const settings = channelSettings(entry, `channels[${i}]`);
    if (seen.has(settings.name))
      throw invalid(`channels[${i}].name`, `"${settings.name}" is listed twice`);
    seen.add(settings.name);
    return settings;
  });
  return { channels };
}

/** Decodes and checks `channels.json` text. */
export function parseChannelConfig(text: string): ChannelConfig {
  const parsed = parseJson(text, { maxBytes: 8 * 1024 * 1024 });
  if (!parsed.ok) throw invalid(parsed.error.field, parsed.error.message);
  return validateChannelConfig(parsed.value);
}

/** How the relay decides which channels exist (design section 5). */
export type PolicyMode = "config" | "authenticated" | "open";

/**
 * Answers which channels are served and how. With a config: exactly its channels. Without one:
 * every valid channel name, authenticated when tokens can be verified, else public (open development mode).
 */
export class ChannelPolicy {
  readonly mode: PolicyMode;
  readonly #channels: ReadonlyMap<string, ChannelSettings>;
  readonly #fallback: Omit<ChannelSettings, "name"> | undefined;
  readonly #fallbackCache = new Map<string, ChannelSettings>();

  private constructor(mode: PolicyMode, channels: ReadonlyMap<string, ChannelSettings>) {
    this.mode = mode;
    this.#channels = channels;
    this.#fallback =
      mode === "config"
        ? undefined
        : {
            access: mode === "open" ? "public" : "authenticated",
            visibility: "channel",
            history: DEFAULT_HISTORY,
            maxMessageBytes: DEFAULT_MAX_MESSAGE_BYTES,
          };
  }

  static fromConfig(config: ChannelConfig): ChannelPolicy {
    return new ChannelPolicy("config", new Map(config.channels.map((c) => [c.name, c])));
  }

  /** The policy without a config: `authenticated` when tokens can be verified, else `open`. */
  static withoutConfig(canVerifyTokens: boolean): ChannelPolicy {
    return new ChannelPolicy(canVerifyTokens ? "authenticated" : "open", new Map());
  }

  /** The settings of a channel, or `undefined` when it is not served. */
  get(channel: string): ChannelSettings | undefined {
    const configured = this.#channels.get(channel);
    if (configured || !this.#fallback) return configured;
    let settings = this.#fallbackCache.get(channel);
    if (!settings && isValidChannelName(channel)) {
      settings = { name: channel, ...this.#fallback };
      // Bounded: a flood of distinct names must not grow memory without end.
      if (this.#fallbackCache.size < 10_000) this.#fallbackCache.set(channel, settings);
    }
    return settings;
  }
}
