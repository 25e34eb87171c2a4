// Hostile tokens against a jobchannel-relay process with an HS256 secret, a JWKS endpoint, an
// issuer and an audience: generated claims and signatures (alg none, wrong key, HS/RS confusion,
// expired, not yet valid, wrong iss/aud, missing or bad sub), huge tokens, and a JWKS endpoint
// that hangs or answers garbage. Each gets its documented refusal and a canary keeps receiving.
import assert from "node:assert/strict";
import { createHmac, generateKeyPairSync, sign, type KeyObject } from "node:crypto";
import { createServer, type Server, type ServerResponse } from "node:http";
import { after, describe, test } from "node:test";
import { ErrorCode } from "@jobchannel/protocol";
import { freePort, fuzzRuns, fuzzSeed, recordHostile, RefusalTally } from "@jobchannel/testkit";
import fc from "fast-check";
import { connect, type Frame, type TestClient } from "./helpers/client.ts";
import { hostileRelayFixture } from "./helpers/hostile-relay.ts";
import { SECRET } from "./helpers/relay.ts";

const ISSUER = "https://issuer.example.com";
const AUDIENCE = "jobchannel";
const KID = "relay-test-key";

const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 });
const otherRsa = generateKeyPairSync("rsa", { modulusLength: 2048 });

/** What the JWKS endpoint does: serve the key, never answer, or answer garbage. */
let jwksMode: "good" | "hang" | "garbage" = "hang";
const hanging: ServerResponse[] = [];
const jwks: Server = createServer((_req, res) => {
  if (jwksMode === "hang") return void hanging.push(res);
  if (jwksMode === "garbage") return void res.writeHead(200).end('{"keys": "not keys"}<html>');
  const jwk = rsa.publicKey.export({ format: "jwk" });
  res
    .writeHead(200, { "content-type": "application/json" })
    .end(JSON.stringify({ keys: [{ ...jwk, kid: KID, alg: "RS256", use: "sig" }] }));
});

const relay = hostileRelayFixture([{ name: "private", access: "authenticated" }], async () => {
  const port = await freePort();
  await new Promise<void>((resolve) => jwks.listen(port, "127.0.0.1", resolve));
  return {
    RELAY_JWKS_URL: `http://127.0.0.1:${port}/jwks.json`,
    RELAY_JWT_ISSUER: ISSUER,
    RELAY_JWT_AUDIENCE: AUDIENCE,
  };
});

const seed = fuzzSeed("relay tokens");
const tally = new RefusalTally();

after(async () => {
  for (const res of hanging) res.destroy();
  jwks.closeAllConnections();
  await new Promise((resolve) => jwks.close(resolve));
  recordHostile({
    surface: "relay: tokens",
    cases: tally.cases,
    refusals: tally.refusals,
    crashes: relay.crashes(),
    seed,
    canaryP99Ms: relay.canary.p99Ms(),
  });
});

function b64(value: unknown): string {
  return Buffer.from(typeof value === "string" ? value : JSON.stringify(value)).toString(
    "base64url",
  );
}

/** How a generated token is signed. */
type Signing =
  | "hs256"
  | "hs256-wrong-secret"
  | "none"
  | "rs256"
  | "rs256-other-key"
  | "rs256-unknown-kid"
  | "hs256-public-key"
  | "rs256-header-hmac-signature";

const VALID_SIGNINGS: ReadonlySet<Signing> = new Set(["hs256", "rs256"]);

function rs256(data: string, key: KeyObject): string {
  return sign("sha256", Buffer.from(data), key).toString("base64url");
}

function hs256(data: string, secret: string | Buffer): string {
  return createHmac("sha256", secret).update(data).digest("base64url");
}

/** A compact JWS of `payload`, signed (or not) as `signing` says. */
function jws(payload: Record<string, unknown>, signing: Signing): string {
  const publicPem = rsa.publicKey.export({ format: "pem", type: "spki" });
  const header = (alg: string, kid?: string): string =>
    b64({ alg, typ: "JWT", ...(kid ? { kid } : {}) });
  const body = b64(payload);
  switch (signing) {
    case "hs256":
    case "hs256-wrong-secret": {
      const data = `${header("HS256")}.${body}`;
      const secret = signing === "hs256" ? SECRET : `${SECRET}-not`;
      return `${data}.${hs256(data, secret)}`;
    }
    case "none":
      return `${header("none")}.${body}.`;
    case "rs256":
    case "rs256-other-key":
    case "rs256-unknown-kid": {
      const data = `${header("RS256", signing === "rs256-unknown-kid" ? "nobody" : KID)}.${body}`;
      return `${data}.${rs256(data, signing === "rs256-other-key" ? otherRsa.privateKey : rsa.privateKey)}`;
    }
    case "hs256-public-key": {
      // The classic confusion: the RSA public key used as an HMAC secret.
      const data = `${header("HS256", KID)}.${body}`;
      return `${data}.${hs256(data, publicPem)}`;
    }
    case "rs256-header-hmac-signature": {
      const data = `${header("RS256", KID)}.${body}`;
      return `${data}.${hs256(data, publicPem)}`;
    }
  }
}

