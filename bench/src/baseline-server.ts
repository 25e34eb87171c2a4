// The baseline: a bare ws + ioredis relay that does the least this job needs. One PSUBSCRIBE,
// each update parsed and serialized once with its channel, the same string sent to every client.
// No validation, auth, access, backpressure or metrics.
import { createServer } from "node:http";
import { Redis } from "ioredis";
import { WebSocketServer, type WebSocket } from "ws";

const port = Number(process.env.PORT ?? 8080);
const redis = new Redis(process.env.REDIS_URL ?? "redis://127.0.0.1:6379");
const channels = new Map<string, Set<WebSocket>>();

const server = createServer((req, res) => {
  res.writeHead(req.url === "/readyz" || req.url === "/healthz" ? 200 : 404).end();
});
const wss = new WebSocketServer({ server, perMessageDeflate: false, clientTracking: false });
wss.on("connection", (ws, req) => {
  const names = new URL(req.url ?? "/", "http://x").searchParams.get("channels")?.split(",") ?? [];
  for (const name of names) {
    let set = channels.get(name);
    if (!set) channels.set(name, (set = new Set()));
    set.add(ws);
    ws.send(JSON.stringify({ type: "subscribed", channel: name, jobs: [] }));
  }
  ws.on("close", () => names.forEach((name) => channels.get(name)?.delete(ws)));
});

redis.on("pmessage", (_pattern: string, redisChannel: string, message: string) => {
  const name = redisChannel.slice("jobchannel:".length);
  const set = channels.get(name);
  if (!set) return;
  const update = JSON.parse(message) as Record<string, unknown>;
  update.channel = name;
  const text = JSON.stringify({ type: "job", job: update });
  for (const ws of set) ws.send(text);
});
await redis.psubscribe("jobchannel:*");
server.listen(port, "127.0.0.1");
