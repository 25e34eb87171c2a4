// Awaiting a client's events in tests, with a bound.
import { EventEmitter } from "node:events";
import { nextEvent } from "@jobchannel/testkit";
import type { JobChannelClient } from "../../src/index.ts";

/** Resolves when the client next emits `event` satisfying `filter`. */
export function clientEvent<A extends unknown[]>(
  client: JobChannelClient,
  event: "state" | "jobs" | "error" | "close",
  filter: (...args: A) => boolean = () => true,
  timeoutMs = 5000,
): Promise<A> {
  const bridge = new EventEmitter();
  const off = client.on(event, (...args: unknown[]) => bridge.emit("event", ...args));
  return nextEvent<A>(bridge, "event", filter, timeoutMs).finally(off);
}
