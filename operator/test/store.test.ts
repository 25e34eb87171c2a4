// The store: projections by key, change notifications, relists that replace the whole set.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Store, unionReader, type StoreChange } from "../src/store.ts";

function obj(name: string, value: number, namespace = "ns"): unknown {
  return { metadata: { name, namespace }, value };
}

function setup() {
  const changes: StoreChange<number>[] = [];
  const store = new Store<number>({
    project: (o) => {
      const value = (o as { value?: unknown }).value;
      return typeof value === "number" ? value : undefined;
    },
    onChange: (c) => changes.push(c),
  });
  return { store, changes };
}

describe("Store", () => {
  it("keeps projections by namespace/name and reports adds, updates and deletes", () => {
    const { store, changes } = setup();
    store.upsert(obj("a", 1));
    store.upsert(obj("a", 2));
    store.remove(obj("a", 2));
    assert.deepEqual(changes, [
      { key: "ns/a", before: undefined, after: 1 },
      { key: "ns/a", before: 1, after: 2 },
      { key: "ns/a", before: 2, after: undefined },
    ]);
    assert.equal(store.get("ns/a"), undefined);
  });

  it("reports only real changes when a relist re-delivers everything", () => {
    const { store, changes } = setup();
    store.replace([obj("a", 1), obj("b", 1)]);
    changes.length = 0;
    store.replace([obj("a", 1), obj("c", 3)]);
    assert.deepEqual(changes, [
      { key: "ns/c", before: undefined, after: 3 },
      { key: "ns/b", before: 1, after: undefined },
    ]);
    assert.deepEqual(store.keys().sort(), ["ns/a", "ns/c"]);
  });

  it("skips objects its projection refuses or that have no name", () => {
    const { store } = setup();
    store.replace([{ metadata: { name: "x" }, value: "not a number" }, { value: 1 }, obj("ok", 1)]);
    assert.deepEqual(store.keys(), ["ns/ok"]);
  });

  it("reads several stores as one", () => {
    const a = setup().store;
    const b = setup().store;
    a.upsert(obj("x", 1, "one"));
    b.upsert(obj("y", 2, "two"));
    const both = unionReader([a, b]);
    assert.equal(both.get("two/y"), 2);
    assert.deepEqual(both.list().sort(), [1, 2]);
    assert.deepEqual(both.keys().sort(), ["one/x", "two/y"]);
  });
});
