// The relay's HTTP side: /healthz, /readyz and /metrics beside the /ws upgrade, on one server.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Registry } from "prom-client";
import type { Relay } from "./relay.ts";

/**
 * Answers /healthz, /readyz and /metrics; returns false for any other path, so a server that
 * hosts more (the one-process local stack) can route it elsewhere.
 */
export function createProbeHandler(
  relay: Relay,
  registry: Registry,
): (req: IncomingMessage, res: ServerResponse) => boolean {
  return (req, res) => {
    const path = (req.url ?? "/").split("?", 1)[0];
    if (path === "/healthz") {
      res.writeHead(200, { "content-type": "text/plain" }).end("ok\n");
      return true;
    }
    if (path === "/readyz") {
      const readiness = relay.readiness();
      res
        .writeHead(readiness.ready ? 200 : 503, { "content-type": "application/json" })
        .end(JSON.stringify(readiness) + "\n");
      return true;
    }
    if (path === "/metrics") {
      registry.metrics().then(
        (text) => res.writeHead(200, { "content-type": registry.contentType }).end(text),
        () => res.writeHead(500).end(),
      );
      return true;
    }
    return false;
  };
}

/**
 * Connections the kernel may hold accepted before the relay takes them (listen(2)'s backlog,
 * capped by net.core.somaxconn). Node's default of 511 overflows when thousands of clients
 * reconnect at once: the kernel falls back to SYN cookies, and a client whose cookie has gone
 * stale by the time its handshake is read gets a reset instead of the relay.
 */
export const LISTEN_BACKLOG = 4096;

/** Options of {@link startRelayServer}. */
export interface RelayServerOptions {
  relay: Relay;
  registry: Registry;
  port: number;
  /** @default every interface */
  host?: string;
}

/** An HTTP server with /ws, /healthz, /readyz and /metrics, listening. */
export async function startRelayServer(
  options: RelayServerOptions,
): Promise<{ server: Server; port: number }> {
  const probes = createProbeHandler(options.relay, options.registry);
  const server = createServer((req, res) => {
    if (!probes(req, res)) res.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
  });
  // Idle HTTP keep-alive sockets must not hold a drain open.
  server.keepAliveTimeout = 5000;
  options.relay.attach(server, "/ws");
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen({ port: options.port, host: options.host, backlog: LISTEN_BACKLOG }, () => {
      server.off("error", reject);
      resolve();
    });
  });
  return { server, port: (server.address() as AddressInfo).port };
}
