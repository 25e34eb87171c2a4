// Liveness of the relay connection: the silence watchdog fed by the relay's heartbeat frames, and
// the browser events (back online, page visible again) after which a connection may be dead.
import { DEFAULT_HEARTBEAT_INTERVAL_MS, heartbeatTimeoutMs } from "@jobchannel/protocol";

/**
 * Watches one connection at a time for silence, and remembers across connections the interval the
 * relay announced and whether it sends heartbeats at all.
 *
 * A relay from before the heartbeat frame sends nothing on an idle connection, so silence proves
 * nothing until the relay has shown that it sends heartbeats. The watch therefore starts at the
 * first heartbeat of a connection, or when the connection opens if an earlier connection of this
 * client saw heartbeats. A connection watched on that memory alone that falls silent without one
 * heartbeat may lead to an older relay (a rollback, a mixed rollout), so the memory is dropped: an
 * older relay costs at most one needless reconnect, never a loop.
 */
export class SilenceWatch {
  readonly #onSilent: (silentMs: number) => void;
  #intervalMs = DEFAULT_HEARTBEAT_INTERVAL_MS;
  #relaySendsHeartbeats = false;
  #heardOnThisConnection = false;
  #lastFrameAt = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;

  /** @param onSilent called once when the watched connection has been silent past the timeout. */
  constructor(onSilent: (silentMs: number) => void) {
    this.#onSilent = onSilent;
  }

  /** Milliseconds of silence that count as a dead connection, from the last announced interval. */
  get timeoutMs(): number {
    return heartbeatTimeoutMs(this.#intervalMs);
  }

  /** A connection opened. */
  opened(): void {
    this.#lastFrameAt = Date.now();
    this.#heardOnThisConnection = false;
    if (this.#relaySendsHeartbeats) this.#arm();
  }

  /** A frame of any kind arrived: the connection is alive. */
  frame(): void {
    this.#lastFrameAt = Date.now();
  }

  /** A heartbeat frame arrived, announcing the relay's interval. */
  heartbeat(intervalMs: number): void {
    this.#intervalMs = intervalMs;
    this.#relaySendsHeartbeats = true;
    this.#heardOnThisConnection = true;
    this.#arm();
  }

  /** True when a frame arrived within the timeout. */
  recentlyHeard(): boolean {
    return Date.now() - this.#lastFrameAt < this.timeoutMs;
  }

  /** The connection closed: stop watching it. */
  stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  // One timer per connection, re-armed from the last frame's time when it fires, so that frames
  // cost a clock read rather than a timer each; a timer a browser fires late only delays the check.
  #arm(): void {
    clearTimeout(this.#timer);
    const due = this.#lastFrameAt + this.timeoutMs - Date.now();
    this.#timer = setTimeout(() => this.#check(), Math.max(0, due));
  }

  #check(): void {
    this.#timer = undefined;
    const silentMs = Date.now() - this.#lastFrameAt;
    if (silentMs < this.timeoutMs) {
      this.#arm();
      return;
    }
    if (!this.#heardOnThisConnection) this.#relaySendsHeartbeats = false;
    this.#onSilent(silentMs);
  }
}

interface EventTargetLike {
  addEventListener(type: string, listener: () => void): void;
  removeEventListener(type: string, listener: () => void): void;
}

function eventTarget(value: unknown): EventTargetLike | undefined {
  const target = value as Partial<EventTargetLike> | null | undefined;
  return typeof target?.addEventListener === "function" &&
    typeof target.removeEventListener === "function"
    ? (target as EventTargetLike)
    : undefined;
}

/** What the browser tells a client about its connection's chances. */
export interface EnvironmentEvents {
  /** The browser went back online (`online` on `window`). */
  online(): void;
  /** The page became visible after being hidden for `hiddenMs` (`visibilitychange` on `document`). */
  visible(hiddenMs: number): void;
}

/**
 * Listens to `online` and `visibilitychange` where the globals exist (browsers), and does nothing
 * elsewhere (Node, server rendering). Returns the function that removes the listeners.
 */
export function watchEnvironment(events: EnvironmentEvents): () => void {
  const scope = globalThis as { window?: unknown; document?: unknown };
  const win = eventTarget(scope.window);
  const doc = eventTarget(scope.document);
  const document = scope.document as { visibilityState?: string } | undefined;
  let hiddenAt: number | undefined;
  const onOnline = () => events.online();
  const onVisibility = () => {
    if (document?.visibilityState === "hidden") {
      hiddenAt ??= Date.now();
    } else if (hiddenAt !== undefined) {
      const hiddenMs = Date.now() - hiddenAt;
      hiddenAt = undefined;
      events.visible(hiddenMs);
    }
  };
  win?.addEventListener("online", onOnline);
  doc?.addEventListener("visibilitychange", onVisibility);
  if (doc && document?.visibilityState === "hidden") hiddenAt = Date.now();
  return () => {
    win?.removeEventListener("online", onOnline);
    doc?.removeEventListener("visibilitychange", onVisibility);
  };
}
