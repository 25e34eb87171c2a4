// Relays on the in-memory broker started on demand by a test file, each on a free port, all closed
// (with their clients) when the file ends.
import { after } from "node:test";
import { MemoryBus, MemoryJobStore, type JobStore } from "@jobchannel/state";
import pino from "pino";
import { Registry } from "prom-client";
import { createMemoryBroker } from "../../src/broker-memory.ts";
import { createRelay, type Relay, type RelayOptions } from "../../src/relay.ts";
import { startRelayServer } from "../../src/server.ts";
import { connect, type TestClient } from "./client.ts";

export interface MemoryRelay {
  readonly relay: Relay;
  readonly registry: Registry;
  readonly bus: MemoryBus;
  /** Opens a client; `query` goes after `/ws`. */
  open(query?: string): Promise<TestClient>;
}

/** Registers the file's after hook; returns the function that starts a relay. */
export function memoryRelays(): (
  options?: Omit<RelayOptions, "broker" | "store">,
  store?: (bus: MemoryBus) => JobStore,
) => Promise<MemoryRelay> {
  const stops: (() => Promise<void>)[] = [];
  const clients: TestClient[] = [];
  after(async () => {
    for (const c of clients) c.ws.terminate();
    for (const stop of stops) await stop();
  });
  return async (options = {}, store = (bus) => new MemoryJobStore(bus)) => {
    const bus = new MemoryBus();
    const registry = new Registry();
    const relay = createRelay({
      broker: createMemoryBroker(bus),
      store: store(bus),
      registry,
      logger: pino({ level: "silent" }),
      ...options,
    });
    const { server, port } = await startRelayServer({
      relay,
      registry,
      port: 0,
      host: "127.0.0.1",
    });
    stops.push(async () => {
      await relay.close();
      await new Promise((resolve) => server.close(resolve));
    });
    return {
      relay,
      registry,
      bus,
      async open(query = "") {
        const client = await connect(`ws://127.0.0.1:${port}/ws${query}`);
        clients.push(client);
        return client;
      },
    };
  };
}
