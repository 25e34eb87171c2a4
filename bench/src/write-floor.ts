// Node's floor for a burst: the write-floor probe (bench/write-floor/main.go) done with net.Socket.
// It opens --sockets connected loopback pairs, then in each of --rounds rounds writes --bytes bytes
// to every server-side socket in one synchronous loop, uncorked (Node's shortest write path), or
// with --cork as the relay writes a turn's frames (each socket corked, written, and uncorked at the
// end of the turn), timing the burst and the process's CPU in it. The client sides are read between bursts. Prints
// one JSON object of the same shape as the Go probe's.
import { once } from "node:events";
import { createServer, connect, type AddressInfo, type Socket } from "node:net";
import { parseArgs } from "node:util";

const { values } = parseArgs({
  options: {
    sockets: { type: "string", default: "5000" },
    rounds: { type: "string", default: "20" },
    bytes: { type: "string", default: "150" },
    cork: { type: "boolean", default: false },
  },
});
const sockets = Number(values.sockets);
const size = Number(values.bytes);

const servers: Socket[] = [];
const server = createServer({ noDelay: true }, (socket) => servers.push(socket));
server.listen({ host: "127.0.0.1", port: 0, backlog: 4096 });
await once(server, "listening");
const { port } = server.address() as AddressInfo;

let received = 0;
const clients: Socket[] = [];
// Connect in batches, so the accept queue never overflows.
for (let i = 0; i < sockets; i += 500) {
  const batch = Array.from({ length: Math.min(500, sockets - i) }, () => {
    const client = connect({ host: "127.0.0.1", port });
    client.on("data", (chunk) => (received += chunk.length));
    clients.push(client);
    return once(client, "connect");
  });
  await Promise.all(batch);
}
while (servers.length < sockets) await new Promise((r) => setImmediate(r));

const out = Buffer.alloc(size, "x");
const rounds: { ms: number; userMs: number; sysMs: number }[] = [];
for (let r = 0; r < Number(values.rounds); r++) {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  if (values.cork) {
    for (const socket of servers) {
      socket.cork();
      socket.write(out);
    }
    await new Promise<void>((resolve) =>
      process.nextTick(() => {
        for (const socket of servers) socket.uncork();
        resolve();
      }),
    );
  } else for (const socket of servers) socket.write(out);
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  rounds.push({ ms, userMs: cpu.user / 1000, sysMs: cpu.system / 1000 });
  const want = (r + 1) * sockets * size;
  while (received < want) await new Promise((resolve) => setImmediate(resolve));
}
process.stdout.write(JSON.stringify({ sockets, bytes: size, rounds }) + "\n");
for (const socket of [...servers, ...clients]) socket.destroy();
server.close();
