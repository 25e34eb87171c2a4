// Tests of token verification and the channel access rule.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { MAX_TOKEN_LENGTH } from "@jobchannel/protocol";
import { ANONYMOUS, accessProblem, createAuthenticator, tokenFromRequest } from "../src/auth.ts";
import type { ChannelSettings } from "../src/channel-config.ts";
import type { IncomingMessage } from "node:http";

const SECRET = "test-secret-0123456789abcdef0123456789";

async function token(claims: Record<string, unknown>, secret = SECRET, expiresIn = "1h") {
  const jwt = new SignJWT(claims).setProtectedHeader({ alg: "HS256" }).setIssuedAt();
  if (expiresIn) jwt.setExpirationTime(expiresIn);
  return jwt.sign(new TextEncoder().encode(secret));
}

function settings(access: ChannelSettings["access"]): ChannelSettings {
  return {
    name: "uploads",
    access,
    visibility: "channel",
    history: { maxJobs: 10, ttlSeconds: 60 },
    maxMessageBytes: 65536,
  };
}

describe("createAuthenticator", () => {
  test("is undefined without a secret or JWKS", () => {
    assert.equal(createAuthenticator({}), undefined);
  });

  test("accepts a valid HS256 token and reads sub, exp and channels", async () => {
    const auth = createAuthenticator({ secret: SECRET })!;
    const result = await auth.verify(await token({ sub: "alice", channels: ["uploads"] }));
    assert.ok(result.ok);
    assert.equal(result.identity.authenticated, true);
    assert.equal(result.identity.sub, "alice");
    assert.deepEqual([...result.identity.channels!], ["uploads"]);
    assert.ok(result.identity.expiresAt! > Date.now());
  });

  test("refuses an expired token as expired", async () => {
    const auth = createAuthenticator({ secret: SECRET })!;
    const expired = await new SignJWT({ sub: "a" })
      .setProtectedHeader({ alg: "HS256" })
      .setExpirationTime(Math.floor(Date.now() / 1000) - 10)
      .sign(new TextEncoder().encode(SECRET));
    const result = await auth.verify(expired);
    assert.deepEqual(result.ok ? undefined : [result.reason, result.message], [
      "expired",
      "token expired",
    ]);
  });

  test("refuses a token signed with another secret, without exp, or with a bad channels claim", async () => {
    const auth = createAuthenticator({ secret: SECRET })!;
    for (const bad of [
      await token({ sub: "a" }, "another-secret-0123456789abcdef0123"),
      await token({ sub: "a" }, SECRET, ""),
      await token({ sub: "a", channels: "uploads" }),
      await token({ sub: "a", channels: ["Not Valid"] }),
      await token({ sub: "a", channels: ["uploads", "Not Valid"] }),
      "not.a.jwt",
    ]) {
      const result = await auth.verify(bad);
      assert.equal(result.ok, false);
      assert.equal(result.ok ? undefined : result.reason, "invalid");
    }
  });

  test("checks issuer and audience when set", async () => {
    const auth = createAuthenticator({ secret: SECRET, issuer: "me", audience: "relay" })!;
    assert.equal((await auth.verify(await token({ iss: "me", aud: "relay" }))).ok, true);
    assert.equal((await auth.verify(await token({ iss: "other", aud: "relay" }))).ok, false);
    assert.equal((await auth.verify(await token({ iss: "me", aud: "other" }))).ok, false);
  });

  test("names the claim a refused token lacks or gets wrong", async () => {
    const auth = createAuthenticator({ secret: SECRET })!;
    const message = async (jwt: string) => {
      const result = await auth.verify(jwt);
      return result.ok ? "ok" : result.message;
    };
    assert.equal(
      await message(await token({ sub: "a" }, SECRET, "")),
      'token refused: missing required "exp" claim',
    );
    assert.equal(
      await message(await token({ sub: "a", channels: ["uploads", "Not Valid"] })),
      "token channels claim must be an array of channel names",
    );
  });

  test("refuses a sub that is not a non-empty string", async () => {
    const auth = createAuthenticator({ secret: SECRET })!;
    for (const sub of ["", 42, ["a"]]) {
      const result = await auth.verify(await token({ sub }));
      assert.deepEqual(
        result.ok ? undefined : [result.reason, result.message],
        ["invalid", "token sub claim must be a non-empty string"],
        JSON.stringify(sub),
      );
    }
  });

  test("refuses an empty or oversized token before verifying it", async () => {
    const auth = createAuthenticator({ secret: SECRET })!;
    const message = async (jwt: string) => {
      const result = await auth.verify(jwt);
      return result.ok ? "ok" : result.message;
    };
    assert.equal(await message(""), "token has a bad length");
    assert.equal(await message("a".repeat(MAX_TOKEN_LENGTH + 1)), "token has a bad length");
    assert.match(await message("a".repeat(MAX_TOKEN_LENGTH)), /^token refused: /);
    assert.match(await message("a"), /^token refused: /);
  });

  test("reads exp as Unix ms, and leaves sub and channels out when the token has none", async () => {
    const auth = createAuthenticator({ secret: SECRET })!;
    const exp = Math.floor(Date.now() / 1000) + 600;
    const jwt = await new SignJWT({})
      .setProtectedHeader({ alg: "HS256" })
      .setExpirationTime(exp)
      .sign(new TextEncoder().encode(SECRET));
    const result = await auth.verify(jwt);
    assert.deepEqual(result.ok ? result.identity : result, {
      authenticated: true,
      expiresAt: exp * 1000,
    });
  });

  test("tolerates clock skew on exp only as far as configured", async () => {
    const expired = await new SignJWT({ sub: "a" })
      .setProtectedHeader({ alg: "HS256" })
      .setExpirationTime(Math.floor(Date.now() / 1000) - 5)
      .sign(new TextEncoder().encode(SECRET));
    const strict = createAuthenticator({ secret: SECRET })!;
    const lenient = createAuthenticator({ secret: SECRET, clockToleranceSeconds: 60 })!;
    assert.equal((await strict.verify(expired)).ok, false);
    assert.equal((await lenient.verify(expired)).ok, true);
  });

  test("names the failed check in a refusal", async () => {
    const auth = createAuthenticator({ secret: SECRET })!;
    const forged = await token({ sub: "a" }, "another-secret-0123456789abcdef0123");
    const result = await auth.verify(forged);
    assert.equal(
      result.ok ? undefined : result.message,
      "token refused: signature verification failed",
    );
  });

  test("never puts the token in its refusal message", async () => {
    const auth = createAuthenticator({ secret: SECRET })!;
    const forged = await token({ sub: "a" }, "another-secret-0123456789abcdef0123");
    const result = await auth.verify(forged);
    assert.ok(!result.ok);
    assert.ok(!result.message.includes(forged));
  });
});

