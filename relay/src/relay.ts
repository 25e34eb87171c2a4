// The relay: accepts WebSocket upgrades, runs subscribe/unsubscribe/auth, turns broker messages
// into frames fanned out through the hub, recovers subscriptions after a gap in the broker
// subscription, applies channel-config changes live, and drains.
import type { IncomingMessage, Server } from "node:http";
import type { Duplex } from "node:stream";
import {
  CloseCode,
  DEFAULT_HEARTBEAT_INTERVAL_MS,
  ErrorCode,
  heartbeatFrame,
  heartbeatIntervalProblem,
  isValidChannelName,
  parseJobUpdate,
  type ClientFrame,
  type JobUpdate,
} from "@jobchannel/protocol";
import type { JobStore } from "@jobchannel/state";
import pino, { type Logger } from "pino";
import type { Registry } from "prom-client";
import { WebSocketServer } from "ws";
import {
  accessProblem,
  ANONYMOUS,
  tokenFromRequest,
  type Authenticator,
  type Identity,
} from "./auth.ts";
import type { Broker } from "./broker.ts";
import { ChannelPolicy, type ChannelConfig, type ChannelSettings } from "./channel-config.ts";
import { staticConfigSource, type ChannelConfigSource } from "./config-source.ts";
import {
  Connection,
  RelaySocket,
  Subscription,
  type ConnectionHost,
  type ConnectionLimits,
} from "./connection.ts";
import { RelayErrorCode } from "./errors.ts";
import { closeInBatches } from "./drain.ts";
import { Hub } from "./hub.ts";
import { RelayMetrics, type DropReason, type RefusalCode } from "./metrics.ts";
import { SeenSeqs } from "./seen-seqs.ts";
import { sendPages, snapshotPages } from "./snapshot-pages.ts";
import { SnapshotShares } from "./snapshot-share.ts";
import { ThrottledLog } from "./throttled-log.ts";
import { jobFrame, textFrame, type OutboundFrame } from "./wire.ts";

/** Options of {@link createRelay}. */
export interface RelayOptions {
  /** Where updates come from. */
  broker: Broker;
  /** Where snapshots are read; without one, `subscribed` carries no jobs. */
  store?: JobStore;
  /** A fixed channel config. */
  channels?: ChannelConfig;
  /** A changing channel config (file, ConfigMap). Without `channels` or this, every valid channel is served. */
  configSource?: ChannelConfigSource;
  /** Token verifier; without one tokens are ignored and only public access exists. */
  auth?: Authenticator;
  /** @default a pino logger at info level */
  logger?: Logger;
  /** Registry for the relay's metrics. @default a new Registry */
  registry?: Registry;
  /** Allowed `Origin` headers; empty = any. @default [] */
  allowedOrigins?: readonly string[];
  /** Ping interval, ms; a connection missing one pong is closed with 4002. @default 30000 */
  heartbeatMs?: number;
  /**
   * Interval of the `heartbeat` frame, ms: a connection that was sent no other frame for this long
   * gets `{"type":"heartbeat","interval":<ms>}`. An integer from 1 to 3600000.
   * @default DEFAULT_HEARTBEAT_INTERVAL_MS (25000)
   */
  heartbeatFrameMs?: number;
  /** Per-connection limits. */
  limits?: Partial<ConnectionLimits>;
  /** Most open connections; more are closed with 1013. 0 = no limit. @default 0 */
  maxConnections?: number;
  /** Longest wait for a snapshot read, ms. @default 5000 */
  snapshotTimeoutMs?: number;
}

/** Why the relay is or is not ready. */
export interface Readiness {
  readonly ready: boolean;
  /** The broker subscription is verified live. */
  readonly broker: boolean;
  /** A channel config is loaded (always true without a config source). */
  readonly config: boolean;
  readonly draining: boolean;
}

