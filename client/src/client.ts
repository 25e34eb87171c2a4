// The framework-free jobchannel client: one WebSocket to the relay, credentials, reference-counted
// subscriptions, per-channel job maps, and reconnection by the close-code rule.
import {
  CloseCode,
  ErrorCode,
  MAX_CHANNELS_PER_FRAME,
  SERVER_FRAME_TYPES,
  channelNameProblem,
  parseServerFrame,
  shouldReconnect,
  type ClientFrame,
  type JobUpdate,
  type ServerFrame,
} from "@jobchannel/protocol";
import {
  backoffDelay,
  resolveBackoff,
  type BackoffOptions,
  type ResolvedBackoff,
} from "./backoff.ts";
import { Emitter } from "./emitter.ts";
import { Credentials, type TokenProvider } from "./credentials.ts";
import { ClientError, ClientErrorCode } from "./errors.ts";
import { JobMap, mergeNewestFirst, type JobEntry } from "./job-map.ts";
import { SilenceWatch, watchEnvironment } from "./liveness.ts";
import { connectUrl, resolveRelayUrl } from "./url.ts";

/**
 * `connecting`: first attempt after {@link JobChannelClient.connect}; `open`: connected;
 * `reconnecting`: the connection was lost and the client is waiting or trying again;
 * `closed`: not connected and not trying (never connected, closed by the application, or closed by
 * the relay with a final code).
 */
export type ConnectionState = "connecting" | "open" | "reconnecting" | "closed";

/**
 * `pending`: asked for, no snapshot yet; `subscribed`: snapshot received, live updates flow;
 * `unsubscribed`: the relay ended the subscription (channel removed, access lost);
 * `refused`: the relay answered with an error (unauthorized, forbidden, unknown channel).
 */
export type ChannelStatus = "pending" | "subscribed" | "unsubscribed" | "refused";

/** Where a subscribed channel stands. */
export interface ChannelInfo {
  readonly status: ChannelStatus;
  /** The relay's reason, for `unsubscribed` and `refused`. */
  readonly reason: string | undefined;
}

export type { TokenProvider } from "./credentials.ts";

/**
 * Any WHATWG-compatible WebSocket class: the browser's, Node's global one, or the `ws` package's.
 * Typed loosely because those classes differ in their event types; the client uses only `onopen`,
 * `onmessage`, `onclose`, `onerror`, `send`, `close` and `readyState`.
 */
export type WebSocketConstructor = new (url: string) => unknown;

/** Options of {@link JobChannelClient}. */
export interface ClientOptions {
  /** The relay endpoint; relative URLs resolve against the page's origin. @default "/ws" */
  url?: string;
  /**
   * A fixed token (a JWT, or whatever the relay accepts). Without `getToken`, close 4001 stops the
   * client with `token_expired` until {@link JobChannelClient.setToken} gives it a new one.
   */
  token?: string;
  /**
   * Returns a token; called before connecting when no token is held, after the relay closed with
   * 4001 (token expired), and shortly before a held JWT's `exp`. After 4001, the same token again
   * or none stops the client with `token_expired`.
   */
  getToken?: TokenProvider;
  /**
   * How the token reaches the relay: the `access_token` query parameter, or an `auth` frame sent
   * first after the connection opens. Refreshed tokens always travel in an `auth` frame.
   * @default "query"
   */
  sendTokenAs?: "query" | "frame";
  /** Refresh a JWT this many milliseconds before its `exp`. @default 30000 */
  refreshMarginMs?: number;
  /** The WebSocket implementation. @default globalThis.WebSocket */
  WebSocket?: WebSocketConstructor;
  /** Reconnect timing. */
  backoff?: BackoffOptions;
  /** Most jobs kept per channel; the oldest finished jobs go first. 0 = unbounded. @default 1000 */
  maxJobsPerChannel?: number;
  /** Connect on the first subscribe, without an explicit {@link JobChannelClient.connect}. @default true */
  autoConnect?: boolean;
  /**
   * A WebSocket that has neither opened nor failed after this many milliseconds is abandoned and
   * retried with backoff. 0 = wait for the browser. @default 10000
   */
  connectTimeoutMs?: number;
}