describe("JWKS", () => {
  test("verifies ES256 and RS256 tokens against keys served as a JWKS", async () => {
    const es = await generateKeyPair("ES256");
    const rs = await generateKeyPair("RS256");
    const keys = [
      { ...(await exportJWK(es.publicKey)), kid: "es", alg: "ES256" },
      { ...(await exportJWK(rs.publicKey)), kid: "rs", alg: "RS256" },
    ];
    const server = createServer((_req, res) => {
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ keys }));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const auth = createAuthenticator({ jwksUrl: `http://127.0.0.1:${port}/jwks.json` })!;
      for (const [alg, kid, key] of [
        ["ES256", "es", es.privateKey],
        ["RS256", "rs", rs.privateKey],
      ] as const) {
        const jwt = await new SignJWT({ sub: `user-${kid}` })
          .setProtectedHeader({ alg, kid })
          .setExpirationTime("1h")
          .sign(key);
        const result = await auth.verify(jwt);
        assert.ok(result.ok, alg);
        assert.equal(result.identity.sub, `user-${kid}`);
      }
      const other = await generateKeyPair("ES256");
      const stranger = await new SignJWT({ sub: "x" })
        .setProtectedHeader({ alg: "ES256", kid: "es" })
        .setExpirationTime("1h")
        .sign(other.privateKey);
      assert.equal((await auth.verify(stranger)).ok, false);
      const hs = await token({ sub: "a" });
      assert.equal((await auth.verify(hs)).ok, false, "HS256 is refused without a secret");
      // With both, each algorithm gets its own key: the secret never stands in for a JWKS key.
      const both = createAuthenticator({
        secret: SECRET,
        jwksUrl: `http://127.0.0.1:${port}/jwks.json`,
      })!;
      const rsToken = await new SignJWT({ sub: "rs-user" })
        .setProtectedHeader({ alg: "RS256", kid: "rs" })
        .setExpirationTime("1h")
        .sign(rs.privateKey);
      for (const [jwt, sub] of [
        [hs, "a"],
        [rsToken, "rs-user"],
      ] as const) {
        const result = await both.verify(jwt);
        assert.equal(result.ok ? result.identity.sub : result.message, sub);
      }
    } finally {
      server.close();
    }
  });

  test("refuses a token whose JWKS cannot be fetched, saying only that it was refused", async () => {
    const rs = await generateKeyPair("RS256");
    const jwt = await new SignJWT({ sub: "a" })
      .setProtectedHeader({ alg: "RS256", kid: "k" })
      .setExpirationTime("1h")
      .sign(rs.privateKey);
    // Port 9 (discard) on loopback: nothing listens, the fetch fails at once.
    const auth = createAuthenticator({ jwksUrl: "http://127.0.0.1:9/jwks.json" })!;
    const result = await auth.verify(jwt);
    assert.deepEqual(result, { ok: false, reason: "invalid", message: "token refused" });
  });
});

