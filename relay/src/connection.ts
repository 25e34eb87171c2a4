// One client connection: identity and its expiry, heartbeat, client-frame rate limit, and the
// bounded send path that writes prebuilt frames straight to the socket.
import type { Duplex } from "node:stream";
import {
  CloseCode,
  ErrorCode,
  errorFrame,
  parseClientFrame,
  type ClientFrame,
} from "@jobchannel/protocol";
import { WebSocket, type RawData } from "ws";
import { ANONYMOUS, type Identity } from "./auth.ts";
import type { HubMember } from "./hub.ts";
import type { DropReason, RefusalCode } from "./metrics.ts";
import { RawSocket } from "./raw-socket.ts";
import { SendQueue } from "./send-queue.ts";
import { textFrame, type OutboundFrame } from "./wire.ts";

/** Limits of one connection. */
export interface ConnectionLimits {
  /** Socket backlog, bytes, past which frames wait in the connection's own queue. @default 65536 */
  sendBufferBytes: number;
  /** Queued bytes past which the client is closed with 4000. @default 4194304 */
  sendQueueLimitBytes: number;
  /** Largest client frame, bytes (enforced by ws; here to size the decoder). @default 16384 */
  maxFrameBytes: number;
  /** Client frames per second. @default 20 */
  rateLimit: number;
  /** Client frames allowed in a burst. @default 40 */
  rateLimitBurst: number;
}

/** What a connection reports to the relay. */
export interface ConnectionHost {
  onFrame(connection: Connection, frame: ClientFrame): void;
  onClose(connection: Connection, code: number): void;
  /** A queued job frame reached the socket. */
  onDeferredWrite(frame: OutboundFrame): void;
  onDrop(reason: DropReason, count: number): void;
  /** An `error` frame of `code` was sent: a request was refused. */
  onRefusal(code: RefusalCode): void;
}

/** ws closes an oversize frame with 1009; the protocol's code for it is 4413. */
const WS_MESSAGE_TOO_BIG = 1009;
/**
 * ws closes a frame that breaks RFC 6455 with 1002 (bad opcode, mask, RSV bits, control frame,
 * close code) and a text frame that is not UTF-8 with 1007; the protocol's code for both is 4400.
 */
const WS_BROKEN_FRAME: ReadonlySet<number> = new Set([1002, 1007]);
/** Time a closed connection gets to answer the close handshake before its socket is cut, ms. */
const CLOSE_GRACE_MS = 5000;
/** Longest delay a Node timer takes, ms. */
const MAX_TIMER_MS = 2 ** 31 - 1;

// Sockets written to in this turn of the event loop stay corked until it ends, so the frames of
// a burst of updates leave in one write per socket. `turn` tells a connection whether its cork
// belongs to the current turn.
const corked: RawSocket[] = [];
let turn = 0;
let uncorkScheduled = false;
function uncorkAll(): void {
  uncorkScheduled = false;
  turn++;
  for (const socket of corked) socket.uncork();
  corked.length = 0;
}

/**
 * The relay's WebSocket class (given to WebSocketServer). It knows its Connection, so the event
 * listeners below are shared functions instead of closures per connection, and it reports an
 * oversize frame with the protocol's 4413 and a broken frame with 4400: ws itself closes those
 * with 1009, 1002 or 1007 before telling anyone.
 */
export class RelaySocket extends WebSocket {
  connection: Connection | undefined;

  override close(code?: number, data?: string | Buffer): void {
    const own =
      code === WS_MESSAGE_TOO_BIG
        ? CloseCode.FrameTooLarge
        : code !== undefined && WS_BROKEN_FRAME.has(code)
          ? CloseCode.ProtocolViolation
          : code;
    super.close(own, data);
  }
}

function onMessage(this: WebSocket, data: RawData, isBinary: boolean): void {
  (this as RelaySocket).connection?.receive(data, isBinary);
}

function onPong(this: WebSocket): void {
  (this as RelaySocket).connection?.markAlive();
}

function onError(this: WebSocket, error: Error & { code?: string }): void {
  (this as RelaySocket).connection?.failed(error);
}

function onClose(this: WebSocket, code: number): void {
  (this as RelaySocket).connection?.closed(code);
}

/** One connection's subscription to one channel: the hub member. */
export class Subscription implements HubMember<OutboundFrame> {
  readonly connection: Connection;
  readonly channel: string;
  /**
   * Live frames held while the snapshot is read and sent, collapsed like a slow client's queue and
   * bounded by the same limit; null once the subscription is live.
   */
  pending: SendQueue | null = new SendQueue();
  /**
   * The snapshot's seq per job, kept a short while after it was sent: a live update already in the
   * snapshot may still arrive late (it travels on another Redis connection), and is skipped.
   */
  floor: Map<string, number> | null = null;

  constructor(connection: Connection, channel: string) {
    this.connection = connection;
    this.channel = channel;
  }

