// Tests of JWT expiry reading and the refresh schedule.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { refreshDelay, tokenExpiry } from "../src/token.ts";
import { jwt } from "./helpers/fake-relay.ts";

describe("tokenExpiry", () => {
  it("reads exp from a JWT in milliseconds", () => {
    assert.equal(tokenExpiry(jwt({ sub: "u", exp: 1_800_000_000 })), 1_800_000_000_000);
  });
  it("returns undefined for opaque tokens and JWTs without exp", () => {
    assert.equal(tokenExpiry("opaque-token"), undefined);
    assert.equal(tokenExpiry("a.!!!.c"), undefined);
    assert.equal(tokenExpiry(jwt({ sub: "u" })), undefined);
    assert.equal(tokenExpiry(jwt({ exp: "soon" })), undefined);
  });
});

describe("refreshDelay", () => {
  it("refreshes the margin before expiry", () => {
    assert.equal(refreshDelay(100_000, 10_000, 30_000), 60_000);
  });
  it("waits at least the minimum for a token already due", () => {
    assert.equal(refreshDelay(10_000, 10_000, 30_000), 1000);
  });
});