/** A running relay, ready to be attached to an HTTP server. */
export interface Relay {
  /** Serves WebSocket upgrades on `path` of `server`. @default path "/ws" */
  attach(server: Server, path?: string): void;
  /** Takes over one upgrade request (for servers that route upgrades themselves). */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  ready(): boolean;
  readiness(): Readiness;
  /** Stops accepting, then closes every connection with 1001 in jittered batches over `ms`. */
  drain(ms: number): Promise<void>;
  /** Closes every connection at once, the config source and the broker (not the store). */
  close(): Promise<void>;
  readonly metrics: RelayMetrics;
  /** Open connections. */
  readonly connectionCount: number;
}

/** Default per-connection limits. */
export const DEFAULT_LIMITS: Readonly<ConnectionLimits> = Object.freeze({
  sendBufferBytes: 65536,
  sendQueueLimitBytes: 4 * 1024 * 1024,
  maxFrameBytes: 16384,
  rateLimit: 20,
  rateLimitBurst: 40,
});

/** Most channels one connection may hold; each costs memory and a snapshot read. */
export const MAX_SUBSCRIPTIONS_PER_CONNECTION = 256;

/** How long live updates already contained in a snapshot are still recognised and skipped, ms. */
const SNAPSHOT_STRAGGLER_MS = 2000;

/** Idle checks per heartbeat-frame interval. */
const IDLE_TICKS = 4;

/** Wait before a failed recovery read of a channel is tried again, ms. */
const RECOVERY_RETRY_MS = 500;

/** Starts a relay: the broker subscription and the config source begin at once. */
export function createRelay(options: RelayOptions): Relay {
  return new JobRelay(options);
}

/**
 * A socket error before or during the upgrade ends the socket. Module-level on purpose: a closure
 * here would keep the whole upgrade request alive for the connection's lifetime.
 */
function destroySocket(this: Duplex): void {
  this.destroy();
}

function rejectUpgrade(socket: Duplex, status: number, text: string): void {
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}

/** Jobs remembered per channel for recoveries: twice the retained jobs, and some room. */
function seenLimit(settings: ChannelSettings): number {
  return 2 * settings.history.maxJobs + 64;
}

function requestUrl(req: IncomingMessage): URL | undefined {
  try {
    return new URL(req.url ?? "/", "http://relay");
  } catch {
    return undefined;
  }
}

class JobRelay implements Relay, ConnectionHost {
  readonly metrics: RelayMetrics;
  readonly #log: Logger;
  readonly #throttled: ThrottledLog;
  readonly #broker: Broker;
  readonly #store: JobStore | undefined;
  readonly #auth: Authenticator | undefined;
  readonly #source: ChannelConfigSource | undefined;
  readonly #limits: ConnectionLimits;
  readonly #origins: ReadonlySet<string>;
  readonly #maxConnections: number;
  readonly #snapshotTimeoutMs: number;
  readonly #hub = new Hub<OutboundFrame, Subscription>();
  readonly #connections = new Set<Connection>();
  readonly #wss: WebSocketServer;
  readonly #heartbeat: NodeJS.Timeout;
  readonly #idleCheck: NodeJS.Timeout;
  readonly #shares: SnapshotShares;
  /**
   * Per channel with local subscribers, what every subscription was handed (live, or by a
   * recovery or a clean snapshot): after a gap, a recovery sends each job stored newer.
   */
  readonly #seen = new SeenSeqs();
  /**
   * Per channel with local subscribers, when its broker subscription delivers (brokers that
   * subscribe per channel only): snapshot reads wait for it, so no update falls between the two.
   */
  readonly #watching = new Map<string, Promise<void>>();
  #policy: ChannelPolicy | undefined;
  #brokerUp = false;
  /** Bumped each time the broker subscription stops being verified live (a possible gap). */
  #epoch = 0;
  /** The epoch whose gap a recovery has closed; clean while it equals {@link #epoch}. */
  #recoveredEpoch = -1;
  #draining = false;
  #allClosed: (() => void) | undefined;