  deliver(frame: OutboundFrame): boolean {
    if (this.pending !== null) {
      this.connection.hold(this.pending, frame);
      return false;
    }
    if (
      this.floor !== null &&
      frame.seq !== undefined &&
      frame.seq <= (this.floor.get(frame.jobId!) ?? 0)
    ) {
      return false;
    }
    return this.connection.write(frame);
  }
}

export class Connection {
  readonly ws: RelaySocket;
  readonly subscriptions = new Map<string, Subscription>();
  /** Set while an auth frame is being verified; later frames wait for it. */
  busy: Promise<void> | undefined;
  /** The last snapshot page send in line: pages of all its channels go out one at a time. */
  pager: Promise<void> = Promise.resolve();
  #flushed: (() => void)[] = [];
  readonly #socket: RawSocket;
  readonly #host: ConnectionHost;
  readonly #limits: ConnectionLimits;
  #identity: Identity = ANONYMOUS;
  #expiry: NodeJS.Timeout | undefined;
  #queue: SendQueue | undefined;
  #flushBound: (() => void) | undefined;
  #corkedTurn = -1;
  #alive = true;
  /** Idle checks since the last frame sent. */
  #idleTicks = 0;
  #closeCode: number | undefined;
  #tokens: number;
  #refilledAt = Date.now();
  #limitedInARow = 0;

  /** Wraps an open ws; `socket` is the raw socket ws runs on, written to directly. */
  constructor(ws: RelaySocket, socket: Duplex, host: ConnectionHost, limits: ConnectionLimits) {
    this.ws = ws;
    this.#socket = new RawSocket(ws, socket);
    this.#host = host;
    this.#limits = limits;
    this.#tokens = limits.rateLimitBurst;
    ws.connection = this;
    ws.on("message", onMessage);
    ws.on("pong", onPong);
    ws.on("error", onError);
    ws.on("close", onClose);
  }

  get identity(): Identity {
    return this.#identity;
  }

  get open(): boolean {
    return this.#closeCode === undefined && this.ws.readyState === this.ws.OPEN;
  }

