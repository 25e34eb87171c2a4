// A minimal WebSocket client for load: one socket, a hand-rolled frame reader that hands text
// frames over and answers pings, and a masked text-frame writer for the few frames a protocol
// needs (Socket.IO's connect and pong, Centrifugo's connect, subscribe and pong). Cheap enough that
// thousands of them on one core measure the server, not themselves.
import { randomBytes } from "node:crypto";
import { connect, type Socket } from "node:net";

/** Called for each text frame with its payload (valid until the next call) and its socket. */
export type FrameHandler = (payload: Buffer, socket: Socket) => void;

const SENT_AT = Buffer.from('"sentAt":');

/** Reads the `sentAt` number of a job frame's payload; NaN when absent. */
export function sentAtOf(payload: Buffer): number {
  let sentAt = NaN;
  eachSentAt(payload, (value) => {
    if (Number.isNaN(sentAt)) sentAt = value;
  });
  return sentAt;
}

/** Calls `fn` with every `sentAt` in the payload (a frame may carry several updates); returns how many. */
export function eachSentAt(payload: Buffer, fn: (sentAt: number) => void): number {
  let found = 0;
  let at = payload.indexOf(SENT_AT);
  while (at >= 0) {
    let end = at + SENT_AT.length;
    while (end < payload.length && payload[end] !== 0x2c && payload[end] !== 0x7d) end++;
    fn(Number(payload.toString("latin1", at + SENT_AT.length, end)));
    found++;
    at = payload.indexOf(SENT_AT, end);
  }
  return found;
}

function masked(opcode: number, payload: Buffer): Buffer {
  const mask = randomBytes(4);
  const header = payload.length < 126 ? 2 : 4;
  const frame = Buffer.alloc(header + 4 + payload.length);
  frame[0] = 0x80 | opcode;
  if (header === 2) frame[1] = 0x80 | payload.length;
  else {
    frame[1] = 0x80 | 126;
    frame.writeUInt16BE(payload.length, 2);
  }
  mask.copy(frame, header);
  for (let i = 0; i < payload.length; i++) frame[header + 4 + i] = payload[i]! ^ mask[i & 3]!;
  return frame;
}

/** Writes one text frame (client frames are masked; at most 65,535 bytes). */
export function sendText(socket: Socket, text: string): void {
  socket.write(masked(0x1, Buffer.from(text)));
}

/** Opens `ws://host:port<path>` and resolves once the upgrade is answered with 101; `onOpen` runs first. */
export function openRawClient(
  host: string,
  port: number,
  path: string,
  onText: FrameHandler,
  onOpen?: (socket: Socket) => void,
): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, host);
    socket.setNoDelay(true);
    let pending: Buffer | undefined;
    let upgraded = false;
    const fail = (e: Error): void => {
      if (!upgraded) reject(e);
    };
    socket.once("error", fail);
    socket.once("connect", () => {
      const key = randomBytes(16).toString("base64");
      socket.write(
        `GET ${path} HTTP/1.1\r\nHost: ${host}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      );
    });
    socket.on("data", (chunk: Buffer) => {
      let buf = pending ? Buffer.concat([pending, chunk]) : chunk;
      pending = undefined;
      if (!upgraded) {
        const end = buf.indexOf("\r\n\r\n");
        if (end < 0) {
          pending = buf;
          return;
        }
        if (!buf.toString("latin1", 0, 12).includes("101")) {
          socket.destroy();
          return reject(new Error(`upgrade refused: ${buf.toString("latin1", 0, end)}`));
        }
        upgraded = true;
        socket.off("error", fail);
        socket.on("error", () => socket.destroy());
        onOpen?.(socket);
        resolve(socket);
        buf = buf.subarray(end + 4);
      }
      let offset = 0;
      while (buf.length - offset >= 2) {
        const opcode = buf[offset]! & 0x0f;
        let length = buf[offset + 1]! & 0x7f;
        let header = 2;
        if (length === 126) {
          if (buf.length - offset < 4) break;
          length = buf.readUInt16BE(offset + 2);
          header = 4;
        } else if (length === 127) {
          if (buf.length - offset < 10) break;
          length = Number(buf.readBigUInt64BE(offset + 2));
          header = 10;
        }
        if (buf.length - offset < header + length) break;
        const payload = buf.subarray(offset + header, offset + header + length);
        if (opcode === 0x1) onText(payload, socket);
        else if (opcode === 0x9) socket.write(masked(0xa, payload));
        else if (opcode === 0x8) socket.end();
        offset += header + length;
      }
      if (offset < buf.length) pending = Buffer.from(buf.subarray(offset));
    });
  });
}
