// A WebSocket test client that keeps every frame the relay sent, for assertions.
import type { OutgoingHttpHeaders } from "node:http";
import { waitFor } from "@jobchannel/testkit";
import WebSocket from "ws";

/** A relay frame as the tests read it. */
export type Frame = Record<string, unknown> & { type: string };

export interface TestClient {
  readonly ws: WebSocket;
  readonly frames: Frame[];
  /** The job updates received live, in order. */
  jobs(): Record<string, unknown>[];
  send(frame: unknown): void;
  /** The first frame (received or to come) that matches. */
  frame(match: (f: Frame) => boolean, what?: string, timeoutMs?: number): Promise<Frame>;
  /** Resolves with the close code and reason. */
  readonly closed: Promise<{ code: number; reason: string }>;
  close(): void;
}

export interface ConnectOptions {
  headers?: OutgoingHttpHeaders;
  origin?: string;
  /** Answer pings (turn off to play a dead client). @default true */
  autoPong?: boolean;
}

/** Opens a connection and resolves once it is open; rejects on a refused upgrade. */
export function connect(url: string, options: ConnectOptions = {}): Promise<TestClient> {
  const ws = new WebSocket(url, {
    headers: options.headers ?? {},
    autoPong: options.autoPong ?? true,
    perMessageDeflate: false,
    ...(options.origin ? { origin: options.origin } : {}),
  });
  const frames: Frame[] = [];
  ws.on("message", (data) => frames.push(JSON.parse(String(data)) as Frame));
  const closed = new Promise<{ code: number; reason: string }>((resolve) => {
    ws.on("close", (code, reason) => resolve({ code, reason: reason.toString() }));
  });
  const client: TestClient = {
    ws,
    frames,
    jobs: () => frames.filter((f) => f.type === "job").map((f) => f.job as Record<string, unknown>),
    send: (frame) => ws.send(JSON.stringify(frame)),
    frame: (match, what = "frame", timeoutMs = 5000) =>
      waitFor(() => frames.find(match), { timeoutMs, what }),
    closed,
    close: () => ws.close(),
  };
  return new Promise((resolve, reject) => {
    ws.once("open", () => resolve(client));
    ws.once("unexpected-response", (_req, res) => {
      reject(new Error(`upgrade refused: ${res.statusCode}`));
      ws.terminate();
    });
    ws.once("error", reject);
  });
}

/** The `subscribed` frame of a channel. */
export function subscribed(client: TestClient, channel: string): Promise<Frame> {
  return client.frame(
    (f) => f.type === "subscribed" && f.channel === channel,
    `subscribed ${channel}`,
  );
}
