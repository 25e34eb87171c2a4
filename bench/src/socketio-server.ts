// The Socket.IO peer: a Socket.IO v4 server with @socket.io/redis-adapter, WebSocket transport only,
// no per-message compression. Each connection joins the rooms named in its `channels` query and is
// told so with a `subscribed` event; updates arrive from @socket.io/redis-emitter publishers.
import { createServer } from "node:http";
import { createAdapter } from "@socket.io/redis-adapter";
import { Redis } from "ioredis";
import { Server } from "socket.io";

const port = Number(process.env.PORT ?? 8080);
const pub = new Redis(process.env.REDIS_URL ?? "redis://127.0.0.1:6379");
const sub = pub.duplicate();

const http = createServer((req, res) => {
  if (req.url === "/readyz" || req.url === "/healthz") res.writeHead(200).end();
});
const io = new Server(http, {
  transports: ["websocket"],
  perMessageDeflate: false,
  serveClient: false,
  adapter: createAdapter(pub, sub),
});
io.on("connection", (socket) => {
  const query = socket.handshake.query.channels;
  const names = typeof query === "string" ? query.split(",") : [];
  void socket.join(names);
  for (const name of names) socket.emit("subscribed", name);
});
await Promise.all([pub.ping(), sub.ping()]);
http.listen(port, "127.0.0.1");
