// Tests of the channel -> subscribers index and its fan-out.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { Hub, type HubMember } from "../src/hub.ts";

class Member implements HubMember<string> {
  readonly got: string[] = [];
  writes = true;
  deliver(frame: string): boolean {
    this.got.push(frame);
    return this.writes;
  }
}

describe("Hub", () => {
  test("delivers a frame to every member of the channel and only that channel", () => {
    const hub = new Hub<string, Member>();
    const a = new Member();
    const b = new Member();
    const other = new Member();
    hub.add("uploads", a, undefined);
    hub.add("uploads", b, "u1");
    hub.add("reports", other, undefined);
    assert.equal(hub.fanOut("uploads", "f1"), 2);
    assert.deepEqual(a.got, ["f1"]);
    assert.deepEqual(b.got, ["f1"]);
    assert.deepEqual(other.got, []);
  });

  test("counts only the members that wrote at once", () => {
    const hub = new Hub<string, Member>();
    const fast = new Member();
    const held = new Member();
    held.writes = false;
    hub.add("c", fast, undefined);
    hub.add("c", held, undefined);
    assert.equal(hub.fanOut("c", "f"), 1);
    assert.deepEqual(held.got, ["f"]);
  });

  test("delivers a user's frame to that user's members only", () => {
    const hub = new Hub<string, Member>();
    const alice = new Member();
    const alice2 = new Member();
    const bob = new Member();
    const anonymous = new Member();
    hub.add("c", alice, "alice");
    hub.add("c", alice2, "alice");
    hub.add("c", bob, "bob");
    hub.add("c", anonymous, undefined);
    assert.equal(hub.fanOutToUser("c", "alice", "fa"), 2);
    assert.deepEqual(alice.got, ["fa"]);
    assert.deepEqual(alice2.got, ["fa"]);
    assert.deepEqual(bob.got, []);
    assert.deepEqual(anonymous.got, []);
    assert.equal(hub.fanOutToUser("c", "carol", "fc"), 0);
  });

  test("forgets a channel when its last member leaves", () => {
    const hub = new Hub<string, Member>();
    const a = new Member();
    hub.add("c", a, "alice");
    assert.deepEqual(hub.channels(), ["c"]);
    assert.equal(hub.remove("c", a, "alice"), true);
    assert.equal(hub.remove("c", a, "alice"), false);
    assert.equal(hub.has("c"), false);
    assert.deepEqual(hub.channels(), []);
    assert.equal(hub.fanOutToUser("c", "alice", "f"), 0);
  });

  test("keeps a user's other members when one leaves, and forgets the user when the last does", () => {
    const hub = new Hub<string, Member>();
    const first = new Member();
    const second = new Member();
    const bob = new Member();
    hub.add("c", first, "alice");
    hub.add("c", second, "alice");
    hub.add("c", bob, "bob");
    assert.equal(hub.remove("c", first, "alice"), true);
    assert.equal(hub.fanOutToUser("c", "alice", "f1"), 1);
    assert.deepEqual(second.got, ["f1"]);
    assert.equal(hub.remove("c", second, "alice"), true);
    assert.equal(hub.fanOutToUser("c", "alice", "f2"), 0);
    assert.equal(hub.has("c"), true, "bob is still there");
    assert.deepEqual([...hub.members("c")], [bob]);
  });

  test("removes a member even when given another user than the one it was filed under", () => {
    const hub = new Hub<string, Member>();
    const a = new Member();
    hub.add("c", a, "alice");
    assert.equal(hub.remove("c", a, "bob"), true);
    assert.equal(hub.has("c"), false);
  });

  test("answers an unknown channel with no members and no deliveries", () => {
    const hub = new Hub<string, Member>();
    assert.equal(hub.fanOut("nobody", "f"), 0);
    assert.equal(hub.members("nobody").size, 0);
    assert.equal(hub.remove("nobody", new Member(), undefined), false);
  });

  test("refiles a member under its new user", () => {
    const hub = new Hub<string, Member>();
    const a = new Member();
    hub.add("c", a, undefined);
    hub.refile("c", a, undefined, "alice");
    assert.equal(hub.fanOutToUser("c", "alice", "f"), 1);
    assert.equal(hub.members("c").size, 1);
    hub.refile("c", a, "alice", "bob");
    assert.equal(hub.fanOutToUser("c", "alice", "f2"), 0);
    assert.equal(hub.fanOutToUser("c", "bob", "f3"), 1);
    assert.deepEqual(a.got, ["f", "f3"]);
  });

  test("leaves a member in place when its user is unchanged, and adds none that was not there", () => {
    const hub = new Hub<string, Member>();
    const order: string[] = [];
    const named = (name: string): Member =>
      Object.assign(new Member(), {
        deliver: () => {
          order.push(name);
          return true;
        },
      });
    const a = named("a");
    const b = named("b");
    hub.add("c", a, "alice");
    hub.add("c", b, "alice");
    hub.refile("c", a, "alice", "alice");
    hub.fanOut("c", "f");
    assert.deepEqual(order, ["a", "b"], "not moved behind b, as a remove and add would");
    hub.refile("elsewhere", a, "alice", "bob");
    assert.equal(hub.has("elsewhere"), false);
    assert.equal(hub.fanOutToUser("elsewhere", "bob", "f"), 0);
  });
});
