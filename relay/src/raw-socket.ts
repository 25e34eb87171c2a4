// The one place the relay writes to a WebSocket's socket itself, past ws's Sender: prebuilt frames
// go out only while ws counts the connection open, so no data frame follows a close frame.
import type { Duplex } from "node:stream";
import { WebSocket } from "ws";

/**
 * A connection's raw socket, written only while open. ws leaves OPEN (for CLOSING) synchronously
 * when it parses the peer's close frame and when it sends its own; test/raw-socket.test.ts pins
 * that behaviour of the installed ws.
 */
export class RawSocket {
  readonly #ws: WebSocket;
  readonly #socket: Duplex;

  constructor(ws: WebSocket, socket: Duplex) {
    this.#ws = ws;
    this.#socket = socket;
  }

  /** True while data frames may be written: no close frame either way, and the socket writable. */
  get open(): boolean {
    return this.#ws.readyState === WebSocket.OPEN && this.#socket.writable;
  }

  /** Writes whole frames; false (and nothing written) once the connection is not open. */
  write(bytes: Buffer): boolean {
    if (!this.open) return false;
    this.#socket.write(bytes);
    return true;
  }

  /** Bytes the socket has not handed to the kernel yet. */
  get backlog(): number {
    return this.#socket.writableLength;
  }

  /** True when the socket is past its own high-water mark and will emit "drain". */
  get needsDrain(): boolean {
    return this.#socket.writableNeedDrain;
  }

  onceDrain(listener: () => void): void {
    this.#socket.once("drain", listener);
  }

  cork(): void {
    this.#socket.cork();
  }

  uncork(): void {
    this.#socket.uncork();
  }
}
