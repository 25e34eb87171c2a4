// WebSocket frames (design section 4): client -> relay and relay -> client, with validators.
import { channelNameProblem, describeType } from "./channel.ts";
import { badRequest, type ErrorCode } from "./errors.ts";
import { DEFAULT_HEARTBEAT_INTERVAL_MS, heartbeatIntervalProblem } from "./heartbeat.ts";
import { parseJson, type ParseJsonOptions } from "./json.ts";
import { validateJobUpdate, type JobUpdate } from "./job-update.ts";
import { err, ok, type Result } from "./result.ts";

/** Most channels one subscribe or unsubscribe frame may name. */
export const MAX_CHANNELS_PER_FRAME = 100;

/** Longest accepted token, in characters. */
export const MAX_TOKEN_LENGTH = 8192;

/** Largest client frame accepted by default, in bytes (client frames are small). @default 16384 */
export const DEFAULT_MAX_CLIENT_FRAME_BYTES = 16384;

export interface SubscribeFrame {
  type: "subscribe";
  channels: string[];
}

export interface UnsubscribeFrame {
  type: "unsubscribe";
  channels: string[];
}

/** Replaces the connection's token (refresh without reconnecting). */
export interface AuthFrame {
  type: "auth";
  token: string;
}

export type ClientFrame = SubscribeFrame | UnsubscribeFrame | AuthFrame;

/** The snapshot: latest state of each retained job the client may see, oldest first. */
export interface SubscribedFrame<J extends object = Record<string, unknown>> {
  type: "subscribed";
  channel: string;
  jobs: JobUpdate<J>[];
}

export interface JobFrame<J extends object = Record<string, unknown>> {
  type: "job";
  job: JobUpdate<J>;
}

export interface UnsubscribedFrame {
  type: "unsubscribed";
  channel: string;
  reason: string;
}

export interface ErrorFrame {
  type: "error";
  code: ErrorCode;
  message: string;
  channel?: string;
}

/**
 * Liveness: the relay sends one when it has sent nothing else on the connection for `interval`
 * milliseconds, so that a client hears from a live relay at least once per interval.
 */
export interface HeartbeatFrame {
  type: "heartbeat";
  /** Milliseconds between heartbeats on an idle connection: an integer from 1 to 3600000. */
  interval: number;
}

export type ServerFrame<J extends object = Record<string, unknown>> =
  SubscribedFrame<J> | JobFrame<J> | UnsubscribedFrame | ErrorFrame | HeartbeatFrame;

export const CLIENT_FRAME_TYPES = ["subscribe", "unsubscribe", "auth"] as const;
export const SERVER_FRAME_TYPES = [
  "subscribed",
  "job",
  "unsubscribed",
  "error",
  "heartbeat",
] as const;

function objectWithType(value: unknown): Result<Record<string, unknown> & { type: string }> {
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    return err(badRequest("", `a frame must be a JSON object, got ${describeType(value)}`));
  }
  const type = (value as Record<string, unknown>).type;
  if (type === undefined) return err(badRequest("type", "is required"));
  if (typeof type !== "string") {
    return err(badRequest("type", `must be a string, got ${describeType(type)}`));
  }
  return ok(value as Record<string, unknown> & { type: string });
}

function channelList(value: unknown): Result<string[]> {
  if (!Array.isArray(value)) {
    return err(
      badRequest("channels", `must be an array of channel names, got ${describeType(value)}`),
    );
  }
  if (value.length === 0) return err(badRequest("channels", "must name at least one channel"));
  if (value.length > MAX_CHANNELS_PER_FRAME) {
    return err(badRequest("channels", `must name at most ${MAX_CHANNELS_PER_FRAME} channels`));
  }
  for (let i = 0; i < value.length; i++) {
    const problem = channelNameProblem(value[i]);
    if (problem) return err(badRequest(`channels[${i}]`, problem));
  }
  return ok([...new Set(value as string[])]);
}

