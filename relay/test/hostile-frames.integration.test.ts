// Hostile client frames against a jobchannel-relay process: generated and mutated frames, oversize,
// floods, invalid UTF-8, deep nesting, prototype keys, binary and fragmented frames, a half-open
// connection and a slowloris upgrade. Each gets its documented refusal, the process survives, and
// a canary client keeps receiving meanwhile.
import assert from "node:assert/strict";
import { isUtf8 } from "node:buffer";
import { connect as tcpConnect, type Socket } from "node:net";
import { after, before, describe, test } from "node:test";
import { ErrorCode } from "@jobchannel/protocol";
import {
  fuzzRuns,
  fuzzSeed,
  recordHostile,
  RefusalTally,
  reliabilityProfile,
  waitFor,
} from "@jobchannel/testkit";
import fc from "fast-check";
import { type Frame, type TestClient } from "./helpers/client.ts";
import { hostileRelayFixture } from "./helpers/hostile-relay.ts";

const MAX_FRAME_BYTES = 4096;
const HEARTBEAT_SECONDS = 2;
const relay = hostileRelayFixture(
  [
    { name: "fuzz", access: "public" },
    { name: "private", access: "authenticated" },
  ],
  {
    RELAY_MAX_FRAME_BYTES: String(MAX_FRAME_BYTES),
    RELAY_HEARTBEAT_SECONDS: String(HEARTBEAT_SECONDS),
  },
);

const seed = fuzzSeed("relay client frames");
const tally = new RefusalTally();
const ERROR_CODES = new Set<string>(Object.values(ErrorCode));
const sockets: Socket[] = [];

/**
 * In the full profile, upgrades that trickle their headers without end, started with the file so
 * that Node's 60 s headersTimeout passes while the other cases run: each answer, once it closes.
 */
const FULL = reliabilityProfile() === "full";
let endless: Promise<string>[] = [];
let endlessDrip: NodeJS.Timeout | undefined;
before(async () => {
  if (!FULL) return;
  await waitFor(() => relay.relay(), { what: "the relay process", timeoutMs: 30_000 });
  const slow = await Promise.all(Array.from({ length: 5 }, () => rawConnection()));
  endless = slow.map(answerOf);
  for (const s of slow) s.write("GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ");
  endlessDrip = setInterval(() => {
    for (const s of slow) if (!s.destroyed) s.write("a");
  }, 1000);
});

after(() => {
  clearInterval(endlessDrip);
  for (const s of sockets) s.destroy();
  recordHostile({
    surface: "relay: client frames",
    cases: tally.cases,
    refusals: tally.refusals,
    crashes: relay.crashes(),
    seed,
    canaryP99Ms: relay.canary.p99Ms(),
  });
});

/** Answered by `unsubscribed`: marks the end of the relay's answers to the frames before it. */
const SENTINEL = JSON.stringify({ type: "unsubscribe", channels: ["sentinel"] });

function isSentinel(f: Frame): boolean {
  return f.type === "unsubscribed" && f.channel === "sentinel";
}

/**
 * Sends one frame (text, or the bytes as given) on a fresh connection, then the sentinel, and
 * returns the frames that answered it (and `awaited`, when given, among them); asserts the
 * connection stayed open.
 */
async function answersTo(
  send: (client: TestClient) => void,
  awaited?: (f: Frame) => boolean,
): Promise<Frame[]> {
  const client = await relay.open();
  send(client);
  client.ws.send(SENTINEL);
  await client.frame(isSentinel, "the sentinel's answer");
  // A subscription is answered once its snapshot is read, possibly after the sentinel's answer.
  if (awaited) await client.frame(awaited, "the awaited answer");
  assert.equal(client.ws.readyState, client.ws.OPEN, "the connection stays open");
  const answers = client.frames.filter((f) => !isSentinel(f));
  client.close();
  return answers;
}

/** Asserts every answer is a documented one, and counts the case by its first refusal. */
function judge(answers: Frame[], what: string): void {
  let refusal: string | undefined;
  for (const f of answers) {
    if (f.type === "error") {
      assert.ok(ERROR_CODES.has(String(f.code)), `${what}: undocumented code ${String(f.code)}`);
      assert.equal(typeof f.message, "string");
      refusal ??= String(f.code);
    } else {
      assert.ok(
        // A frame that subscribed to a live channel (the canary's) also hears its updates.
        ["subscribed", "unsubscribed", "heartbeat", "job"].includes(f.type),
        `${what}: unexpected frame ${JSON.stringify(f)}`,
      );
    }
  }
  if (refusal) tally.refused(refusal);
  else tally.accepted();
}

