// Byte pipes between a TCP port and a Unix socket: how host processes reach the API server inside the node's network namespace.
//
// A Unix socket bound to a path is reachable from every network namespace that sees the path, so
// the supervisor inside the namespace serves one, and a small process on the host forwards a host
// loopback port to it. TLS passes through untouched: clients verify the API server itself.
import { createConnection, createServer, type Server, type Socket } from "node:net";
import { rm } from "node:fs/promises";

/** Pipes two sockets into each other; either closing or failing destroys both. */
export function pipeBoth(a: Socket, b: Socket): void {
  a.pipe(b);
  b.pipe(a);
  const close = (): void => {
    a.destroy();
    b.destroy();
  };
  a.on("error", close);
  b.on("error", close);
  a.on("close", close);
  b.on("close", close);
}

function listening(server: Server, listen: (done: () => void) => void): Promise<Server> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    listen(() => {
      server.off("error", reject);
      resolve(server);
    });
  });
}

/** The longest target line a connection to the namespace side may open with. */
const MAX_TARGET_BYTES = 256;
const TARGET = /^(\d{1,3}(?:\.\d{1,3}){3}):(\d{1,5})$/;

/**
 * Serves the Unix socket `path` inside the namespace. Each connection opens with one line naming
 * its target, `<IPv4>:<port>\n` (the API server, or a Service's cluster IP), and is then piped there.
 */
export async function serveForwarder(path: string): Promise<Server> {
  await rm(path, { force: true });
  const server = createServer((client) => {
    let head = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf(10);
      if (end < 0) {
        if (head.length > MAX_TARGET_BYTES) client.destroy();
        return;
      }
      client.off("data", onData);
      client.pause();
      const match = TARGET.exec(head.subarray(0, end).toString("latin1"));
      if (!match) {
        client.destroy();
        return;
      }
      const upstream = createConnection({ host: match[1], port: Number(match[2]) });
      const rest = head.subarray(end + 1);
      if (rest.length > 0) upstream.write(rest);
      pipeBoth(client, upstream);
      client.resume();
    };
    client.on("data", onData);
    client.on("error", () => client.destroy());
  });
  return listening(server, (done) => server.listen(path, done));
}

/**
 * Listens on `127.0.0.1:port` (0 = a free port) on the host and forwards each connection through
 * the Unix socket `path` to `target` (`<IPv4>:<port>` as the namespace sees it).
 */
export function forwardToNamespace(port: number, path: string, target: string): Promise<Server> {
  if (!TARGET.test(target)) throw new Error(`forward target must be <IPv4>:<port>, not ${target}`);
  const server = createServer((client) => {
    const upstream = createConnection({ path });
    upstream.write(`${target}\n`);
    pipeBoth(client, upstream);
  });
  return listening(server, (done) => server.listen(port, "127.0.0.1", done));
}

/** The port a listening server got. */
export function portOf(server: Server): number {
  const address = server.address();
  return typeof address === "object" && address ? address.port : 0;
}
