// The raw-socket writes of a connection against the installed ws and a hand-made TCP client: no
// data frame follows the peer's close frame, and the ws behaviour that relies on is pinned.
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import { connect as tcpConnect, type Socket } from "node:net";
import type { Duplex } from "node:stream";
import { after, before, test } from "node:test";
import { waitFor } from "@jobchannel/testkit";
import { WebSocket, WebSocketServer } from "ws";
import { Connection, RelaySocket, type ConnectionHost } from "../src/connection.ts";
import { DEFAULT_LIMITS } from "../src/relay.ts";
import { textFrame } from "../src/wire.ts";

let server: Server;
let port: number;
const wss = new WebSocketServer({ noServer: true, WebSocket: RelaySocket });
let accepted: ((ws: RelaySocket, socket: Duplex) => void) | undefined;

before(async () => {
  server = createServer();
  server.on("upgrade", (req, socket, head) => {
    wss.handleUpgrade(req, socket, head, (ws) => accepted?.(ws as RelaySocket, socket));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  port = (server.address() as { port: number }).port;
});

after(async () => {
  wss.close();
  await new Promise((resolve) => server.close(resolve));
});

/** A WebSocket client over plain TCP that keeps every byte the server sent after the handshake. */
async function rawClient(): Promise<{ socket: Socket; received(): Buffer; ended: Promise<void> }> {
  const socket = tcpConnect(port, "127.0.0.1");
  let bytes = Buffer.alloc(0);
  socket.on("data", (chunk: Buffer) => (bytes = Buffer.concat([bytes, chunk])));
  const ended = new Promise<void>((resolve) => socket.once("close", () => resolve()));
  socket.write(
    "GET / HTTP/1.1\r\nHost: relay\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
  );
  await waitFor(() => bytes.includes("\r\n\r\n"), { what: "the handshake answer" });
  return {
    socket,
    received: () => bytes.subarray(bytes.indexOf("\r\n\r\n") + 4),
    ended,
  };
}

/** Opcodes of the unmasked frames in `bytes` (payloads under 64 KiB). */
function opcodes(bytes: Buffer): number[] {
  const codes: number[] = [];
  for (let at = 0; at < bytes.length;) {
    let length = bytes[at + 1]! & 0x7f;
    let header = 2;
    if (length === 126) {
      length = bytes.readUInt16BE(at + 2);
      header = 4;
    }
    codes.push(bytes[at]! & 0x0f);
    at += header + length;
  }
  return codes;
}

/** A masked close frame with code 1000 (mask key zero). */
const CLOSE_1000 = Buffer.from([0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe8]);

const host: ConnectionHost = {
  onFrame() {},
  onClose() {},
  onDeferredWrite() {},
  onDrop() {},
  onRefusal() {},
};

/** Accepts the next connection; `afterParse` runs on each chunk of the client's, after ws read it. */
function nextConnection(afterParse: (ws: RelaySocket, connection: Connection) => void): void {
  accepted = (ws, socket) => {
    const connection = new Connection(ws, socket, host, DEFAULT_LIMITS);
    socket.on("data", () => afterParse(ws, connection));
  };
}

test("ws leaves OPEN as soon as it has parsed the peer's close frame (pinned for the raw writes)", async () => {
  const seen: { readyState: number; closeFrameReceived: unknown }[] = [];
  nextConnection((ws) =>
    seen.push({
      readyState: ws.readyState,
      closeFrameReceived: (ws as unknown as { _closeFrameReceived: unknown })._closeFrameReceived,
    }),
  );
  const client = await rawClient();
  client.socket.write(CLOSE_1000);
  await waitFor(() => seen.length > 0, { what: "the close frame read by the server" });
  assert.deepEqual(seen[0], { readyState: WebSocket.CLOSING, closeFrameReceived: true });
  client.socket.destroy();
});

test("writes no data frame after the peer's close frame", async () => {
  const results: boolean[] = [];
  nextConnection((_ws, connection) => {
    results.push(connection.write(textFrame('{"type":"heartbeat","interval":1000}')));
  });
  const client = await rawClient();
  client.socket.write(CLOSE_1000);
  await waitFor(() => results.length > 0, { what: "a write attempted after the close frame" });
  await client.ended;
  assert.deepEqual(results, [false]);
  // Only the server's close frame (opcode 8) came back.
  assert.deepEqual(opcodes(client.received()), [0x8]);
});