  /** Replaces the identity; a token with `exp` closes the connection with 4001 when it expires. */
  setIdentity(identity: Identity): void {
    this.#identity = identity;
    clearTimeout(this.#expiry);
    this.#expiry = undefined;
    if (identity.expiresAt !== undefined) this.#expireAt(identity.expiresAt);
  }

  /**
   * Closes with 4001 at `expiresAt`. Node fires a timer longer than 2^31 - 1 ms at once, so a
   * later expiry waits in steps of at most that.
   */
  #expireAt(expiresAt: number): void {
    const delay = Math.max(expiresAt - Date.now(), 0);
    this.#expiry = setTimeout(
      () =>
        delay > MAX_TIMER_MS
          ? this.#expireAt(expiresAt)
          : this.close(CloseCode.TokenExpired, "token expired"),
      Math.min(delay, MAX_TIMER_MS),
    );
    this.#expiry.unref();
  }

  /**
   * Writes a frame, or queues it while the socket is backed up. Returns true when written now.
   * This is the per-recipient path of every update: keep it small.
   */
  write(frame: OutboundFrame): boolean {
    if (this.#closeCode !== undefined) return false;
    this.#idleTicks = 0;
    const socket = this.#socket;
    if (this.#queue === undefined) {
      if (socket.backlog < this.#limits.sendBufferBytes) {
        if (this.#corkedTurn !== turn) this.#cork();
        return socket.write(frame.bytes);
      }
      this.#queue = new SendQueue();
      this.#waitForRoom();
    }
    this.hold(this.#queue, frame);
    return false;
  }

  /**
   * Queues a frame that cannot be written yet (the socket is backed up, or a snapshot is on its
   * way): collapsed by job, and past the queue limit the client is closed with 4000.
   */
  hold(queue: SendQueue, frame: OutboundFrame): void {
    if (queue.push(frame)) this.#host.onDrop("collapsed", 1);
    if (queue.bytes > this.#limits.sendQueueLimitBytes) {
      this.#host.onDrop("slow_consumer", queue.length);
      this.close(CloseCode.SlowConsumer, "slow consumer");
    }
  }

  /** Sends a control frame (JSON text) in order with the updates. */
  sendText(text: string): void {
    this.write(textFrame(text));
  }

  /** Sends an `error` frame; the connection stays open. */
  sendError(code: RefusalCode, message: string, channel?: string): void {
    // The frame's shape is the protocol's; the relay adds a code of its own to its codes.
    this.sendText(JSON.stringify(errorFrame(code as ErrorCode, message, channel)));
    this.#host.onRefusal(code);
  }

  /** One heartbeat tick: closes with 4002 if the last ping went unanswered, else pings. */
  heartbeat(): void {
    if (this.#closeCode !== undefined) return;
    if (!this.#alive) {
      this.close(CloseCode.HeartbeatTimeout, "heartbeat timeout");
      return;
    }
    this.#alive = false;
    this.ws.ping();
  }

  /** One idle check: after `ticks` checks with no frame sent, sends `beat` (the heartbeat frame). */
  idleTick(ticks: number, beat: OutboundFrame): void {
    if (++this.#idleTicks >= ticks) this.write(beat);
  }

  /** Closes with `code` (recorded for the disconnect metric, whatever the peer answers). */
  close(code: number, reason: string): void {
    if (this.#closeCode !== undefined) return;
    this.#closeCode = code;
    this.#queue = undefined;
    this.#wakeFlushed();
    clearTimeout(this.#expiry);
    this.ws.close(code, reason);
    // ws waits 30 s for a peer that stopped reading; a slow or dead client gets less.
    this.#expiry = setTimeout(() => this.ws.terminate(), CLOSE_GRACE_MS);
    this.#expiry.unref();
  }

  /** Resolves once the connection's own queue is empty: at once when nothing waits, or when closed. */
  flushed(): Promise<void> {
    if (this.#queue === undefined) return Promise.resolve();
    return new Promise((resolve) => this.#flushed.push(resolve));
  }

  #wakeFlushed(): void {
    const waiting = this.#flushed;
    if (waiting.length === 0) return;
    this.#flushed = [];
    for (const resolve of waiting) resolve();
  }

  #cork(): void {
    this.#corkedTurn = turn;
    this.#socket.cork();
    corked.push(this.#socket);
    if (!uncorkScheduled) {
      uncorkScheduled = true;
      process.nextTick(uncorkAll);
    }
  }

  #waitForRoom(): void {
    // Bound only for connections that ever queue: most never do.
    const flush = (this.#flushBound ??= () => this.#flush());
    // Below the socket's own high-water mark no "drain" comes: look again shortly, without spinning.
    if (this.#socket.needsDrain) this.#socket.onceDrain(flush);
    else setTimeout(flush, 1);
  }

  #flush(): void {
    const queue = this.#queue;
    if (queue === undefined || this.#closeCode !== undefined) return;
    const socket = this.#socket;
    socket.cork();
    while (queue.length > 0 && socket.backlog < this.#limits.sendBufferBytes) {
      const frame = queue.shift()!;
      if (!socket.write(frame.bytes)) break;
      if (frame.channel !== undefined) this.#host.onDeferredWrite(frame);
    }
    socket.uncork();
    if (!socket.open) {
      this.#queue = undefined;
      this.#wakeFlushed();
      return;
    }
    if (queue.length > 0) return this.#waitForRoom();
    this.#queue = undefined;
    this.#wakeFlushed();
  }

  /** A client frame arrived (called by the socket's listener). */
  receive(data: RawData, isBinary: boolean): void {
    this.#alive = true;
    if (!this.#allowFrame()) return;
    if (isBinary) {
      this.sendError(ErrorCode.BadRequest, "frames must be JSON text");
      return;
    }
    const buffer = Buffer.isBuffer(data)
      ? data
      : Array.isArray(data)
        ? Buffer.concat(data)
        : Buffer.from(data);
    const parsed = parseClientFrame(buffer.toString("utf8"), {
      maxBytes: this.#limits.maxFrameBytes,
      byteLength: buffer.length,
    });
    if (!parsed.ok) {
      this.sendError(parsed.error.code, parsed.error.message);
      return;
    }
    this.#host.onFrame(this, parsed.value);
  }

  /** Token bucket; past one burst of refused frames in a row the client is cut off with 4400. */
  #allowFrame(): boolean {
    const now = Date.now();
    const { rateLimit, rateLimitBurst } = this.#limits;
    this.#tokens = Math.min(
      rateLimitBurst,
      this.#tokens + ((now - this.#refilledAt) / 1000) * rateLimit,
    );
    this.#refilledAt = now;
    if (this.#tokens >= 1) {
      this.#tokens -= 1;
      this.#limitedInARow = 0;
      return true;
    }
    this.#limitedInARow++;
    if (this.#limitedInARow > rateLimitBurst)
      this.close(CloseCode.ProtocolViolation, "rate limit exceeded");
    else if (this.#limitedInARow === 1)
      this.sendError(ErrorCode.RateLimited, `more than ${rateLimit} frames per second`);
    return false;
  }

  /** A pong arrived. */
  markAlive(): void {
    this.#alive = true;
  }

  /**
   * ws reported an error; it has already closed the connection (bad or oversize frame) or the
   * socket broke, and the close event follows.
   */
  failed(error: Error & { code?: string }): void {
    if (
      error.code === "WS_ERR_UNSUPPORTED_MESSAGE_LENGTH" ||
      error.code === "WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH"
    ) {
      this.#closeCode ??= CloseCode.FrameTooLarge;
    } else if (error.code?.startsWith("WS_ERR_")) {
      this.#closeCode ??= CloseCode.ProtocolViolation;
    }
  }

  /** The connection closed (called by the socket's listener). */
  closed(code: number): void {
    clearTimeout(this.#expiry);
    this.#queue = undefined;
    this.#wakeFlushed();
    this.ws.connection = undefined;
    this.#closeCode ??= code;
    this.#host.onClose(this, this.#closeCode);
  }
}
