// Prometheus metrics of the relay (design section 8), with per-channel children cached off the hot path.
import { CLOSE_CODES, type ErrorCode } from "@jobchannel/protocol";
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import type { RelayErrorCode } from "./errors.ts";

/**
 * Buckets of the fan-out latency, in seconds: 0.1 ms to 10 s in 1-2.5-5 steps, so both a
 * sub-millisecond local hop and a multi-second stall land in a bucket of their own.
 */
export const FANOUT_LATENCY_BUCKETS: readonly number[] = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

/** Most distinct `channel` label values; the rest are counted under `_other`. @default 1000 */
export const MAX_CHANNEL_LABELS = 1000;

/**
 * Close codes counted under their own `code` label value: the protocol's, and the standard ones a
 * connection ends with (RFC 6455 section 7.4.1, and 1005 and 1006 that ws reports for a close
 * without a code and a connection cut without a close). A peer may send any code from 1000 to
 * 4999; the others count under {@link OTHER_CLOSE_CODE}, so a client cannot grow the label set.
 */
export const KNOWN_CLOSE_CODES: ReadonlySet<number> = new Set([
  1000,
  1001,
  1002,
  1003,
  1005,
  1006,
  1007,
  1008,
  1009,
  1010,
  1011,
  1012,
  1013,
  1014,
  1015,
  ...CLOSE_CODES.map((c) => c.code),
]);

/** The `code` label value of every close code outside {@link KNOWN_CLOSE_CODES}. */
export const OTHER_CLOSE_CODE = "other";

/** Why an update was not delivered, the `reason` label of the dropped counter. */
export type DropReason =
  "malformed" | "too_large" | "invalid_channel" | "unknown_channel" | "collapsed" | "slow_consumer";

/**
 * Codes of the `error` frames the relay sends: the protocol's and the relay's own. Each is a
 * `code` value of the refusals counter, so the label set stays bounded.
 */
export type RefusalCode = ErrorCode | typeof RelayErrorCode.SnapshotUnavailable;

/** The metric children of one channel. */
export interface ChannelMetrics {
  readonly received: { inc(n?: number): void };
  readonly delivered: { inc(n?: number): void };
  readonly latency: { observe(seconds: number): void };
  readonly subscriptions: { inc(n?: number): void; dec(n?: number): void };
}

export class RelayMetrics {
  readonly registry: Registry;
  readonly fanoutLatency: Histogram<"channel">;
  readonly connections: Gauge;
  readonly subscriptions: Gauge<"channel">;
  readonly received: Counter<"channel">;
  readonly delivered: Counter<"channel">;
  readonly dropped: Counter<"reason">;
  readonly disconnects: Counter<"code">;
  readonly refusals: Counter<"code">;
  readonly redisUp: Gauge;
  readonly ready: Gauge;
  readonly recoveries: Counter;
  readonly #channels = new Map<string, ChannelMetrics>();
  readonly #dropped = new Map<DropReason, { inc(n?: number): void }>();
  readonly #refused = new Map<RefusalCode, { inc(n?: number): void }>();

  /**
   * Registers the relay's metrics in `registry` (a new one by default). `ready` is asked at each
   * scrape for `jobchannel_relay_ready`, so the gauge and /readyz read the same state.
   */
  constructor(registry: Registry | undefined, ready: () => boolean) {
    registry ??= new Registry();
    this.registry = registry;
    const registers = [registry];
    this.fanoutLatency = new Histogram({
      name: "jobchannel_relay_fanout_latency_seconds",
      help: "Time from an update's publish timestamp to its frame being written to the subscribers' sockets.",
      labelNames: ["channel"],
      buckets: [...FANOUT_LATENCY_BUCKETS],
      registers,
    });
    this.connections = new Gauge({
      name: "jobchannel_relay_connections",
      help: "Open WebSocket connections.",
      registers,
    });
    this.subscriptions = new Gauge({
      name: "jobchannel_relay_subscriptions",
      help: "Channel subscriptions of open connections.",
      labelNames: ["channel"],
      registers,
    });
    this.received = new Counter({
      name: "jobchannel_relay_messages_received_total",
      help: "Updates received from the broker.",
      labelNames: ["channel"],
      registers,
    });
    this.delivered = new Counter({
      name: "jobchannel_relay_messages_delivered_total",
      help: "Update frames written to client sockets.",
      labelNames: ["channel"],
      registers,
    });
    this.dropped = new Counter({
      name: "jobchannel_relay_messages_dropped_total",
      help: "Updates not delivered, by reason.",
      labelNames: ["reason"],
      registers,
    });
    this.disconnects = new Counter({
      name: "jobchannel_relay_disconnects_total",
      help: "Closed connections, by close code.",
      labelNames: ["code"],
      registers,
    });
    this.refusals = new Counter({
      name: "jobchannel_relay_refusals_total",
      help: "Client requests refused with an error frame, by its code (forbidden and unauthorized count access attempts the relay denied).",
      labelNames: ["code"],
      registers,
    });
    this.redisUp = new Gauge({
      name: "jobchannel_relay_redis_up",
      help: "1 while the broker subscription is verified live, else 0.",
      registers,
    });
    this.recoveries = new Counter({
      name: "jobchannel_relay_recoveries_total",
      help: "Gaps in the broker subscription after which every live subscription was brought back to the stored state.",
      registers,
    });
    this.ready = new Gauge({
      name: "jobchannel_relay_ready",
      help: "1 when /readyz answers 200 (subscription verified live, channel config loaded, not draining), else 0.",
      registers,
      collect() {
        this.set(ready() ? 1 : 0);
      },
    });
  }

  /** The cached children of a channel (label capped at {@link MAX_CHANNEL_LABELS} values). */
  channel(name: string): ChannelMetrics {
    let children = this.#channels.get(name);
    if (children) return children;
    const label = this.#channels.size < MAX_CHANNEL_LABELS ? name : "_other";
    const other = label === name ? undefined : this.#channels.get(label);
    children = other ?? {
      received: this.received.labels(label),
      delivered: this.delivered.labels(label),
      latency: this.fanoutLatency.labels(label),
      subscriptions: this.subscriptions.labels(label),
    };
    this.#channels.set(label, children);
    return children;
  }

  /** Counts a closed connection by its close code (bucketed, see {@link KNOWN_CLOSE_CODES}). */
  disconnect(code: number): void {
    this.disconnects.labels(KNOWN_CLOSE_CODES.has(code) ? String(code) : OTHER_CLOSE_CODE).inc();
  }

  /** Counts a request refused with an `error` frame of `code`. */
  refusal(code: RefusalCode): void {
    let child = this.#refused.get(code);
    if (!child) this.#refused.set(code, (child = this.refusals.labels(code)));
    child.inc();
  }

  drop(reason: DropReason, n = 1): void {
    let child = this.#dropped.get(reason);
    if (!child) this.#dropped.set(reason, (child = this.dropped.labels(reason)));
    child.inc(n);
  }
}
