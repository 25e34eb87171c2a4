// The shared broker suite on the in-memory backend.
import { MemoryBus } from "@jobchannel/state";
import { createMemoryBroker } from "../src/broker-memory.ts";
import { brokerSuite } from "./helpers/broker-suite.ts";

brokerSuite("memory", async () => {
  const bus = new MemoryBus();
  return {
    create: () => createMemoryBroker(bus),
    publish: async (channel, payload) => void bus.publish(channel, payload),
    teardown: async () => {},
  };
});