/** Opens a connection, lets `send` write to it, and resolves with the close code. */
async function closeCodeAfter(send: (client: TestClient) => void): Promise<number> {
  const client = await relay.open();
  send(client);
  return (await client.closed).code;
}

const channelName = fc.oneof(
  fc.constantFrom("fuzz", "private", "canary", "nope", "FUZZ", "fuzz*", "jobchannel:*", "", "-a"),
  fc.string({ maxLength: 70 }),
);
const validFrame = fc.oneof(
  fc.record({
    type: fc.constantFrom("subscribe", "unsubscribe"),
    channels: fc.array(channelName, { maxLength: 4 }),
  }),
  fc.record({ type: fc.constant("auth"), token: fc.string({ maxLength: 200 }) }),
);
/** A valid frame with one field replaced by an arbitrary JSON value, or one added. */
const fieldMutation = fc
  .tuple(validFrame, fc.constantFrom("type", "channels", "token", "extra"), fc.jsonValue())
  .map(([frame, key, value]) => JSON.stringify({ ...frame, [key]: value }));
/** A valid frame's text with characters deleted, inserted, replaced or the end cut off. */
const textMutation = fc
  .tuple(
    validFrame.map((f) => JSON.stringify(f)),
    fc.array(
      fc.record({
        kind: fc.constantFrom("delete", "insert", "replace", "truncate"),
        at: fc.nat(),
        ch: fc.string({ minLength: 1, maxLength: 1 }),
      }),
      { minLength: 1, maxLength: 4 },
    ),
  )
  .map(([text, edits]) => {
    let s = text;
    for (const { kind, at, ch } of edits) {
      const i = s.length === 0 ? 0 : at % s.length;
      if (kind === "delete") s = s.slice(0, i) + s.slice(i + 1);
      else if (kind === "insert") s = s.slice(0, i) + ch + s.slice(i);
      else if (kind === "replace") s = s.slice(0, i) + ch + s.slice(i + 1);
      else s = s.slice(0, i);
    }
    return s;
  });
/** Keys that pollute prototypes when a parser assigns them naively. */
const protoFrame = fc
  .tuple(
    fc.constantFrom("__proto__", "constructor", "prototype"),
    fc.constantFrom("subscribe", "auth", "unsubscribe"),
    fc.jsonValue({ maxDepth: 2 }),
  )
  .map(([key, type, value]) => {
    const inner = JSON.stringify({ type, channels: ["private"], authenticated: true, value });
    return `{"type":"${type}","channels":["private"],"${key}":${inner},"nested":{"${key}":{"prototype":${inner}}}}`;
  });
/** JSON nested far past the protocol's 32 levels, still under the frame limit. */
const deepFrame = fc
  .tuple(fc.integer({ min: 33, max: (MAX_FRAME_BYTES - 64) / 2 }), fc.constantFrom("[", '{"a":'))
  .map(([depth, open]) => {
    const close = open === "[" ? "]" : "}";
    return `{"type":"subscribe","channels":${open.repeat(depth)}${open === "[" ? "" : "1"}${close.repeat(depth)}}`;
  })
  .filter((s) => Buffer.byteLength(s) <= MAX_FRAME_BYTES);
const anyText = fc.oneof(
  { weight: 2, arbitrary: validFrame.map((f) => JSON.stringify(f)) },
  { weight: 3, arbitrary: fieldMutation },
  { weight: 3, arbitrary: textMutation },
  { weight: 2, arbitrary: protoFrame },
  { weight: 1, arbitrary: deepFrame },
  { weight: 1, arbitrary: fc.json() },
  { weight: 1, arbitrary: fc.string({ maxLength: 300 }) },
);