describe("tokenFromRequest", () => {
  const request = (headers: Record<string, string>) => ({ headers }) as unknown as IncomingMessage;

  test("prefers the bearer header over the access_token parameter", () => {
    const query = new URLSearchParams("access_token=q");
    assert.equal(tokenFromRequest(request({ authorization: "Bearer h" }), query), "h");
    assert.equal(tokenFromRequest(request({}), query), "q");
    assert.equal(tokenFromRequest(request({}), new URLSearchParams()), undefined);
  });

  test("reads a bearer header in any case and with spaces around, and only a bearer header", () => {
    const query = new URLSearchParams("access_token=q");
    const none = new URLSearchParams();
    assert.equal(tokenFromRequest(request({ authorization: "bearer h.t.s" }), none), "h.t.s");
    assert.equal(tokenFromRequest(request({ authorization: "Bearer   h.t.s  " }), none), "h.t.s");
    assert.equal(tokenFromRequest(request({ authorization: "Basic dXNlcjpwYXNz" }), query), "q");
    assert.equal(tokenFromRequest(request({ authorization: "Bearer a b" }), query), "q");
    assert.equal(tokenFromRequest(request({ authorization: "xBearer h.t.s" }), none), undefined);
  });
});

describe("accessProblem", () => {
  test("lets anyone into a public channel", () => {
    assert.equal(ANONYMOUS.authenticated, false);
    assert.equal(accessProblem(settings("public"), ANONYMOUS), undefined);
  });

  test("asks for a token on an authenticated channel", () => {
    assert.equal(accessProblem(settings("authenticated"), ANONYMOUS), "unauthorized");
    assert.equal(accessProblem(settings("authenticated"), { authenticated: true }), undefined);
  });

  test("forbids channels outside the token's channels claim", () => {
    const identity = { authenticated: true, channels: new Set(["reports"]) };
    assert.equal(accessProblem(settings("authenticated"), identity), "forbidden");
    const allowed = { authenticated: true, channels: new Set(["uploads"]) };
    assert.equal(accessProblem(settings("authenticated"), allowed), undefined);
  });
});
