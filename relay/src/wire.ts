// Outbound frames built once: the complete WebSocket wire bytes, written as-is to every recipient.
import { isTerminalStatus, type JobUpdate } from "@jobchannel/protocol";
import * as ws from "ws";

interface SenderStatic {
  frame(
    data: Buffer,
    options: { fin: boolean; opcode: number; mask: boolean; readOnly: boolean; rsv1: boolean },
  ): Buffer[];
}

// ws exports its Sender (the class that frames messages) but @types/ws does not declare it.
const Sender = (ws as unknown as { Sender: SenderStatic }).Sender;
const TEXT_OPCODE = 0x01;

/** A frame ready for the socket, with what the send queue needs to collapse it. */
export interface OutboundFrame {
  /** The whole unmasked WebSocket text frame: header and payload. */
  readonly bytes: Buffer;
  /** `<channel>\0<jobId>` for job updates, the unit progress updates collapse by; else undefined. */
  readonly key: string | undefined;
  readonly jobId: string | undefined;
  readonly seq: number | undefined;
  /** `completed` or `failed`: never dropped. */
  readonly terminal: boolean;
  /** The channel of a job update (for per-channel metrics of deferred writes). */
  readonly channel: string | undefined;
  /** The update's publish time, Unix ms. */
  readonly timestamp: number;
}

/** The wire bytes of one unmasked, unfragmented text frame carrying `payload`. */
export function wireFrame(payload: Buffer): Buffer {
  const parts = Sender.frame(payload, {
    fin: true,
    opcode: TEXT_OPCODE,
    mask: false,
    readOnly: false,
    rsv1: false,
  });
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
}

/** A control frame (subscribed, unsubscribed, error): never collapsed. */
export function textFrame(text: string): OutboundFrame {
  return {
    bytes: wireFrame(Buffer.from(text)),
    key: undefined,
    jobId: undefined,
    seq: undefined,
    terminal: false,
    channel: undefined,
    timestamp: 0,
  };
}

/** The `{"type":"job","job":...}` frame of an update whose `channel` is already set. */
export function jobFrame(update: JobUpdate, channel: string): OutboundFrame {
  return {
    bytes: wireFrame(Buffer.from(`{"type":"job","job":${JSON.stringify(update)}}`)),
    key: `${channel}\0${update.jobId}`,
    jobId: update.jobId,
    seq: update.seq,
    terminal: isTerminalStatus(update.status),
    channel,
    timestamp: update.timestamp,
  };
}