const now = (): number => Math.floor(Date.now() / 1000);

/** Claims with each field valid, wrong, missing or of the wrong type. */
/** Each field valid most of the time, so that every later check is reached too. */
function mostly<T, U>(valid: fc.Arbitrary<T>, invalid: fc.Arbitrary<U>): fc.Arbitrary<T | U> {
  return fc.oneof({ weight: 4, arbitrary: valid }, { weight: 1, arbitrary: invalid });
}

const claims = fc.record(
  {
    sub: mostly(
      fc.constantFrom("alice", "bob"),
      fc.oneof(fc.constant(""), fc.integer(), fc.constant(null), fc.string({ maxLength: 20 })),
    ),
    exp: mostly(
      fc.integer({ min: 60, max: 86_400 }).map((s) => ({ offset: s })),
      fc.oneof(
        fc.integer({ min: -86_400, max: -60 }).map((s) => ({ offset: s })),
        fc.constantFrom("soon", null, true, undefined),
      ),
    ),
    nbf: mostly(
      fc.integer({ min: -3600, max: -60 }).map((s) => ({ offset: s })),
      fc.integer({ min: 60, max: 3600 }).map((s) => ({ offset: s })),
    ),
    iss: mostly(
      fc.constant(ISSUER),
      fc.oneof(fc.constantFrom(`${ISSUER}.evil.com`, undefined), fc.string({ maxLength: 10 })),
    ),
    aud: mostly(
      fc.constantFrom(AUDIENCE, [AUDIENCE, "other"]),
      fc.constantFrom("other", [] as string[], undefined),
    ),
    channels: mostly(
      fc.constant(["private"]),
      fc.oneof(
        fc.constant(["canary"]),
        fc.constant(["*"]),
        fc.constant("private"),
        fc.array(fc.constantFrom("private", "priv*", "", "PRIVATE"), { maxLength: 3 }),
      ),
    ),
  },
  { requiredKeys: ["exp", "iss", "aud"] },
);

type Claims = typeof claims extends fc.Arbitrary<infer T> ? T : never;

function payloadOf(c: Claims): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(c)) {
    out[key] =
      typeof value === "object" && value !== null && "offset" in value
        ? now() + (value as { offset: number }).offset
        : value;
  }
  return out;
}

/** What the relay must answer, per jose's order of checks and the relay's own claim rules. */
function expected(c: Claims, signing: Signing): "accepted" | "forbidden" | 4001 | 4401 {
  if (!VALID_SIGNINGS.has(signing)) return 4401;
  if (c.exp === undefined || c.iss === undefined || c.aud === undefined) return 4401;
  if (c.iss !== ISSUER) return 4401;
  const auds = Array.isArray(c.aud) ? c.aud : [c.aud];
  if (!auds.includes(AUDIENCE)) return 4401;
  if (c.nbf !== undefined && c.nbf.offset > 0) return 4401;
  if (typeof c.exp !== "object" || c.exp === null) return 4401;
  if (c.exp.offset < 0) return 4001;
  if (c.sub !== undefined && (typeof c.sub !== "string" || c.sub === "")) return 4401;
  if (c.channels !== undefined) {
    const valid =
      Array.isArray(c.channels) &&
      c.channels.every((n) => /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(n));
    if (!valid) return 4401;
    if (!(c.channels as string[]).includes("private")) return "forbidden";
  }
  return "accepted";
}

const signing = fc.constantFrom<Signing>(
  "hs256",
  "hs256",
  "rs256",
  "rs256",
  "hs256-wrong-secret",
  "none",
  "rs256-other-key",
  "rs256-unknown-kid",
  "hs256-public-key",
  "rs256-header-hmac-signature",
);