describe("client frames", () => {
  test("answers generated and mutated text frames with documented codes and keeps the connection", async () => {
    relay.canary.reset();
    await fc.assert(
      fc.asyncProperty(anyText, async (text) => {
        fc.pre(Buffer.byteLength(text) <= MAX_FRAME_BYTES);
        judge(await answersTo((c) => c.ws.send(text)), text.slice(0, 200));
      }),
      { seed, numRuns: fuzzRuns(150, 1000) },
    );
    await relay.survived();
  });

  test("prototype keys grant nothing: an anonymous connection is still refused a private channel", async () => {
    await fc.assert(
      fc.asyncProperty(protoFrame, async (text) => {
        const answers = await answersTo((c) => {
          c.ws.send(text);
          c.send({ type: "subscribe", channels: ["private"] });
        });
        assert.ok(!answers.some((f) => f.type === "subscribed" && f.channel === "private"));
        const refusal = answers.find((f) => f.type === "error" && f.channel === "private");
        assert.equal(refusal?.code, ErrorCode.Unauthorized);
        tally.refused(ErrorCode.Unauthorized);
      }),
      { seed, numRuns: fuzzRuns(15, 100) },
    );
    assert.equal(({} as Record<string, unknown>).authenticated, undefined);
  });

  test("answers binary frames with bad_request and keeps the connection", async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: MAX_FRAME_BYTES }), async (bytes) => {
        const answers = await answersTo((c) => c.ws.send(bytes, { binary: true }));
        assert.deepEqual(
          answers.map((f) => f.code),
          [ErrorCode.BadRequest],
        );
        tally.refused(ErrorCode.BadRequest);
      }),
      { seed, numRuns: fuzzRuns(20, 100) },
    );
  });

  test("reassembles a valid frame sent in fragments, and answers mutated fragments with documented codes", async () => {
    const fragmented = fc.tuple(
      fc.oneof(
        fc.constant(JSON.stringify({ type: "subscribe", channels: ["fuzz"] })),
        anyText.filter((t) => Buffer.byteLength(t) <= MAX_FRAME_BYTES),
      ),
      fc.array(fc.nat(), { minLength: 1, maxLength: 6 }),
    );
    await fc.assert(
      fc.asyncProperty(fragmented, async ([text, cuts]) => {
        const bytes = Buffer.from(text);
        const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
        const valid = text === JSON.stringify({ type: "subscribe", channels: ["fuzz"] });
        const answers = await answersTo(
          (c) => {
            let from = 0;
            for (const p of points) {
              c.ws.send(bytes.subarray(from, p), { fin: false, binary: false });
              from = p;
            }
            c.ws.send(bytes.subarray(from), { fin: true, binary: false });
          },
          valid ? (f) => f.type === "subscribed" && f.channel === "fuzz" : undefined,
        );
        judge(answers, `fragmented ${text.slice(0, 100)}`);
      }),
      { seed, numRuns: fuzzRuns(30, 150) },
    );
  });

  test("closes frames over RELAY_MAX_FRAME_BYTES with 4413, whole or fragmented", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: MAX_FRAME_BYTES + 1, max: 8 * MAX_FRAME_BYTES }),
        fc.boolean(),
        fc.boolean(),
        async (size, fragmented, binary) => {
          const body = Buffer.alloc(size, 0x61);
          const code = await closeCodeAfter((c) => {
            if (!fragmented) return c.ws.send(body, { binary });
            const half = Math.floor(size / 2);
            c.ws.send(body.subarray(0, half), { fin: false, binary });
            c.ws.send(body.subarray(half), { fin: true, binary });
          });
          assert.equal(code, 4413);
          tally.refused(4413);
        },
      ),
      { seed, numRuns: fuzzRuns(10, 100) },
    );
  });

  test("closes text frames that are not UTF-8 with 4400", async () => {
    const invalid = fc
      .tuple(
        fc.uint8Array({ maxLength: 200 }),
        fc.constantFrom([0xff], [0xc0, 0x80], [0xed, 0xa0, 0x80], [0xe2, 0x82], [0xf8, 0x88, 0x80]),
        fc.nat(),
      )
      .map(([bytes, bad, at]) => {
        const i = bytes.length === 0 ? 0 : at % bytes.length;
        return Buffer.concat([bytes.subarray(0, i), Buffer.from(bad), bytes.subarray(i)]);
      })
      .filter((b) => !isUtf8(b));
    await fc.assert(
      fc.asyncProperty(invalid, async (bytes) => {
        const code = await closeCodeAfter((c) => c.ws.send(bytes, { binary: false }));
        assert.equal(code, 4400);
        tally.refused(4400);
      }),
      { seed, numRuns: fuzzRuns(10, 100) },
    );
  });

  test("answers a flood past the rate limit with rate_limited, then closes it with 4400", async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 150, max: 600 }), async (count) => {
        const client = await relay.open();
        for (let i = 0; i < count; i++) client.ws.send(SENTINEL);
        const limited = await client.frame((f) => f.type === "error", "rate_limited");
        assert.equal(limited.code, ErrorCode.RateLimited);
        assert.equal((await client.closed).code, 4400);
        tally.refused(ErrorCode.RateLimited);
        tally.refused(4400);
      }),
      { seed, numRuns: fuzzRuns(3, 20) },
    );
    await relay.survived();
  });
});

