// Tests of token verification and the channel access rule.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { exportJWK, generateKeyPair, SignJWT } from "jose";
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
    assert.deepEqual(result.ok ? undefined : result.reason, "expired");
  });

  test("refuses a token signed with another secret, without exp, or with a bad channels claim", async () => {
    const auth = createAuthenticator({ secret: SECRET })!;
    for (const bad of [
      await token({ sub: "a" }, "another-secret-0123456789abcdef0123"),
      await token({ sub: "a" }, SECRET, ""),
      await token({ sub: "a", channels: "uploads" }),
      await token({ sub: "a", channels: ["Not Valid"] }),
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
    } finally {
      server.close();
    }
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
});

describe("accessProblem", () => {
  test("lets anyone into a public channel", () => {
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
