// The in-memory broker: listens to a MemoryBus from @jobchannel/state (the one-process local stack, unit tests).
import { DEFAULT_REDIS_PREFIX } from "@jobchannel/protocol";
import type { MemoryBus } from "@jobchannel/state";
import type { Broker } from "./broker.ts";

/** A broker fed by `bus`, which a `MemoryJobStore` publishes into. */
export function createMemoryBroker(bus: MemoryBus, prefix: string = DEFAULT_REDIS_PREFIX): Broker {
  let unsubscribe: (() => void) | undefined;
  return {
    async start(listener) {
      unsubscribe?.();
      unsubscribe = bus.subscribe((channel, payload) => {
        if (channel.startsWith(prefix)) listener.message(channel.slice(prefix.length), payload);
      });
      listener.health(true);
    },
    healthy: () => unsubscribe !== undefined,
    async close() {
      unsubscribe?.();
      unsubscribe = undefined;
    },
  };
}
