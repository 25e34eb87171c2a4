// Tests of relay URL resolution and the access_token parameter.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ClientError } from "../src/errors.ts";
import { connectUrl, resolveRelayUrl } from "../src/url.ts";

describe("resolveRelayUrl", () => {
  it("resolves /ws against the page origin, http to ws and https to wss", () => {
    assert.equal(
      resolveRelayUrl(undefined, "http://localhost:8080/jobs?x=1").href,
      "ws://localhost:8080/ws",
    );
    assert.equal(resolveRelayUrl("/ws", "https://example.com/").href, "wss://example.com/ws");
  });
  it("keeps absolute ws and wss URLs", () => {
    assert.equal(
      resolveRelayUrl("wss://relay.example.com/ws", undefined).href,
      "wss://relay.example.com/ws",
    );
  });
  it("refuses a relative URL without a page origin, and other schemes", () => {
    const invalidUrl = (e: unknown) => e instanceof ClientError && e.code === "invalid_url";
    assert.throws(() => resolveRelayUrl("/ws", undefined), invalidUrl);
    assert.throws(() => resolveRelayUrl("ftp://example.com/ws", undefined), invalidUrl);
  });
});

describe("connectUrl", () => {
  it("adds the token as access_token, encoded", () => {
    const url = new URL(connectUrl(new URL("ws://h/ws?channels=a"), "a+b/c="));
    assert.equal(url.searchParams.get("access_token"), "a+b/c=");
    assert.equal(url.searchParams.get("channels"), "a");
  });
  it("leaves the URL alone without a token", () => {
    assert.equal(connectUrl(new URL("ws://h/ws"), undefined), "ws://h/ws");
  });
});
