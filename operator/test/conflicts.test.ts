// Oldest-wins resolution of channel claims.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { resolveChannelOwners } from "../src/conflicts.ts";

describe("resolveChannelOwners", () => {
  it("gives a channel to the oldest claim", () => {
    const owners = resolveChannelOwners([
      { key: "b/new", channel: "file-upload", creationTimestamp: "2025-01-02T00:00:00Z" },
      { key: "a/old", channel: "file-upload", creationTimestamp: "2025-01-01T00:00:00Z" },
      { key: "a/other", channel: "pdf-extraction", creationTimestamp: "2025-01-03T00:00:00Z" },
    ]);
    assert.equal(owners.get("file-upload"), "a/old");
    assert.equal(owners.get("pdf-extraction"), "a/other");
  });

  it("breaks a tie in creationTimestamp by namespace/name", () => {
    const at = "2025-01-01T00:00:00Z";
    const owners = resolveChannelOwners([
      { key: "z/x", channel: "c", creationTimestamp: at },
      { key: "a/y", channel: "c", creationTimestamp: at },
    ]);
    assert.equal(owners.get("c"), "a/y");
  });

  it("ranks a claim without creationTimestamp last", () => {
    const owners = resolveChannelOwners([
      { key: "a/a", channel: "c" },
      { key: "b/b", channel: "c", creationTimestamp: "2030-01-01T00:00:00Z" },
    ]);
    assert.equal(owners.get("c"), "b/b");
  });

  it("does not depend on the order of the claims", () => {
    const claims = [
      { key: "n/1", channel: "c", creationTimestamp: "2025-01-03T00:00:00Z" },
      { key: "n/2", channel: "c", creationTimestamp: "2025-01-01T00:00:00Z" },
      { key: "n/3", channel: "c", creationTimestamp: "2025-01-02T00:00:00Z" },
    ];
    assert.equal(resolveChannelOwners(claims).get("c"), "n/2");
    assert.equal(resolveChannelOwners([...claims].reverse()).get("c"), "n/2");
  });
});