/** A closed connection, as the `close` event reports it. */
export interface CloseInfo {
  readonly code: number;
  readonly reason: string;
  /** Delay before the next attempt, or undefined when the client will not reconnect. */
  readonly reconnectInMs: number | undefined;
}

/** Events of {@link JobChannelClient}. */
export interface ClientEvents {
  /** The connection state changed. */
  state: [state: ConnectionState];
  /** A channel's jobs or status changed. */
  jobs: [channel: string];
  /** A relay `error` frame, or a problem the client found. The connection carries on unless closed. */
  error: [error: ClientError];
  /** The connection closed. */
  close: [info: CloseInfo];
}

interface MessageEventLike {
  readonly data: unknown;
}

interface CloseEventLike {
  readonly code: number;
  readonly reason: string;
}

interface Socket {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: (() => void) | null;
  onmessage: ((event: MessageEventLike) => void) | null;
  onclose: ((event: CloseEventLike) => void) | null;
  onerror: (() => void) | null;
}

interface Channel {
  refs: number;
  status: ChannelStatus;
  reason: string | undefined;
  readonly jobs: JobMap;
}

const SOCKET_OPEN = 1;
// What the `close` event reports for a connection the client gave up on itself: 1006 (closed
// without a close frame) is what a browser reports for a connection that failed on its own.
const CLOSE_ABNORMAL = 1006;
const KNOWN_FRAME_TYPES: ReadonlySet<string> = new Set(SERVER_FRAME_TYPES);
// setTimeout fires at once for delays past 2^31-1 ms; a token valid that long needs no timer yet.
const MAX_TIMER_MS = 2_147_483_647;
const MAX_COMBINED_VIEWS = 64;
const EMPTY_JOBS: readonly JobUpdate[] = Object.freeze([]);
const EMPTY_ENTRIES: readonly JobEntry[] = Object.freeze([]);
const REFUSING_CODES: ReadonlySet<string> = new Set([
  ErrorCode.Unauthorized,
  ErrorCode.Forbidden,
  ErrorCode.UnknownChannel,
]);

function channelList(channels: string | readonly string[]): string[] {
  const names = typeof channels === "string" ? [channels] : [...channels];
  for (const name of names) {
    const problem = channelNameProblem(name);
    if (problem) {
      throw new ClientError(
        ClientErrorCode.InvalidChannel,
        `channel ${JSON.stringify(name)} ${problem}`,
        {
          channel: String(name),
        },
      );
    }
  }
  return [...new Set(names)];
}

/**
 * A connection to a jobchannel relay holding the jobs of the channels it subscribed to.
 *
 * ```ts
 * const client = new JobChannelClient({ url: "wss://jobs.example.com/ws", getToken });
 * const release = client.subscribe("file-upload");
 * client.on("jobs", (channel) => render(client.jobs(channel)));
 * ```
 */
export class JobChannelClient {
  readonly #url: string | undefined;
  readonly #sendTokenAs: "query" | "frame";
  readonly #WebSocket: WebSocketConstructor | undefined;
  readonly #backoff: ResolvedBackoff;
  readonly #maxJobs: number;
  readonly #autoConnect: boolean;
  readonly #connectTimeoutMs: number;
  readonly #silence = new SilenceWatch((silentMs) => this.#onSilent(silentMs));
  readonly #events = new Emitter<ClientEvents>();
  readonly #channels = new Map<string, Channel>();
  readonly #combined = new Map<
    string,
    { inputs: readonly (readonly JobEntry[])[]; jobs: readonly JobUpdate[] }
  >();
  #state: ConnectionState = "closed";
  #wanted = false;
  #socket: Socket | undefined;
  #generation = 0;
  #openedAt = 0;
  #attempt = 0;
  #ordinal = 0;
  #reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  #refreshTimer: ReturnType<typeof setTimeout> | undefined;
  #connectTimer: ReturnType<typeof setTimeout> | undefined;
  #unwatchEnvironment: (() => void) | undefined;
  readonly #credentials: Credentials;
  #lastError: ClientError | undefined;

