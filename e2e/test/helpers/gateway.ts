// A host-side gateway for the dashboard, as an Ingress would be: the built dashboard at /, /ws to the relay Service, /api/jobs/<channel> to that channel's worker Service.
import {
  createServer,
  request,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from "node:http";
import { connect, type Socket } from "node:net";
import { createStaticHandler } from "@jobchannel/dev";
import { pipeBoth, portOf } from "../../src/bridge.ts";

/** What the gateway routes to: host ports forwarded to Service cluster IPs. */
export interface GatewayRoutes {
  /** The built dashboard folder. */
  readonly dashboardDir: string;
  /** Host port of the relay Service. */
  readonly relayPort: number;
  /** Host port of `<channel>-worker`, forwarded on first use. */
  workerPort(channel: string): Promise<number>;
  /** Sent as `Authorization: Bearer` on the WebSocket upgrade, as a login proxy would. */
  readonly token: string;
}

function proxyHttp(req: IncomingMessage, res: ServerResponse, port: number) {
  const upstream = request(
    { host: "127.0.0.1", port, method: req.method, path: req.url, headers: req.headers },
    (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    },
  );
  upstream.on("error", () => {
    if (!res.headersSent) res.writeHead(502);
    res.end();
  });
  req.pipe(upstream);
}

/** Starts the gateway on a free loopback port; resolves with its URL and server. */
export async function startGateway(
  routes: GatewayRoutes,
): Promise<{ url: string; server: Server }> {
  const serveStatic = createStaticHandler(routes.dashboardDir);
  const server = createServer((req, res) => {
    const match = /^\/api\/jobs\/([a-z0-9-]+)(?:[/?]|$)/.exec(req.url ?? "");
    if (match?.[1]) {
      routes.workerPort(match[1]).then(
        (port) => proxyHttp(req, res, port),
        () => res.writeHead(502).end(),
      );
      return;
    }
    if ((req.url ?? "").startsWith("/api/")) {
      // The job-type list spans every worker; the dashboard falls back to the built-in types.
      res
        .writeHead(404, { "content-type": "application/json" })
        .end('{"error":{"code":"not_found","message":"no job-type list behind the gateway"}}');
      return;
    }
    serveStatic(req, res, () => res.writeHead(404).end());
  });
  server.on("upgrade", (req, socket, head) => {
    const upstream = connect(routes.relayPort, "127.0.0.1", () => {
      const headers = Object.entries(req.headers)
        .filter(([name]) => name !== "authorization")
        .map(([name, value]) => `${name}: ${Array.isArray(value) ? value.join(", ") : value}`);
      upstream.write(
        [
          `GET ${req.url} HTTP/1.1`,
          ...headers,
          `authorization: Bearer ${routes.token}`,
          "",
          "",
        ].join("\r\n"),
      );
      if (head.length > 0) upstream.write(head);
    });
    pipeBoth(socket as Socket, upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${portOf(server)}`, server };
}
