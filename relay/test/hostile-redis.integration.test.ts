// Hostile Redis payloads on the channels a jobchannel-relay process watches: malformed,
// oversized, invalid UTF-8, prototype keys, deep nesting and a wrong type in any field. Each is
// dropped and counted under its documented reason, the valid ones are delivered, the process
// survives, and a canary keeps receiving.
import assert from "node:assert/strict";
import { after, test } from "node:test";
import { fuzzRuns, fuzzSeed, recordHostile, RefusalTally } from "@jobchannel/testkit";
import fc from "fast-check";
import type { TestClient } from "./helpers/client.ts";
import { hostileRelayFixture } from "./helpers/hostile-relay.ts";

const MAX_MESSAGE_BYTES = 4096;
const relay = hostileRelayFixture([
  { name: "pay", access: "public", maxMessageBytes: MAX_MESSAGE_BYTES },
]);
const seed = fuzzSeed("relay Redis payloads");
const tally = new RefusalTally();

after(() => {
  recordHostile({
    surface: "relay: Redis payloads",
    cases: tally.cases,
    refusals: tally.refusals,
    crashes: relay.crashes(),
    seed,
    canaryP99Ms: relay.canary.p99Ms(),
  });
});

type Reason = "malformed" | "too_large" | "invalid_channel" | "unknown_channel";
/** What the relay must do with a payload; `utf8` = delivered with U+FFFD, or malformed. */
type Expected = "delivered" | Reason | "utf8";

interface Case {
  redisChannel: string;
  payload: string | Buffer;
  expected: Expected;
}

const STATUSES = ["queued", "processing", "completed", "failed"];

/** The job-update contract of design section 2, field by field, written apart from the relay's. */
function fieldValid(field: string, v: unknown): boolean {
  switch (field) {
    case "jobId":
      return typeof v === "string" && v.length >= 1 && v.length <= 128;
    case "status":
      return typeof v === "string" && STATUSES.includes(v);
    case "timestamp":
      return typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
    case "progress":
      return typeof v === "number" && Number.isFinite(v) && v >= 0 && v <= 100;
    case "userId":
      return typeof v === "string" && v.length >= 1 && v.length <= 256;
    case "seq":
      return typeof v === "number" && Number.isSafeInteger(v) && v >= 1;
    case "error":
    case "channel":
      return typeof v === "string";
    default:
      return true;
  }
}

let n = 0;
function valid(): Record<string, unknown> {
  return { jobId: `pay-${++n}`, status: "processing", progress: 50, timestamp: Date.now() };
}

const FIELDS = ["jobId", "status", "timestamp", "progress", "userId", "seq", "error", "channel"];

/** A valid update with one field set to any JSON value: malformed unless the value fits. */
const wrongType: fc.Arbitrary<Case> = fc
  .tuple(fc.constantFrom(...FIELDS, "custom"), fc.jsonValue({ maxDepth: 3 }))
  .map(([field, value]) => {
    const update = { ...valid(), [field]: value };
    const expected = fieldValid(field, value) ? "delivered" : "malformed";
    return { redisChannel: "jobchannel:pay", payload: JSON.stringify(update), expected };
  });
/** A valid update's text with characters deleted, inserted or the end cut off. */
const mangled: fc.Arbitrary<Case> = fc
  .tuple(fc.nat(), fc.string({ minLength: 1, maxLength: 3 }), fc.constantFrom("cut", "insert"))
  .map(([at, text, how]) => {
    const s = JSON.stringify(valid());
    const i = at % s.length;
    const payload = how === "cut" ? s.slice(0, i) : s.slice(0, i) + text + s.slice(i);
    let expected: Expected = "malformed";
    try {
      const value = JSON.parse(payload) as unknown;
      if (
        value !== null &&
        typeof value === "object" &&
        !Array.isArray(value) &&
        FIELDS.every(
          (f) => !(f in value) || fieldValid(f, (value as Record<string, unknown>)[f]),
        ) &&
        ["jobId", "status", "timestamp"].every((f) => f in value)
      )
        expected = "delivered";
    } catch {
      expected = "malformed";
    }
    return { redisChannel: "jobchannel:pay", payload, expected };
  });
const garbage: fc.Arbitrary<Case> = fc
  .oneof(
    fc.string({ maxLength: 200 }),
    fc.json({ maxDepth: 3 }),
    fc.constantFrom("", "null", "[]", "0", '"x"', "{}", "{"),
  )
  .map((payload) => ({ redisChannel: "jobchannel:pay", payload, expected: "malformed" }));
const oversized: fc.Arbitrary<Case> = fc
  .integer({ min: MAX_MESSAGE_BYTES + 1, max: 64 * MAX_MESSAGE_BYTES })
  .map((size) => {
    const base = JSON.stringify({ ...valid(), pad: "" });
    const payload = base.replace(
      '"pad":""',
      `"pad":"${"x".repeat(Math.max(0, size - base.length))}"`,
    );
    return { redisChannel: "jobchannel:pay", payload, expected: "too_large" };
  });