/** Connects with `headers` and asks for the authenticated channel; the answer or close code. */
async function outcome(query: string, headers: Record<string, string> = {}): Promise<string> {
  let client: TestClient;
  try {
    client = await connect(relay.relay().url + query, { headers });
  } catch (e) {
    return /upgrade refused: (\d+)/.exec(String(e))?.[1] ?? String(e);
  }
  try {
    client.send({ type: "subscribe", channels: ["private"] });
    // Whichever comes first; nothing is left waiting for the other.
    return await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("no answer in 15 s")), 15_000);
      const settle = (answer: string): void => {
        clearTimeout(timer);
        resolve(answer);
      };
      client.ws.once("close", (code) => settle(String(code)));
      const check = (): void => {
        const f = client.frames.find((frame: Frame) => frame.channel === "private");
        if (f) settle(f.type === "subscribed" ? "accepted" : String(f.code));
      };
      client.ws.on("message", check);
      check();
    });
  } finally {
    client.ws.terminate();
  }
}

// First in the file: the relay has fetched no keys yet, so each RS256 token makes it ask.
describe("a misbehaving JWKS endpoint", () => {
  const rsToken = (): string =>
    jws({ sub: "alice", exp: now() + 3600, iss: ISSUER, aud: AUDIENCE }, "rs256");
  const hsToken = (): string =>
    jws({ sub: "bob", exp: now() + 3600, iss: ISSUER, aud: AUDIENCE }, "hs256");

  test("refuses RS256 tokens with 4401 while it hangs, and serves HS256 tokens and the canary meanwhile", async () => {
    relay.canary.reset();
    const waiting = outcome("", { authorization: `Bearer ${rsToken()}` });
    assert.equal(await outcome("", { authorization: `Bearer ${hsToken()}` }), "accepted");
    await relay.canary.flowing();
    assert.equal(await waiting, "4401");
    tally.refused(4401);
    tally.accepted();
    await relay.survived();
  });

  test("refuses RS256 tokens with 4401 while it answers garbage, and accepts them once it recovers", async () => {
    jwksMode = "garbage";
    assert.equal(await outcome("", { authorization: `Bearer ${rsToken()}` }), "4401");
    tally.refused(4401);
    jwksMode = "good";
    assert.equal(await outcome("", { authorization: `Bearer ${rsToken()}` }), "accepted");
    tally.accepted();
    await relay.survived();
  });
});

describe("tokens at connect", () => {
  test("refuses generated tokens with 4401 or 4001 as their claims and signature say, and grants the rest", async () => {
    relay.canary.reset();
    await fc.assert(
      fc.asyncProperty(claims, signing, fc.boolean(), async (c, how, inQuery) => {
        const token = jws(payloadOf(c), how);
        const want = String(expected(c, how));
        const got = inQuery
          ? await outcome(`?access_token=${token}`)
          : await outcome("", { authorization: `Bearer ${token}` });
        assert.equal(got, want, `${how} ${JSON.stringify(c)}`);
        if (got === "accepted") tally.accepted();
        else tally.refused(got);
      }),
      { seed, numRuns: fuzzRuns(80, 1000) },
    );
    await relay.survived();
  });

  test("refuses a token longer than 8192 characters with 4401, and headers past 16 KiB with HTTP 431", async () => {
    const valid = jws(
      { sub: "alice", exp: now() + 3600, iss: ISSUER, aud: AUDIENCE, pad: "x".repeat(9000) },
      "hs256",
    );
    assert.equal(await outcome("", { authorization: `Bearer ${valid}` }), "4401");
    assert.equal(await outcome(`?access_token=${valid}`), "4401");
    assert.equal(await outcome("", { authorization: `Bearer ${"a".repeat(64 * 1024)}` }), "431");
    for (const code of ["4401", "4401", "431"]) tally.refused(code);
    await relay.survived();
  });
});

describe("tokens in auth frames", () => {
  test("answers a refused auth frame with unauthorized, keeps the connection, and grants an accepted one", async () => {
    await fc.assert(
      fc.asyncProperty(claims, signing, async (c, how) => {
        const want = expected(c, how);
        const client = await relay.open();
        client.send({ type: "auth", token: jws(payloadOf(c), how) });
        client.send({ type: "subscribe", channels: ["private"] });
        const answer = await client.frame((f) => f.type !== "heartbeat", "the first answer");
        if (want === "accepted") {
          assert.equal(answer.type, "subscribed", JSON.stringify(answer));
          tally.accepted();
        } else if (want === "forbidden") {
          assert.equal(answer.code, ErrorCode.Forbidden);
          tally.refused(ErrorCode.Forbidden);
        } else {
          assert.equal(answer.code, ErrorCode.Unauthorized, `${how} ${JSON.stringify(c)}`);
          tally.refused(ErrorCode.Unauthorized);
        }
        assert.equal(client.ws.readyState, client.ws.OPEN);
        client.close();
      }),
      { seed, numRuns: fuzzRuns(40, 300) },
    );
  });
});