  constructor(options: ClientOptions = {}) {
    this.#url = options.url;
    this.#credentials = new Credentials(
      options.token,
      options.getToken,
      options.refreshMarginMs ?? 30_000,
    );
    this.#sendTokenAs = options.sendTokenAs ?? "query";
    this.#WebSocket = options.WebSocket;
    this.#backoff = resolveBackoff(options.backoff);
    this.#maxJobs = options.maxJobsPerChannel ?? 1000;
    this.#autoConnect = options.autoConnect ?? true;
    this.#connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
  }

  /** The connection state. */
  get state(): ConnectionState {
    return this.#state;
  }

  /** The most recent error reported through the `error` event. */
  get lastError(): ClientError | undefined {
    return this.#lastError;
  }

  /** Adds an event listener; the returned function removes it. */
  on<K extends keyof ClientEvents>(
    event: K,
    listener: (...args: ClientEvents[K]) => void,
  ): () => void {
    return this.#events.on(event, listener);
  }

  /** Opens the connection (and keeps it open, reconnecting as the close-code rule allows). */
  connect(): void {
    if (this.#wanted) return;
    this.#wanted = true;
    this.#attempt = 0;
    this.#unwatchEnvironment ??= watchEnvironment({
      online: () => this.#reconnectNow("the browser is back online"),
      visible: (hiddenMs) => {
        // A connection heard from lately is alive; any other may have died while the page slept.
        if (
          hiddenMs > this.#silence.timeoutMs &&
          !(this.#state === "open" && this.#silence.recentlyHeard())
        )
          this.#reconnectNow(`the page was hidden for ${hiddenMs} ms`);
      },
    });
    this.#dial("connecting");
  }

  /** Closes the connection and stops reconnecting. Subscriptions are kept for a later {@link connect}. */
  close(): void {
    this.#wanted = false;
    this.#generation++;
    this.#stopWatching();
    clearTimeout(this.#reconnectTimer);
    clearTimeout(this.#refreshTimer);
    const socket = this.#socket;
    this.#socket = undefined;
    if (socket) {
      socket.close(1000, "client closed");
      this.#markPending();
    }
    this.#setState("closed");
  }

  /**
   * Subscribes to channels (reference-counted: each call needs its own release). Returns the
   * release function, which is safe to call more than once.
   */
  subscribe(channels: string | readonly string[]): () => void {
    const names = channelList(channels);
    const fresh: string[] = [];
    for (const name of names) {
      const channel = this.#channels.get(name);
      if (channel) channel.refs++;
      else {
        this.#channels.set(name, {
          refs: 1,
          status: "pending",
          reason: undefined,
          jobs: new JobMap(this.#maxJobs, () => ++this.#ordinal),
        });
        fresh.push(name);
      }
    }
    this.#sendChannels("subscribe", fresh);
    if (this.#autoConnect && !this.#wanted) this.connect();
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.unsubscribe(names);
    };
  }

  /** Releases one reference to each channel; a channel nobody holds is unsubscribed and forgotten. */
  unsubscribe(channels: string | readonly string[]): void {
    const gone: string[] = [];
    for (const name of channelList(channels)) {
      const channel = this.#channels.get(name);
      if (!channel || --channel.refs > 0) continue;
      this.#channels.delete(name);
      gone.push(name);
    }
    this.#sendChannels("unsubscribe", gone);
    for (const name of gone) this.#events.emit("jobs", name);
  }

  /** Channels currently subscribed. */
  channels(): string[] {
    return [...this.#channels.keys()];
  }

  /** Where a subscribed channel stands, or undefined when it is not subscribed. */
  channel(name: string): ChannelInfo | undefined {
    const channel = this.#channels.get(name);
    return channel && { status: channel.status, reason: channel.reason };
  }

  /**
   * Jobs of one or more subscribed channels, newest (first seen) first. The same array is returned
   * until one of those channels changes, so it can serve as a React external-store snapshot.
   */
  jobs<T extends JobUpdate = JobUpdate>(channels: string | readonly string[]): readonly T[] {
    const names = typeof channels === "string" ? [channels] : channels;
    if (names.length === 1)
      return (this.#channels.get(names[0]!)?.jobs.jobs() ?? EMPTY_JOBS) as readonly T[];
    const inputs = names.map((name) => this.#channels.get(name)?.jobs.entries() ?? EMPTY_ENTRIES);
    const key = names.join(",");
    const cached = this.#combined.get(key);
    if (cached && cached.inputs.every((input, i) => input === inputs[i]))
      return cached.jobs as readonly T[];
    const jobs = mergeNewestFirst(inputs);
    this.#combined.delete(key);
    if (this.#combined.size >= MAX_COMBINED_VIEWS)
      this.#combined.delete(this.#combined.keys().next().value!);
    this.#combined.set(key, { inputs, jobs });
    return jobs as readonly T[];
  }

  /** One job of a subscribed channel. */
  job<T extends JobUpdate = JobUpdate>(channel: string, jobId: string): T | undefined {
    return this.#channels.get(channel)?.jobs.get(jobId) as T | undefined;
  }

  /** Replaces the token; on an open connection it is sent at once in an `auth` frame. */
  setToken(token: string | undefined): void {
    const stoppedOnExpiry = this.#credentials.expired;
    if (!this.#credentials.set(token)) return;
    if (stoppedOnExpiry && token !== undefined) {
      // Stopped on an expired token: this one may be accepted.
      this.connect();
      return;
    }
    if (token !== undefined && this.#socket?.readyState === SOCKET_OPEN) {
      this.#send({ type: "auth", token });
      this.#scheduleRefresh();
    }
  }

  /** Replaces the token provider used from the next refresh or connection on. */
  setTokenProvider(getToken: TokenProvider | undefined): void {
    this.#credentials.setProvider(getToken);
  }

  #setState(state: ConnectionState): void {
    if (state === this.#state) return;
    this.#state = state;
    this.#events.emit("state", state);
  }

  #report(error: ClientError): void {
    this.#lastError = error;
    this.#events.emit("error", error);
  }

  #dial(state: "connecting" | "reconnecting"): void {
    const generation = ++this.#generation;
    this.#setState(state);
    this.#open(generation).catch((cause: unknown) => {
      if (generation !== this.#generation) return;
      this.#report(
        cause instanceof ClientError
          ? cause
          : new ClientError(
              ClientErrorCode.InvalidUrl,
              `cannot open the relay connection: ${String(cause)}`,
              { cause },
            ),
      );
      this.#giveUp();
    });
  }

  async #open(generation: number): Promise<void> {
    // A bad URL or a missing WebSocket will not get better by retrying: these throw and give up.
    const base = resolveRelayUrl(this.#url);
    const WebSocketClass =
      this.#WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (WebSocketClass === undefined) {
      throw new ClientError(
        ClientErrorCode.NoWebSocket,
        "no WebSocket implementation: pass one as the WebSocket option",
      );
    }
    let token: string | undefined;
    try {
      token = await this.#credentials.current();
    } catch (cause) {
      if (generation !== this.#generation) return;
      this.#report(
        new ClientError(ClientErrorCode.TokenFailed, `getToken failed: ${String(cause)}`, {
          cause,
        }),
      );
      this.#scheduleReconnect();
      return;
    }
    if (generation !== this.#generation) return;
    const noFresher = this.#credentials.noFresher(token);
    if (noFresher !== undefined) {
      this.#stopOnExpiredToken(noFresher);
      return;
    }
    const viaFrame = this.#sendTokenAs === "frame";
    const socket = new WebSocketClass(connectUrl(base, viaFrame ? undefined : token)) as Socket;
    this.#socket = socket;
    socket.onopen = () => this.#onOpen(socket, viaFrame ? token : undefined);
    socket.onmessage = (event) => {
      if (socket === this.#socket) this.#onMessage(event.data);
    };
    socket.onclose = (event) => this.#onClose(socket, event.code, event.reason);
    // Every error event is followed by a close event, which is where the client acts.
    socket.onerror = () => {};
    if (this.#connectTimeoutMs > 0) {
      this.#connectTimer = setTimeout(
        () =>
          this.#abandon(
            socket,
            CLOSE_ABNORMAL,
            `no answer from the relay within ${this.#connectTimeoutMs} ms`,
          ),
        this.#connectTimeoutMs,
      );
    }
  }

  #onOpen(socket: Socket, frameToken: string | undefined): void {
    if (socket !== this.#socket) return;
    clearTimeout(this.#connectTimer);
    this.#openedAt = Date.now();
    this.#silence.opened();
    if (frameToken !== undefined) this.#send({ type: "auth", token: frameToken });
    this.#sendChannels("subscribe", [...this.#channels.keys()]);
    this.#scheduleRefresh();
    this.#setState("open");
  }

  #onClose(socket: Socket, code: number, reason: string, immediate = false): void {
    if (socket !== this.#socket) return;
    this.#socket = undefined;
    clearTimeout(this.#refreshTimer);
    clearTimeout(this.#connectTimer);
    this.#silence.stop();
    const openFor = this.#openedAt === 0 ? 0 : Date.now() - this.#openedAt;
    this.#openedAt = 0;
    this.#markPending();
    if (!shouldReconnect(code)) {
      this.#report(
        new ClientError(
          ClientErrorCode.FinalClose,
          `the relay closed the connection (${code}${reason ? `: ${reason}` : ""})`,
          {
            closeCode: code,
          },
        ),
      );
      this.#events.emit("close", { code, reason, reconnectInMs: undefined });
      this.#giveUp();
      return;
    }
    if (code === CloseCode.TokenExpired) {
      this.#credentials.refuse();
      if (!this.#credentials.hasProvider) {
        this.#stopOnExpiredToken("the token is fixed", { code, reason, reconnectInMs: undefined });
        return;
      }
    }
    if (openFor >= this.#backoff.stableAfterMs) this.#attempt = 0;
    const delay = this.#scheduleReconnect(immediate);
    this.#events.emit("close", { code, reason, reconnectInMs: delay });
  }

  /**
   * Gives up on a socket that may be dead without knowing it (silent, or never answering): closes
   * it, and goes on at once as if it had closed with `code`. Its own close event, which a dead
   * network may deliver only minutes later, is ignored.
   */
  #abandon(socket: Socket, code: number, reason: string, immediate = false): void {
    if (socket !== this.#socket) return;
    const open = socket.readyState === SOCKET_OPEN;
    // Closing a socket that is still connecting fails it; a close code is for an open one, and
    // 1006 may not be sent: the relay then sees a client leave normally (1000) to reconnect.
    if (open) socket.close(code === CLOSE_ABNORMAL ? 1000 : code, reason.slice(0, 120));
    else socket.close();
    this.#onClose(socket, code, reason, immediate);
  }

  #onSilent(silentMs: number): void {
    const socket = this.#socket;
    if (socket) {
      this.#abandon(
        socket,
        CloseCode.HeartbeatTimeout,
        `no frame from the relay for ${silentMs} ms`,
      );
    }
  }

  /** Reconnects without waiting for backoff: the current connection may have died unnoticed. */
  #reconnectNow(reason: string): void {
    if (!this.#wanted) return;
    if (this.#socket) this.#abandon(this.#socket, CLOSE_ABNORMAL, reason, true);
    else if (this.#reconnectTimer !== undefined) this.#scheduleReconnect(true);
  }

  #stopWatching(): void {
    this.#unwatchEnvironment?.();
    this.#unwatchEnvironment = undefined;
    this.#silence.stop();
    clearTimeout(this.#connectTimer);
  }

  /** Stops after 4001 without a fresh token; `close` is the close event still to emit, if any. */
  #stopOnExpiredToken(why: string, close?: CloseInfo): void {
    this.#report(
      new ClientError(
        ClientErrorCode.TokenExpired,
        `the relay closed the connection because the token expired (4001), and there is no fresh token to reconnect with: ${why}`,
        { closeCode: CloseCode.TokenExpired },
      ),
    );
    if (close) this.#events.emit("close", close);
    this.#giveUp();
  }

  #giveUp(): void {
    this.#wanted = false;
    this.#stopWatching();
    clearTimeout(this.#reconnectTimer);
    this.#setState("closed");
  }

  /** Schedules the next attempt after the backoff delay, or at once; returns the delay. */
  #scheduleReconnect(immediate = false): number {
    const delay = immediate ? 0 : backoffDelay(this.#attempt++, this.#backoff);
    clearTimeout(this.#reconnectTimer);
    this.#setState("reconnecting");
    this.#reconnectTimer = setTimeout(() => {
      this.#reconnectTimer = undefined;
      if (this.#wanted) this.#dial("reconnecting");
    }, delay);
    return delay;
  }

  #scheduleRefresh(): void {
    clearTimeout(this.#refreshTimer);
    const delay = this.#credentials.refreshInMs();
    if (delay === undefined || delay > MAX_TIMER_MS) return;
    this.#refreshTimer = setTimeout(() => void this.#refresh(), delay);
  }

  async #refresh(): Promise<void> {
    const socket = this.#socket;
    this.#credentials.markStale();
    let token: string | undefined;
    try {
      token = await this.#credentials.current();
    } catch (cause) {
      // The relay will close with 4001 when the old token expires; the reconnect asks again.
      this.#report(
        new ClientError(ClientErrorCode.TokenFailed, `getToken failed: ${String(cause)}`, {
          cause,
        }),
      );
      return;
    }
    if (socket === undefined || socket !== this.#socket || socket.readyState !== SOCKET_OPEN)
      return;
    if (token !== undefined) this.#send({ type: "auth", token });
    this.#scheduleRefresh();
  }

  #markPending(): void {
    for (const [name, channel] of this.#channels) {
      if (channel.status === "pending") continue;
      channel.status = "pending";
      channel.reason = undefined;
      this.#events.emit("jobs", name);
    }
  }

  #send(frame: ClientFrame): void {
    const socket = this.#socket;
    if (socket?.readyState === SOCKET_OPEN) socket.send(JSON.stringify(frame));
  }

  #sendChannels(type: "subscribe" | "unsubscribe", names: readonly string[]): void {
    for (let i = 0; i < names.length; i += MAX_CHANNELS_PER_FRAME) {
      this.#send({ type, channels: names.slice(i, i + MAX_CHANNELS_PER_FRAME) });
    }
  }

  #onMessage(data: unknown): void {
    this.#silence.frame();
    if (typeof data !== "string") {
      this.#report(new ClientError(ClientErrorCode.InvalidFrame, "the relay sent a binary frame"));
      return;
    }
    const parsed = parseServerFrame(data);
    if (!parsed.ok) {
      // A frame type newer than this client is ignored, so that relays can add frame types.
      if (parsed.error.field === "type" && hasUnknownType(data)) return;
      this.#report(
        new ClientError(
          ClientErrorCode.InvalidFrame,
          `invalid relay frame: ${parsed.error.message}`,
        ),
      );
      return;
    }
    this.#handle(parsed.value);
  }

  #handle(frame: ServerFrame): void {
    switch (frame.type) {
      case "subscribed": {
        const channel = this.#channels.get(frame.channel);
        if (!channel) return;
        channel.status = "subscribed";
        channel.reason = undefined;
        channel.jobs.applyAll(
          frame.jobs.map((job) =>
            job.channel === undefined ? { ...job, channel: frame.channel } : job,
          ),
        );
        this.#events.emit("jobs", frame.channel);
        return;
      }
      case "job": {
        const name = frame.job.channel;
        if (name === undefined) {
          this.#report(
            new ClientError(
              ClientErrorCode.InvalidFrame,
              "invalid relay frame: job.channel is missing",
            ),
          );
          return;
        }
        if (this.#channels.get(name)?.jobs.apply(frame.job)) this.#events.emit("jobs", name);
        return;
      }
      case "unsubscribed": {
        const channel = this.#channels.get(frame.channel);
        if (!channel) return;
        channel.status = "unsubscribed";
        channel.reason = frame.reason;
        this.#events.emit("jobs", frame.channel);
        return;
      }
      case "error": {
        const channel = frame.channel === undefined ? undefined : this.#channels.get(frame.channel);
        if (channel && REFUSING_CODES.has(frame.code)) {
          channel.status = "refused";
          channel.reason = frame.message;
          this.#events.emit("jobs", frame.channel!);
        }
        this.#report(
          new ClientError(frame.code, frame.message, {
            fromRelay: true,
            ...(frame.channel === undefined ? {} : { channel: frame.channel }),
          }),
        );
        return;
      }
      case "heartbeat":
        this.#silence.heartbeat(frame.interval);
        return;
    }
  }
}

/** True for a JSON object whose `type` is a string this client does not know. */
function hasUnknownType(text: string): boolean {
  try {
    const type: unknown = (JSON.parse(text) as { type?: unknown } | null)?.type;
    return typeof type === "string" && !KNOWN_FRAME_TYPES.has(type);
  } catch {
    // Not JSON: an invalid frame, not an unknown one.
    return false;
  }
}
