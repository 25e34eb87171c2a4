// Tests of the client's credentials: when the provider is asked, and the refused token after 4001.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Credentials } from "../src/credentials.ts";
import { jwt } from "./helpers/fake-relay.ts";

function counting(tokens: (string | undefined)[]): {
  provider: () => string | undefined;
  calls: () => number;
} {
  let n = 0;
  return { provider: () => tokens[n++], calls: () => n };
}

describe("Credentials", () => {
  it("keeps a fixed token and asks a provider only when due", async () => {
    assert.equal(await new Credentials("fixed", undefined, 30_000).current(), "fixed");
    const { provider, calls } = counting(["a", "b"]);
    const credentials = new Credentials(undefined, provider, 30_000);
    assert.equal(await credentials.current(), "a");
    assert.equal(await credentials.current(), "a", "an opaque token is reused");
    credentials.markStale();
    assert.equal(await credentials.current(), "b");
    assert.equal(calls(), 2);
  });

  it("asks again for a JWT within the refresh margin of its exp", async () => {
    const soon = jwt({ exp: Math.floor(Date.now() / 1000) + 10 });
    const { provider, calls } = counting(["next"]);
    const credentials = new Credentials(soon, provider, 30_000);
    assert.equal(credentials.refreshInMs(), 1000, "already due: the minimum delay");
    assert.equal(await credentials.current(), "next");
    assert.equal(calls(), 1);
  });

  it("after a refusal, asks the provider and tells a token no fresher than the refused one", async () => {
    const { provider } = counting(["t1", "t1", undefined, "t2"]);
    const credentials = new Credentials(undefined, provider, 30_000);
    await credentials.current();
    credentials.refuse();
    assert.equal(credentials.expired, true);
    assert.equal(
      credentials.noFresher(await credentials.current()),
      "getToken() returned the same token",
    );
    assert.equal(credentials.noFresher(await credentials.current()), "getToken() returned none");
    assert.equal(credentials.noFresher(await credentials.current()), undefined);
    assert.equal(credentials.expired, false, "a fresher token ends the refusal");
  });

  it("ends a refusal when a new token is set, not when the same one is", () => {
    const credentials = new Credentials("old", undefined, 30_000);
    credentials.refuse();
    assert.equal(credentials.set("old"), false);
    assert.equal(credentials.expired, true);
    assert.equal(credentials.set("new"), true);
    assert.equal(credentials.expired, false);
  });

  it("refuses a provider's answer that is not a non-empty string", async () => {
    const credentials = new Credentials(undefined, () => "", 30_000);
    await assert.rejects(credentials.current(), /non-empty string/);
  });
});
