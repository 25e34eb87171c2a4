// HTTP on PORT: /healthz (process alive), /readyz (caches synced), /metrics (Prometheus text).
import { createServer, type Server } from "node:http";
import type { Registry } from "prom-client";

/** What the probes ask of the operator. */
export interface Probes {
  /** Every cache has been listed at least once. */
  ready(): boolean;
}

/** Starts the probe and metrics server on `port` (all interfaces, as kubelet and Prometheus need). */
export async function startHttpServer(
  port: number,
  probes: Probes,
  registry: Registry,
): Promise<Server> {
  const server = createServer((request, response) => {
    // Only the path matters; a query string is ignored and never logged.
    const path = (request.url ?? "/").split("?")[0];
    const send = (status: number, body: string, type = "text/plain; charset=utf-8"): void => {
      response.writeHead(status, { "content-type": type, "cache-control": "no-store" });
      response.end(body);
    };
    if (request.method !== "GET" && request.method !== "HEAD") {
      send(405, "method not allowed\n");
      return;
    }
    if (path === "/healthz") {
      send(200, "ok\n");
    } else if (path === "/readyz") {
      if (probes.ready()) send(200, "ok\n");
      else send(503, "caches not synced\n");
    } else if (path === "/metrics") {
      registry.metrics().then(
        (text) => send(200, text, registry.contentType),
        () => send(500, "metrics unavailable\n"),
      );
    } else {
      send(404, "not found\n");
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, () => {
      server.off("error", reject);
      resolve();
    });
  });
  return server;
}