const deep: fc.Arbitrary<Case> = fc.integer({ min: 33, max: 1000 }).map((depth) => {
  const payload = JSON.stringify(valid()).replace(
    /}$/,
    `,"custom":${"[".repeat(depth)}${"]".repeat(depth)}}`,
  );
  return { redisChannel: "jobchannel:pay", payload, expected: "malformed" };
});
const proto: fc.Arbitrary<Case> = fc
  .constantFrom(
    '"__proto__":{"userId":"root"}',
    '"custom":{"__proto__":{"polluted":true}}',
    '"constructor":{"prototype":{"polluted":true}}',
  )
  .map((extra) => ({
    redisChannel: "jobchannel:pay",
    payload: JSON.stringify(valid()).replace(/}$/, `,${extra}}`),
    expected: "malformed",
  }));
const invalidUtf8: fc.Arbitrary<Case> = fc
  .constantFrom([0xff], [0xc0, 0x80], [0xed, 0xa0, 0x80])
  .map((bad) => {
    const [head, tail] = JSON.stringify(valid()).split('"processing"') as [string, string];
    const payload = Buffer.concat([
      Buffer.from(`${head}"processing","note":"`),
      Buffer.from(bad),
      Buffer.from(`"${tail}`),
    ]);
    return { redisChannel: "jobchannel:pay", payload, expected: "utf8" };
  });
const badChannel: fc.Arbitrary<Case> = fc
  .constantFrom("PAY", "pay..x", "-pay", "pay_x", "a".repeat(64), "", "pay/x")
  .map((name) => ({
    redisChannel: `jobchannel:${name}`,
    payload: JSON.stringify(valid()),
    expected: "invalid_channel",
  }));
const unknownChannel: fc.Arbitrary<Case> = fc
  .constantFrom("nobody-configured", "pay-2", "x")
  .map((name) => ({
    redisChannel: `jobchannel:${name}`,
    payload: JSON.stringify(valid()),
    expected: "unknown_channel",
  }));
const anyCase = fc.oneof(
  { weight: 5, arbitrary: wrongType },
  { weight: 3, arbitrary: mangled },
  { weight: 2, arbitrary: garbage },
  { weight: 1, arbitrary: oversized },
  { weight: 1, arbitrary: deep },
  { weight: 1, arbitrary: proto },
  { weight: 1, arbitrary: invalidUtf8 },
  { weight: 1, arbitrary: badChannel },
  { weight: 1, arbitrary: unknownChannel },
);

async function dropped(): Promise<Record<Reason, number>> {
  const text = await relay.relay().metrics();
  const count = (reason: Reason): number =>
    Number(
      new RegExp(
        `^jobchannel_relay_messages_dropped_total\\{reason="${reason}"\\} (\\d+)`,
        "m",
      ).exec(text)?.[1] ?? 0,
    );
  return {
    malformed: count("malformed"),
    too_large: count("too_large"),
    invalid_channel: count("invalid_channel"),
    unknown_channel: count("unknown_channel"),
  };
}

test("drops each hostile payload under its documented reason, delivers the valid ones, and keeps running", async () => {
  relay.canary.reset();
  const subscriber: TestClient = await relay.open("?channels=pay");
  await subscriber.frame((f) => f.type === "subscribed", "subscribed pay");
  let sentinel = 0;
  const batches = fuzzRuns(6, 30);
  for (let batch = 0; batch < batches; batch++) {
    const before = await dropped();
    const want: Record<Reason, number> = {
      malformed: 0,
      too_large: 0,
      invalid_channel: 0,
      unknown_channel: 0,
    };
    await fc.assert(
      fc.asyncProperty(anyCase, async (c) => {
        const from = subscriber.frames.length;
        await relay.publisher().publish(c.redisChannel, c.payload);
        const mark = `sentinel-${++sentinel}`;
        await relay
          .publisher()
          .publish(
            "jobchannel:pay",
            JSON.stringify({ jobId: mark, status: "queued", timestamp: Date.now() }),
          );
        await subscriber.frame(
          (f) => f.type === "job" && (f.job as { jobId: string }).jobId === mark,
          mark,
        );
        const got = subscriber.frames
          .slice(from)
          .filter((f) => f.type === "job" && (f.job as { jobId: string }).jobId !== mark);
        const outcome: Expected = got.length > 0 ? "delivered" : "malformed";
        if (c.expected === "delivered" || (c.expected === "utf8" && outcome === "delivered")) {
          assert.equal(got.length, 1, `delivered once: ${String(c.payload).slice(0, 200)}`);
          assert.equal((got[0]!.job as { channel: string }).channel, "pay");
          tally.accepted();
          return;
        }
        assert.equal(got.length, 0, `not delivered: ${String(c.payload).slice(0, 200)}`);
        const reason: Reason = c.expected === "utf8" ? "malformed" : c.expected;
        want[reason]++;
        tally.refused(reason);
      }),
      { seed: seed + batch, numRuns: 40 },
    );
    const delta = await dropped();
    for (const reason of Object.keys(want) as Reason[]) {
      assert.equal(delta[reason] - before[reason], want[reason], `dropped{reason="${reason}"}`);
    }
    await relay.survived();
  }
  assert.equal(subscriber.ws.readyState, subscriber.ws.OPEN);
});