/** A raw TCP connection to the relay's port. */
function rawConnection(): Promise<Socket> {
  const { port } = new URL(relay.relay().http);
  return new Promise((resolve, reject) => {
    const socket = tcpConnect(Number(port), "127.0.0.1");
    sockets.push(socket);
    socket.once("connect", () => resolve(socket));
    socket.once("error", reject);
  });
}

/** Everything the relay writes to a raw connection until it closes. */
function answerOf(socket: Socket): Promise<string> {
  return new Promise((resolve) => {
    let answer = "";
    socket.on("data", (d: Buffer) => (answer += d.toString("latin1")));
    socket.once("close", () => resolve(answer));
  });
}

const UPGRADE = [
  "GET /ws HTTP/1.1",
  "Host: 127.0.0.1",
  "Upgrade: websocket",
  "Connection: Upgrade",
  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
  "Sec-WebSocket-Version: 13",
  "",
  "",
].join("\r\n");

async function disconnects(code: number): Promise<number> {
  const text = await relay.relay().metrics();
  return Number(new RegExp(`disconnects_total\\{code="${code}"\\} (\\d+)`).exec(text)?.[1] ?? 0);
}

describe("connections", () => {
  test("closes a half-open connection that stops answering pings with 4002", async () => {
    const before = await disconnects(4002);
    const socket = await rawConnection();
    const upgraded = new Promise<void>((resolve) =>
      socket.once("data", (d) => {
        assert.match(d.toString("latin1"), /^HTTP\/1\.1 101/);
        resolve();
      }),
    );
    socket.write(UPGRADE);
    await upgraded;
    // The peer is gone without a FIN: nothing is read or written from here on.
    socket.pause();
    await waitFor(async () => (await disconnects(4002)) > before, {
      what: "the half-open connection closed with 4002",
      timeoutMs: 4 * HEARTBEAT_SECONDS * 1000 + 10_000,
    });
    tally.refused(4002);
    await relay.survived();
  });

  test("keeps serving while slowloris upgrades trickle their headers, and answers each 400 when it gives up", async () => {
    const slow = await Promise.all(Array.from({ length: 20 }, () => rawConnection()));
    const closed = slow.map(answerOf);
    let sent = 0;
    const drip = setInterval(() => {
      for (const s of slow) if (!s.destroyed) s.write(UPGRADE[sent % (UPGRADE.length - 4)]!);
      sent++;
    }, 200);
    try {
      relay.canary.reset();
      for (let i = 0; i < 3; i++) {
        await relay.survived();
        const fresh = await relay.open("?channels=fuzz");
        await fresh.frame((f) => f.type === "subscribed", "a subscription beside the slowloris");
        fresh.close();
      }
      assert.ok(relay.canary.p99Ms() < 1000, `canary p99 ${relay.canary.p99Ms()} ms`);
    } finally {
      clearInterval(drip);
    }
    // The client gives up: the relay answers the unfinished request and closes.
    for (const s of slow) s.end();
    for (const answer of await Promise.all(closed)) {
      const status = /^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1];
      assert.equal(status, "400", `an unfinished upgrade is refused: ${JSON.stringify(answer)}`);
      tally.refused(status);
    }
  });

  test(
    "answers upgrades whose headers never finish with 408 once Node's 60 s headersTimeout passes",
    { skip: FULL ? false : "full profile only: it waits 60 to 90 s" },
    async () => {
      let timer: NodeJS.Timeout | undefined;
      const answers = await Promise.race([
        Promise.all(endless),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error("no answer in 150 s")), 150_000);
        }),
      ]).finally(() => clearTimeout(timer));
      for (const answer of answers) {
        assert.match(answer, /^HTTP\/1\.1 408 /, JSON.stringify(answer));
        tally.refused(408);
      }
      await relay.survived();
    },
  );
});
