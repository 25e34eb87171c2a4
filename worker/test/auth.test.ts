import assert from "node:assert/strict";
import { test } from "node:test";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { SignJWT, exportJWK, generateKeyPair } from "jose";
import { createAuthenticator } from "../src/auth.ts";

const secret = "test-secret-of-enough-length-for-hs256";

function token(claims: Record<string, unknown>, expiresIn = "5m"): Promise<string> {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: "HS256" })
    .setExpirationTime(expiresIn)
    .sign(new TextEncoder().encode(secret));
}

test("trusts the userId field in development mode", async () => {
  const auth = createAuthenticator({});
  assert.equal(auth.development, true);
  assert.deepEqual(await auth.authenticate(undefined, "123"), {
    userId: "123",
    channels: undefined,
  });
  assert.equal((await auth.authenticate(undefined, 123)).userId, "123");
  assert.equal((await auth.authenticate(undefined, undefined)).userId, undefined);
  await assert.rejects(auth.authenticate(undefined, { a: 1 }), { code: "invalid_input" });
});

test("takes the user from a verified token's sub and ignores the field", async () => {
  const auth = createAuthenticator({ jwtSecret: secret });
  const caller = await auth.authenticate(
    `Bearer ${await token({ sub: "alice", channels: ["file-upload"] })}`,
    "mallory",
  );
  assert.deepEqual(caller, { userId: "alice", channels: ["file-upload"] });
});

test("refuses a missing, expired, unsigned or mis-signed token", async () => {
  const auth = createAuthenticator({ jwtSecret: secret });
  await assert.rejects(auth.authenticate(undefined, "123"), { code: "unauthorized", status: 401 });
  await assert.rejects(auth.authenticate(`Bearer ${await token({ sub: "a" }, "-1m")}`, undefined), {
    message: "the token has expired",
  });
  const other = await new SignJWT({ sub: "a" })
    .setProtectedHeader({ alg: "HS256" })
    .setExpirationTime("5m")
    .sign(new TextEncoder().encode("another-secret-another-secret-xx"));
  await assert.rejects(auth.authenticate(`Bearer ${other}`, undefined), { code: "unauthorized" });
  const noExp = await new SignJWT({ sub: "a" })
    .setProtectedHeader({ alg: "HS256" })
    .sign(new TextEncoder().encode(secret));
  await assert.rejects(auth.authenticate(`Bearer ${noExp}`, undefined), { code: "unauthorized" });
});

test("checks issuer and audience when set", async () => {
  const auth = createAuthenticator({
    jwtSecret: secret,
    issuer: "https://id.example",
    audience: "jobchannel",
  });
  await assert.rejects(auth.authenticate(`Bearer ${await token({ sub: "a" })}`, undefined), {
    code: "unauthorized",
  });
  const good = await new SignJWT({ sub: "a" })
    .setProtectedHeader({ alg: "HS256" })
    .setIssuer("https://id.example")
    .setAudience("jobchannel")
    .setExpirationTime("5m")
    .sign(new TextEncoder().encode(secret));
  assert.equal((await auth.authenticate(`Bearer ${good}`, undefined)).userId, "a");
});

test("verifies ES256 tokens against a JWKS URL", async () => {
  const { privateKey, publicKey } = await generateKeyPair("ES256");
  const jwk = { ...(await exportJWK(publicKey)), kid: "k1", alg: "ES256", use: "sig" };
  const server = createServer((_req, res) => {
    res.setHeader("content-type", "application/json");
    res.end(JSON.stringify({ keys: [jwk] }));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  try {
    const { port } = server.address() as AddressInfo;
    const auth = createAuthenticator({ jwksUrl: `http://127.0.0.1:${port}/jwks.json` });
    const good = await new SignJWT({ sub: "carol" })
      .setProtectedHeader({ alg: "ES256", kid: "k1" })
      .setExpirationTime("5m")
      .sign(privateKey);
    assert.equal((await auth.authenticate(`Bearer ${good}`, undefined)).userId, "carol");
    await assert.rejects(auth.authenticate(`Bearer ${await token({ sub: "a" })}`, undefined), {
      code: "unauthorized",
    });
  } finally {
    server.close();
  }
});