  constructor(options: RelayOptions) {
    this.#log = options.logger ?? pino({ level: "info" });
    this.#throttled = new ThrottledLog(this.#log);
    this.metrics = new RelayMetrics(options.registry, () => this.ready());
    this.#broker = options.broker;
    this.#store = options.store;
    this.#auth = options.auth;
    this.#limits = { ...DEFAULT_LIMITS, ...options.limits };
    this.#origins = new Set(options.allowedOrigins ?? []);
    this.#maxConnections = options.maxConnections ?? 0;
    this.#snapshotTimeoutMs = options.snapshotTimeoutMs ?? 5000;
    this.#shares = new SnapshotShares({ read: (channel) => this.#readSnapshot(channel) });
    this.#wss = new WebSocketServer({
      noServer: true,
      WebSocket: RelaySocket,
      clientTracking: false,
      perMessageDeflate: false,
      maxPayload: this.#limits.maxFrameBytes,
    });
    this.#source =
      options.configSource ?? (options.channels ? staticConfigSource(options.channels) : undefined);
    if (this.#source) {
      this.#source.start((config) => this.#applyConfig(ChannelPolicy.fromConfig(config)));
    } else {
      this.#policy = ChannelPolicy.withoutConfig(this.#auth !== undefined);
      if (this.#policy.mode === "open") {
        this.#log.warn(
          "OPEN DEVELOPMENT MODE: no channel config and no JWT secret or JWKS; every channel is public to anyone. Never run this way in production.",
        );
      } else {
        this.#log.info(
          "no channel config: every valid channel is served to holders of a valid token",
        );
      }
    }
    this.metrics.redisUp.set(0);
    this.#broker
      .start({
        message: this.#onMessage,
        health: (up) => this.#onBrokerHealth(up),
      })
      .catch((e: unknown) =>
        this.#log.error(
          { err: e instanceof Error ? e.message : String(e) },
          "broker failed to start",
        ),
      );
    const heartbeatMs = options.heartbeatMs ?? 30_000;
    this.#heartbeat = setInterval(() => {
      for (const connection of this.#connections) connection.heartbeat();
    }, heartbeatMs);
    this.#heartbeat.unref();
    const frameMs = options.heartbeatFrameMs ?? DEFAULT_HEARTBEAT_INTERVAL_MS;
    const problem = heartbeatIntervalProblem(frameMs);
    if (problem) throw new RangeError(`heartbeatFrameMs ${problem}`);
    const beat = textFrame(JSON.stringify(heartbeatFrame(frameMs)));
    // Checked every quarter interval: a connection idle for four checks, more than 3/4 and at most
    // one interval, gets a heartbeat, so it never stays silent longer than the interval.
    this.#idleCheck = setInterval(
      () => {
        for (const connection of this.#connections) connection.idleTick(IDLE_TICKS, beat);
      },
      Math.max(1, frameMs / IDLE_TICKS),
    );
    this.#idleCheck.unref();
  }

  get connectionCount(): number {
    return this.#connections.size;
  }

  readiness(): Readiness {
    const broker = this.#brokerUp;
    const config = this.#policy !== undefined;
    return { ready: broker && config && !this.#draining, broker, config, draining: this.#draining };
  }

  ready(): boolean {
    return this.readiness().ready;
  }

  attach(server: Server, path = "/ws"): void {
    server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      if (requestUrl(req)?.pathname === path) this.handleUpgrade(req, socket, head);
      // Other paths belong to other upgrade listeners; alone, the relay refuses them.
      else if (server.listenerCount("upgrade") === 1) rejectUpgrade(socket, 404, "Not Found");
    });
  }

  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on("error", destroySocket);
    if (this.#draining) return rejectUpgrade(socket, 503, "Service Unavailable");
    const origin = req.headers.origin;
    if (this.#origins.size > 0 && (origin === undefined || !this.#origins.has(origin))) {
      this.#log.info({ origin }, "upgrade refused: origin not allowed");
      return rejectUpgrade(socket, 403, "Forbidden");
    }
    const url = requestUrl(req);
    if (!url) return rejectUpgrade(socket, 400, "Bad Request");
    const token = tokenFromRequest(req, url.searchParams);
    const channels = url.searchParams.get("channels");
    const accept = (identity: Identity, refusal?: { code: number; message: string }): void => {
      if (socket.destroyed) return;
      // The server creates RelaySockets (its WebSocket option); ws's types do not carry that.
      this.#wss.handleUpgrade(req, socket, head, (ws) =>
        this.#accept(ws as RelaySocket, socket, identity, refusal, channels),
      );
    };
    if (token === undefined || this.#auth === undefined) return accept(ANONYMOUS);
    this.#auth.verify(token).then(
      (result) => {
        if (result.ok) return accept(result.identity);
        const code = result.reason === "expired" ? CloseCode.TokenExpired : CloseCode.Unauthorized;
        accept(ANONYMOUS, { code, message: result.message });
      },
      () => accept(ANONYMOUS, { code: CloseCode.InternalError, message: "token check failed" }),
    );
  }

  #accept(
    ws: RelaySocket,
    socket: Duplex,
    identity: Identity,
    refusal: { code: number; message: string } | undefined,
    channels: string | null,
  ): void {
    // ws listens for socket errors from here on.
    socket.off("error", destroySocket);
    const connection = new Connection(ws, socket, this, this.#limits);
    this.#connections.add(connection);
    this.metrics.connections.inc();
    if (refusal) return connection.close(refusal.code, refusal.message);
    if (this.#draining) return connection.close(CloseCode.GoingAway, "relay shutting down");
    if (this.#maxConnections > 0 && this.#connections.size > this.#maxConnections) {
      return connection.close(CloseCode.TryAgainLater, "relay at capacity");
    }
    connection.setIdentity(identity);
    if (channels) this.#subscribe(connection, channels.split(","));
  }

  // ---- client frames ----

  onFrame(connection: Connection, frame: ClientFrame): void {
    // Frames after an auth frame wait for its verification: "auth, then subscribe" must see the new token.
    const run = (): Promise<void> | undefined => this.#handle(connection, frame);
    const next = connection.busy ? connection.busy.then(run) : run();
    if (next === undefined) return;
    const tracked: Promise<void> = next.then(
      () => {
        if (connection.busy === tracked) connection.busy = undefined;
      },
      (e: unknown) => {
        if (connection.busy === tracked) connection.busy = undefined;
        this.#log.error(
          { err: e instanceof Error ? e.message : String(e) },
          "frame handling failed",
        );
      },
    );
    connection.busy = tracked;
  }

  #handle(connection: Connection, frame: ClientFrame): Promise<void> | undefined {
    switch (frame.type) {
      case "subscribe":
        this.#subscribe(connection, frame.channels);
        return undefined;
      case "unsubscribe":
        for (const channel of frame.channels) this.#unsubscribe(connection, channel, "requested");
        return undefined;
      case "auth":
        return this.#reauthenticate(connection, frame.token);
    }
  }

  #subscribe(connection: Connection, channels: readonly string[]): void {
    // Frames queued behind a token check run after it, when the connection may be gone: a
    // subscription made then would outlive it in the hub.
    if (!connection.open) return;
    const policy = this.#policy;
    for (const channel of channels) {
      if (!isValidChannelName(channel)) {
        connection.sendError(ErrorCode.BadRequest, "not a valid channel name", channel);
        continue;
      }
      const settings = policy?.get(channel);
      if (!settings) {
        connection.sendError(ErrorCode.UnknownChannel, "no such channel", channel);
        continue;
      }
      const problem = accessProblem(settings, connection.identity);
      if (problem) {
        connection.sendError(
          problem,
          problem === ErrorCode.Forbidden
            ? "the token does not grant this channel"
            : "this channel needs a valid token",
          channel,
        );
        continue;
      }
      if (connection.subscriptions.has(channel)) {
        // Already held: live, or its snapshot is on its way. Either way, no second read.
        if (connection.subscriptions.get(channel)!.pending === null) {
          connection.sendText(snapshotPages(channel, [])[0]!);
        }
        continue;
      }
      if (connection.subscriptions.size >= MAX_SUBSCRIPTIONS_PER_CONNECTION) {
        connection.sendError(
          ErrorCode.BadRequest,
          `at most ${MAX_SUBSCRIPTIONS_PER_CONNECTION} subscriptions per connection`,
          channel,
        );
        continue;
      }
      const subscription = new Subscription(connection, channel);
      connection.subscriptions.set(channel, subscription);
      if (!this.#hub.has(channel) && this.#broker.watch) {
        this.#watching.set(channel, this.#broker.watch(channel));
      }
      this.#hub.add(channel, subscription, connection.identity.sub);
      this.metrics.channel(channel).subscriptions.inc();
      void this.#sendSnapshot(subscription, settings);
    }
  }

  /**
   * Reads the snapshot (a shared read) while live frames for the subscription are held, sends it
   * in `subscribed` pages, then releases the held frames that are newer than the snapshot: nothing
   * lost, nothing stale. A read that fails is an error frame and no subscription.
   */
  async #sendSnapshot(subscription: Subscription, settings: ChannelSettings): Promise<void> {
    const { connection, channel } = subscription;
    const current = (): boolean => connection.subscriptions.get(channel) === subscription;
    const watched = this.#watching.get(channel);
    if (watched) {
      await watched;
      if (!current()) return;
    }
    const user = connection.identity.sub;
    const epoch = this.#epoch;
    const issuedLive = this.#brokerUp;
    const ticket = this.#shares.join(channel);
    let jobs: JobUpdate[];
    try {
      jobs = await ticket.jobs;
    } catch (e) {
      this.#throttled.warn(
        "snapshot",
        { channel, err: e instanceof Error ? e.message : String(e) },
        "snapshot read failed",
      );
      if (!current()) return;
      this.#drop(subscription);
      connection.sendError(
        RelayErrorCode.SnapshotUnavailable,
        "the snapshot could not be read; subscribe again",
        channel,
      );
      return;
    }
    if (!current()) return;
    // A read issued on a live subscription with no gap since: every older subscription of the
    // channel already holds these states, so a recovery need not send them again.
    if (issuedLive && epoch === this.#epoch && this.#recoveredEpoch === epoch) {
      for (const job of jobs) this.#seen.note(channel, job, seenLimit(settings));
    }
    const visibleTo = (this.#policy?.get(channel) ?? settings).visibility;
    // Copies: a store may hand out the objects it keeps (the in-memory one does).
    const visible = (
      visibleTo === "user" ? jobs.filter((j) => j.userId !== undefined && j.userId === user) : jobs
    ).map((job) => ({ ...job, channel }));
    const seqs = new Map<string, number>();
    for (const job of visible) if (job.seq !== undefined) seqs.set(job.jobId, job.seq);
    if (!(await sendPages(connection, snapshotPages(channel, visible), current))) return;
    const held = subscription.pending;
    subscription.pending = null;
    if (seqs.size > 0) {
      subscription.floor = seqs;
      setTimeout(() => {
        if (subscription.floor === seqs) subscription.floor = null;
      }, SNAPSHOT_STRAGGLER_MS).unref();
    }
    let written = 0;
    while (held !== null && held.length > 0) if (subscription.deliver(held.shift()!)) written++;
    if (written > 0) this.metrics.channel(channel).delivered.inc(written);
  }

  #readSnapshot(channel: string): Promise<JobUpdate[]> {
    const settings = this.#policy?.get(channel);
    if (!this.#store || !settings) return Promise.resolve([]);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`no answer in ${this.#snapshotTimeoutMs} ms`)),
        this.#snapshotTimeoutMs,
      );
    });
    return Promise.race([this.#store.snapshot(channel, settings.history), timeout]).finally(() =>
      clearTimeout(timer),
    );
  }

  #unsubscribe(connection: Connection, channel: string, reason: string): void {
    const subscription = connection.subscriptions.get(channel);
    if (subscription) this.#drop(subscription);
    if (connection.open)
      connection.sendText(JSON.stringify({ type: "unsubscribed", channel, reason }));
  }

  /** Takes a subscription out of the hub and its connection. */
  #drop(subscription: Subscription): void {
    const { connection, channel } = subscription;
    connection.subscriptions.delete(channel);
    subscription.pending = null;
    if (this.#hub.remove(channel, subscription, connection.identity.sub)) {
      this.metrics.channel(channel).subscriptions.dec();
    }
    if (!this.#hub.has(channel)) {
      this.#shares.forget(channel);
      this.#seen.forget(channel);
      if (this.#watching.delete(channel)) this.#broker.unwatch?.(channel);
    }
  }

  async #reauthenticate(connection: Connection, token: string): Promise<void> {
    // Without a verifier tokens are ignored, as on the upgrade request.
    if (!this.#auth) return;
    const result = await this.#auth.verify(token);
    if (!connection.open) return;
    if (!result.ok) {
      connection.sendError(ErrorCode.Unauthorized, result.message);
      return;
    }
    const before = connection.identity;
    const after = result.identity;
    if (before.sub !== undefined && after.sub !== before.sub) {
      connection.sendError(
        ErrorCode.Forbidden,
        "a connection keeps one user: reconnect to change user",
      );
      return;
    }
    connection.setIdentity(after);
    for (const subscription of connection.subscriptions.values()) {
      this.#hub.refile(subscription.channel, subscription, before.sub, after.sub);
    }
    this.#recheck(connection);
  }

  /** Ends the subscriptions a connection may no longer hold under the current policy. */
  #recheck(connection: Connection): void {
    for (const channel of [...connection.subscriptions.keys()]) {
      const settings = this.#policy?.get(channel);
      const problem = settings ? accessProblem(settings, connection.identity) : "channel_removed";
      if (problem) this.#unsubscribe(connection, channel, problem);
    }
  }

  #applyConfig(policy: ChannelPolicy): void {
    this.#policy = policy;
    const affected = new Set<Connection>();
    for (const channel of this.#hub.channels()) {
      for (const subscription of this.#hub.members(channel)) affected.add(subscription.connection);
    }
    for (const connection of affected) this.#recheck(connection);
  }

  // ---- updates from the broker: the hot path ----

  readonly #onMessage = (channel: string, payload: Buffer | string): void => {
    const settings = this.#policy?.get(channel);
    if (!settings) {
      this.metrics.drop(isValidChannelName(channel) ? "unknown_channel" : "invalid_channel");
      return;
    }
    const channelMetrics = this.metrics.channel(channel);
    channelMetrics.received.inc();
    // Nobody here listens: skip decoding altogether.
    if (!this.#hub.has(channel)) return;
    const byteLength = typeof payload === "string" ? Buffer.byteLength(payload) : payload.length;
    if (byteLength > settings.maxMessageBytes) {
      return this.#reject(
        channel,
        "too_large",
        `${byteLength} bytes, larger than ${settings.maxMessageBytes}`,
      );
    }
    const parsed = parseJobUpdate(
      typeof payload === "string" ? payload : payload.toString("utf8"),
      {
        maxBytes: settings.maxMessageBytes,
        byteLength,
      },
    );
    if (!parsed.ok) return this.#reject(channel, "malformed", parsed.error.message);
    const update = parsed.value;
    update.channel = channel;
    this.#fanOut(channel, settings, update);
    channelMetrics.latency.observe(Math.max(0, Date.now() - update.timestamp) / 1000);
  };

  /** Hands an update (its `channel` set) to the channel's subscriptions that may see it. */
  #fanOut(channel: string, settings: ChannelSettings, update: JobUpdate): number {
    const frame = jobFrame(update, channel);
    let written: number;
    if (settings.visibility === "user") {
      written =
        update.userId === undefined ? 0 : this.#hub.fanOutToUser(channel, update.userId, frame);
    } else {
      written = this.#hub.fanOut(channel, frame);
    }
    if (written > 0) this.metrics.channel(channel).delivered.inc(written);
    // Only stored states go into shared snapshots: an update without seq has no snapshot entry.
    if (update.seq !== undefined) {
      this.#shares.record(channel, update, frame.bytes.length);
      this.#seen.note(channel, update, seenLimit(settings));
    }
    return written;
  }

  // ---- gaps in the broker subscription ----

  #onBrokerHealth(up: boolean): void {
    if (up === this.#brokerUp) return;
    this.#brokerUp = up;
    this.metrics.redisUp.set(up ? 1 : 0);
    this.#shares.setEnabled(up);
    if (!up) {
      this.#epoch++;
      return;
    }
    void this.#recover(this.#epoch);
  }

  /**
   * The subscription is live again after a possible gap: reads the snapshot of every channel with
   * local subscribers and sends each job whose stored seq is newer than what they were handed, as
   * a `job` frame. Failed reads are retried until they succeed or another gap starts over.
   */
  async #recover(epoch: number): Promise<void> {
    const channels = this.#hub.channels();
    let sent = 0;
    await Promise.all(
      channels.map(async (channel) => {
        while (this.#epoch === epoch && this.#hub.has(channel)) {
          const settings = this.#policy?.get(channel);
          if (!settings) return;
          try {
            const jobs = await this.#shares.join(channel).jobs;
            if (this.#epoch !== epoch) return;
            for (const job of jobs) {
              if (!this.#seen.newer(channel, job)) continue;
              this.#fanOut(channel, settings, { ...job, channel });
              sent++;
            }
            return;
          } catch (e) {
            this.#throttled.warn(
              "recovery",
              { channel, err: e instanceof Error ? e.message : String(e) },
              "recovery read failed, retrying",
            );
            await new Promise((resolve) => setTimeout(resolve, RECOVERY_RETRY_MS).unref());
          }
        }
      }),
    );
    if (this.#epoch !== epoch) return;
    this.#recoveredEpoch = epoch;
    // Epoch 0 is the first subscription, not a gap.
    if (epoch === 0) return;
    this.metrics.recoveries.inc();
    this.#log.info(
      { channels: channels.length, jobs: sent },
      "subscriptions recovered after a gap",
    );
  }

  #reject(channel: string, reason: DropReason, problem: string): void {
    this.metrics.drop(reason);
    this.#throttled.warn(`payload:${reason}`, { channel, reason, problem }, "update dropped");
  }

  // ---- connection events ----

  onDeferredWrite(frame: OutboundFrame): void {
    const channel = this.metrics.channel(frame.channel!);
    channel.delivered.inc();
    // A slow client's update reaches its socket late: that delay is fan-out latency too.
    channel.latency.observe(Math.max(0, Date.now() - frame.timestamp) / 1000);
  }

  onDrop(reason: DropReason, count: number): void {
    this.metrics.drop(reason, count);
  }

  onRefusal(code: RefusalCode): void {
    this.metrics.refusal(code);
  }

  onClose(connection: Connection, code: number): void {
    if (!this.#connections.delete(connection)) return;
    for (const subscription of [...connection.subscriptions.values()]) this.#drop(subscription);
    this.metrics.connections.dec();
    this.metrics.disconnect(code);
    this.#log.debug({ code }, "connection closed");
    if (this.#connections.size === 0) this.#allClosed?.();
  }

  // ---- shutdown ----

  async drain(ms: number): Promise<void> {
    this.#draining = true;
    const connections = [...this.#connections];
    if (connections.length === 0) return;
    this.#log.info({ connections: connections.length, windowMs: ms }, "draining");
    const timers = closeInBatches(connections, ms, (c) =>
      c.close(CloseCode.GoingAway, "relay shutting down"),
    );
    await this.#waitForAllClosed(ms + 5000);
    timers.forEach(clearTimeout);
  }

  #waitForAllClosed(ms: number): Promise<void> {
    return new Promise((resolve) => {
      if (this.#connections.size === 0) return resolve();
      const timer = setTimeout(() => {
        // Clients that never answered the close handshake are cut off.
        for (const connection of this.#connections) connection.ws.terminate();
        resolve();
      }, ms);
      this.#allClosed = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  async close(): Promise<void> {
    this.#draining = true;
    clearInterval(this.#heartbeat);
    clearInterval(this.#idleCheck);
    for (const connection of this.#connections)
      connection.close(CloseCode.GoingAway, "relay shutting down");
    await this.#waitForAllClosed(1000);
    await this.#source?.stop();
    await this.#broker.close();
    this.#wss.close();
  }
}
