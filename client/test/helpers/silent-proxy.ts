// A TCP proxy that can silently stop forwarding the connections it holds, as a network does when a
// laptop sleeps or a route dies: no close, no reset, nothing passes either way. New connections
// are forwarded again.
import { connect, createServer, type Socket } from "node:net";
import type { AddressInfo } from "node:net";
import { nextEvent } from "@jobchannel/testkit";

export interface SilentProxy {
  readonly port: number;
  /** Stops forwarding on every connection held now, without closing them. */
  silence(): void;
  stop(): Promise<void>;
}

interface Pair {
  readonly sockets: readonly [Socket, Socket];
  silent: boolean;
}

export async function startSilentProxy(targetPort: number): Promise<SilentProxy> {
  const pairs = new Set<Pair>();
  const server = createServer((client) => {
    const upstream = connect(targetPort, "127.0.0.1");
    const pair: Pair = { sockets: [client, upstream], silent: false };
    pairs.add(pair);
    const forward = (from: Socket, to: Socket) => {
      from.on("data", (chunk) => {
        if (!pair.silent) to.write(chunk);
      });
      from.on("close", () => {
        if (!pair.silent) to.destroy();
        pairs.delete(pair);
      });
      // A reset on one side is the test's own doing (stop); the other side is closed with it.
      from.on("error", () => to.destroy());
    };
    forward(client, upstream);
    forward(upstream, client);
  });
  server.listen(0, "127.0.0.1");
  await nextEvent(server, "listening");
  return {
    port: (server.address() as AddressInfo).port,
    silence() {
      for (const pair of pairs) pair.silent = true;
    },
    async stop() {
      for (const pair of pairs) for (const socket of pair.sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
