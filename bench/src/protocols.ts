// The client side of each measured system's wire protocol, as far as the load generator needs it:
// the upgrade path, the frame sent once open, the answer to a server ping, and how to recognise the
// frame that confirms the subscription. Job frames are recognised by their `sentAt` alone.
import { createHmac } from "node:crypto";

export interface Protocol {
  /** The upgrade request's path for a connection to `channel`. */
  path(channel: string, token: string | undefined): string;
  /** A text frame to send as soon as the upgrade is answered, if the protocol needs one. */
  hello(channel: string): string | undefined;
  /** The text frame answering `payload`, when it is an application-level ping. */
  answer(payload: Buffer): string | undefined;
  /** Whether `payload` confirms the connection's subscription. */
  isSubscribed(payload: Buffer): boolean;
}

const SUBSCRIBED = Buffer.from('"type":"subscribed"');
const SOCKET_IO_SUBSCRIBED = Buffer.from('42["subscribed"');
const CENTRIFUGO_SUBSCRIBED = Buffer.from('"id":2,"subscribe"');

/** jobchannel's protocol, spoken by the relay and by the bare baseline. */
const jobchannel: Protocol = {
  path: (channel, token) =>
    `/ws?channels=${channel}${token === undefined ? "" : `&access_token=${token}`}`,
  hello: () => undefined,
  answer: () => undefined,
  isSubscribed: (payload) => payload.includes(SUBSCRIBED),
};

/** Socket.IO v4 over Engine.IO v4, WebSocket transport only: `40` joins the default namespace. */
const socketio: Protocol = {
  path: (channel) => `/socket.io/?EIO=4&transport=websocket&channels=${channel}`,
  hello: () => undefined,
  answer: (payload) => {
    if (payload.length === 1 && payload[0] === 0x32) return "3"; // Engine.IO ping `2`, pong `3`
    if (payload[0] === 0x30) return "40"; // Engine.IO open `0{...}`: connect to namespace `/`
    return undefined;
  },
  isSubscribed: (payload) =>
    payload.subarray(0, SOCKET_IO_SUBSCRIBED.length).equals(SOCKET_IO_SUBSCRIBED),
};

/** Centrifugo's JSON client protocol: connect and subscribe in one frame, newline-separated. */
const centrifugo: Protocol = {
  path: () => "/connection/websocket",
  hello: (channel) => `{"id":1,"connect":{}}\n{"id":2,"subscribe":{"channel":"${channel}"}}`,
  // A ping is an empty command `{}`; it may share a frame with other replies.
  answer: (payload) => (payload.toString("latin1").split("\n").includes("{}") ? "{}" : undefined),
  isSubscribed: (payload) => payload.includes(CENTRIFUGO_SUBSCRIBED),
};

export const PROTOCOLS = { jobchannel, socketio, centrifugo } as const;

/** A compact HS256 JSON Web Token. */
export function hs256Token(secret: string, claims: Record<string, unknown>): string {
  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
  const body = `${part({ alg: "HS256", typ: "JWT" })}.${part(claims)}`;
  return `${body}.${createHmac("sha256", secret).update(body).digest("base64url")}`;
}