/** Checks that a decoded value is a client frame. */
export function validateClientFrame(value: unknown): Result<ClientFrame> {
  const base = objectWithType(value);
  if (!base.ok) return base;
  const frame = base.value;
  switch (frame.type) {
    case "subscribe":
    case "unsubscribe": {
      const channels = channelList(frame.channels);
      return channels.ok ? ok({ type: frame.type, channels: channels.value }) : channels;
    }
    case "auth": {
      const token = frame.token;
      if (typeof token !== "string" || token.length === 0) {
        return err(badRequest("token", "must be a non-empty string"));
      }
      if (token.length > MAX_TOKEN_LENGTH) {
        return err(badRequest("token", `must be at most ${MAX_TOKEN_LENGTH} characters`));
      }
      return ok({ type: "auth", token });
    }
    default:
      return err(
        badRequest("type", `unknown frame type; expected one of ${CLIENT_FRAME_TYPES.join(", ")}`),
      );
  }
}

/** Decodes and validates an untrusted client frame. */
export function parseClientFrame(
  text: string,
  options: ParseJsonOptions = {},
): Result<ClientFrame> {
  const parsed = parseJson(text, { maxBytes: DEFAULT_MAX_CLIENT_FRAME_BYTES, ...options });
  return parsed.ok ? validateClientFrame(parsed.value) : parsed;
}

/** Checks that a decoded value is a relay frame (used by clients, which trust nothing either). */
export function validateServerFrame(value: unknown): Result<ServerFrame> {
  const base = objectWithType(value);
  if (!base.ok) return base;
  const frame = base.value;
  switch (frame.type) {
    case "subscribed": {
      if (typeof frame.channel !== "string") return err(badRequest("channel", "must be a string"));
      if (!Array.isArray(frame.jobs)) return err(badRequest("jobs", "must be an array"));
      const jobs: JobUpdate[] = [];
      for (let i = 0; i < frame.jobs.length; i++) {
        const job = validateJobUpdate(frame.jobs[i]);
        if (!job.ok) {
          const field = job.error.field ? `jobs[${i}].${job.error.field}` : `jobs[${i}]`;
          return err(badRequest(field, job.error.message.replace(/^[^:]*: /, "")));
        }
        jobs.push(job.value);
      }
      return ok({ type: "subscribed", channel: frame.channel, jobs });
    }
    case "job": {
      const job = validateJobUpdate(frame.job);
      if (!job.ok) {
        const field = job.error.field ? `job.${job.error.field}` : "job";
        return err(badRequest(field, job.error.message.replace(/^[^:]*: /, "")));
      }
      return ok({ type: "job", job: job.value });
    }
    case "unsubscribed":
      if (typeof frame.channel !== "string") return err(badRequest("channel", "must be a string"));
      return ok({
        type: "unsubscribed",
        channel: frame.channel,
        reason: typeof frame.reason === "string" ? frame.reason : "",
      });
    case "error":
      if (typeof frame.code !== "string") return err(badRequest("code", "must be a string"));
      return ok({
        type: "error",
        code: frame.code as ErrorCode,
        message: typeof frame.message === "string" ? frame.message : "",
        ...(typeof frame.channel === "string" ? { channel: frame.channel } : {}),
      });
    case "heartbeat": {
      const problem = heartbeatIntervalProblem(frame.interval);
      if (problem) return err(badRequest("interval", problem));
      return ok({ type: "heartbeat", interval: frame.interval as number });
    }
    default:
      return err(
        badRequest("type", `unknown frame type; expected one of ${SERVER_FRAME_TYPES.join(", ")}`),
      );
  }
}

/** Decodes and validates a relay frame. Relay frames carry job updates, so they may be large. */
export function parseServerFrame(
  text: string,
  options: ParseJsonOptions = {},
): Result<ServerFrame> {
  const parsed = parseJson(text, { maxBytes: 16 * 1024 * 1024, ...options });
  return parsed.ok ? validateServerFrame(parsed.value) : parsed;
}

/** The `error` frame for a refused request. */
export function errorFrame(code: ErrorCode, message: string, channel?: string): ErrorFrame {
  return channel === undefined
    ? { type: "error", code, message }
    : { type: "error", code, message, channel };
}

/** The `heartbeat` frame for a connection idle for `intervalMs` (see `heartbeatIntervalProblem`). */
export function heartbeatFrame(intervalMs: number = DEFAULT_HEARTBEAT_INTERVAL_MS): HeartbeatFrame {
  return { type: "heartbeat", interval: intervalMs };
}
