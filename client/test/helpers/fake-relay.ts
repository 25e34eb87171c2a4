// An in-process WebSocket server speaking the relay's side of the protocol by hand, so client tests
// can send exactly the frames and close codes they need.
import { EventEmitter } from "node:events";
import type { AddressInfo } from "node:net";
import { nextEvent } from "@jobchannel/testkit";
import { WebSocketServer, type WebSocket } from "ws";

/** One accepted client connection. */
export class FakeConnection extends EventEmitter {
  readonly socket: WebSocket;
  /** The request URL, with its query (the `access_token`). */
  readonly url: URL;
  /** Decoded frames received from the client, in order. */
  readonly frames: Record<string, unknown>[] = [];

  constructor(socket: WebSocket, url: URL) {
    super();
    this.socket = socket;
    this.url = url;
    socket.on("message", (data) => {
      const frame = JSON.parse(String(data)) as Record<string, unknown>;
      this.frames.push(frame);
      this.emit("frame", frame);
    });
    socket.on("close", (code: number) => this.emit("closed", code));
  }

  /** The next (or an already received) frame of `type`. */
  async frame(type: string, timeoutMs = 5000): Promise<Record<string, unknown>> {
    const seen = this.frames.find((f) => f.type === type && !this.#taken.has(f));
    if (seen) {
      this.#taken.add(seen);
      return seen;
    }
    const [frame] = await nextEvent<[Record<string, unknown>]>(
      this,
      "frame",
      (f) => f.type === type,
      timeoutMs,
    );
    this.#taken.add(frame);
    return frame;
  }

  readonly #taken = new Set<Record<string, unknown>>();

  send(frame: unknown): void {
    this.socket.send(typeof frame === "string" ? frame : JSON.stringify(frame));
  }

  close(code: number, reason = ""): void {
    this.socket.close(code, reason);
  }
}

/** A started fake relay. */
export interface FakeRelay {
  readonly url: string;
  readonly connections: FakeConnection[];
  /** The next connection accepted (or one already accepted and not yet taken). */
  nextConnection(timeoutMs?: number): Promise<FakeConnection>;
  stop(): Promise<void>;
}

export async function startFakeRelay(): Promise<FakeRelay> {
  const server = new WebSocketServer({ host: "127.0.0.1", port: 0, path: "/ws" });
  await nextEvent(server, "listening");
  const events = new EventEmitter();
  const connections: FakeConnection[] = [];
  let taken = 0;
  server.on("connection", (socket, request) => {
    const connection = new FakeConnection(socket, new URL(request.url ?? "/", "http://relay"));
    connections.push(connection);
    events.emit("connection", connection);
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `ws://127.0.0.1:${port}/ws`,
    connections,
    async nextConnection(timeoutMs = 5000) {
      if (connections.length <= taken) await nextEvent(events, "connection", () => true, timeoutMs);
      return connections[taken++]!;
    },
    async stop() {
      for (const client of server.clients) client.terminate();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A job update as the relay sends it. */
export function update(
  jobId: string,
  fields: Record<string, unknown> = {},
  channel = "file-upload",
): Record<string, unknown> {
  return { jobId, status: "processing", timestamp: 1_700_000_000_000, channel, ...fields };
}

/** An unsigned JWT-shaped token expiring at `exp` (Unix seconds); the fake relay does not verify it. */
export function jwt(claims: Record<string, unknown>): string {
  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
  return `${part({ alg: "none", typ: "JWT" })}.${part(claims)}.`;
}
