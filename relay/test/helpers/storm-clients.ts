// A child process of the connection storm: opens `--count` WebSocket clients to the relay at once
// (at most `--window` handshakes in flight), each on raw sockets so that thousands cost little,
// and tells the test over stdout what each one got: subscribed, a close code, a refused upgrade or
// a socket error, and which job updates reached it. Commands on stdin: `report`, `exit`.
import { randomBytes } from "node:crypto";
import { connect, type Socket } from "node:net";
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";

const { values } = parseArgs({
  options: {
    port: { type: "string" },
    path: { type: "string", default: "/ws" },
    count: { type: "string" },
    window: { type: "string", default: "1000" },
  },
});
const port = Number(values.port);
const total = Number(values.count);
const window = Number(values.window);

/** What one client saw. */
interface Client {
  socket: Socket | undefined;
  subscribed: boolean;
  closeCode: number | undefined;
  refused: string | undefined;
  error: string | undefined;
  /** `jobId:seq` of every job it was shown, in the snapshot and live. */
  seen: Set<string>;
  /** Jobs it was shown as completed. */
  completed: Set<string>;
  duplicates: number;
}

const clients: Client[] = [];
const startedAt = Date.now();
let settledAt: number | undefined;

function settled(c: Client): boolean {
  return (
    c.subscribed || c.closeCode !== undefined || c.refused !== undefined || c.error !== undefined
  );
}

function say(message: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(message)}\n`);
}

function count(into: Record<string, number>, key: string): void {
  into[key] = (into[key] ?? 0) + 1;
}

function summary(): Record<string, unknown> {
  const closes: Record<string, number> = {};
  const refused: Record<string, number> = {};
  const errors: Record<string, number> = {};
  /** Clients by how many completed jobs they hold. */
  const completed: Record<string, number> = {};
  let subscribed = 0;
  let open = 0;
  let duplicates = 0;
  for (const c of clients) {
    if (c.subscribed) subscribed++;
    if (c.closeCode !== undefined) count(closes, String(c.closeCode));
    if (c.refused !== undefined) count(refused, c.refused);
    if (c.error !== undefined) count(errors, c.error);
    if (c.subscribed && c.closeCode === undefined && c.error === undefined) {
      open++;
      count(completed, String(c.completed.size));
    }
    duplicates += c.duplicates;
  }
  return {
    clients: clients.length,
    settled: clients.filter(settled).length,
    subscribed,
    open,
    closes,
    refused,
    errors,
    completed,
    duplicates,
    settleMs: settledAt === undefined ? undefined : settledAt - startedAt,
  };
}

function maskedFrame(opcode: number, payload: Buffer): Buffer {
  const mask = randomBytes(4);
  const frame = Buffer.alloc(6 + payload.length);
  frame[0] = 0x80 | opcode;
  frame[1] = 0x80 | payload.length;
  mask.copy(frame, 2);
  for (let i = 0; i < payload.length; i++) frame[6 + i] = payload[i]! ^ mask[i & 3]!;
  return frame;
}

interface JobFrame {
  type: string;
  jobs?: { jobId: string; seq?: number; status: string }[];
  job?: { jobId: string; seq?: number; status: string };
}

function onText(c: Client, text: string): void {
  const frame = JSON.parse(text) as JobFrame;
  const jobs = frame.type === "subscribed" ? (frame.jobs ?? []) : frame.job ? [frame.job] : [];
  if (frame.type === "subscribed") c.subscribed = true;
  for (const job of jobs) {
    const key = `${job.jobId}:${job.seq}`;
    if (c.seen.has(key)) c.duplicates++;
    c.seen.add(key);
    if (job.status === "completed") c.completed.add(job.jobId);
  }
}

/** Reads the frames the relay sends (unmasked): text, ping (answered), close (its code kept). */
function onFrames(c: Client, socket: Socket, buf: Buffer): Buffer | undefined {
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
    if (opcode === 0x1) onText(c, payload.toString("utf8"));
    else if (opcode === 0x9) socket.write(maskedFrame(0xa, payload));
    else if (opcode === 0x8) {
      c.closeCode = payload.length >= 2 ? payload.readUInt16BE(0) : 1005;
      socket.end(maskedFrame(0x8, payload.subarray(0, 2)));
    }
    offset += header + length;
  }
  return offset < buf.length ? Buffer.from(buf.subarray(offset)) : undefined;
}

/** Opens one client; resolves once its upgrade is answered or its socket failed. */
function open(c: Client): Promise<void> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    c.socket = socket;
    let pending: Buffer | undefined;
    let upgraded = false;
    socket.once("connect", () => {
      socket.write(
        `GET ${values.path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\n` +
          `Connection: Upgrade\r\nSec-WebSocket-Key: ${randomBytes(16).toString("base64")}\r\n` +
          `Sec-WebSocket-Version: 13\r\n\r\n`,
      );
    });
    socket.on("error", (e: NodeJS.ErrnoException) => {
      if (c.closeCode === undefined && !c.subscribed) c.error ??= e.code ?? e.message;
      resolve();
    });
    socket.on("close", () => {
      // A connection cut without a close frame is what ws reports as 1006.
      if (upgraded && c.closeCode === undefined && c.error === undefined) c.closeCode = 1006;
      resolve();
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
        const status = /^HTTP\/1\.1 (\d+)/.exec(buf.toString("latin1", 0, 16))?.[1] ?? "?";
        if (status !== "101") {
          c.refused = status;
          socket.destroy();
          return resolve();
        }
        upgraded = true;
        resolve();
        buf = buf.subarray(end + 4);
      }
      pending = onFrames(c, socket, buf);
    });
  });
}

for (let i = 0; i < total; i++)
  clients.push({
    socket: undefined,
    subscribed: false,
    closeCode: undefined,
    refused: undefined,
    error: undefined,
    seen: new Set(),
    completed: new Set(),
    duplicates: 0,
  });

let next = 0;
async function lane(): Promise<void> {
  while (next < total) await open(clients[next++]!);
}
await Promise.all(Array.from({ length: Math.min(window, total) }, lane));
say({ event: "opened", ...summary() });

// Settled once every client has its snapshot or its refusal; the test reads it with `report`.
const poll = setInterval(() => {
  if (clients.every(settled)) {
    settledAt ??= Date.now();
    clearInterval(poll);
  }
}, 20);

createInterface({ input: process.stdin }).on("line", (line) => {
  const command = line.trim();
  if (command === "report") say({ event: "report", ...summary() });
  else if (command === "exit") {
    for (const c of clients) c.socket?.destroy();
    process.exit(0);
  }
});
