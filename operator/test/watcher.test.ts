// The watcher restarts failed watches, relists on 410 and silence, and feeds the store.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { pino } from "pino";
import { waitFor } from "@jobchannel/testkit";
import { Store } from "../src/store.ts";
import { Watcher, type ListWatchSource, type WatchEventType } from "../src/watcher.ts";

const logger = pino({ level: "silent" });

interface OpenWatch {
  readonly resourceVersion: string;
  emit(type: WatchEventType, object: unknown): void;
  end(error: unknown): void;
  aborted: boolean;
}

function obj(name: string, rv: string, value = name): Record<string, unknown> {
  return { metadata: { name, namespace: "ns", resourceVersion: rv }, value };
}

/** A scripted list+watch source. */
function fakeSource(lists: (() => { items: unknown[]; resourceVersion: string })[]) {
  const watches: OpenWatch[] = [];
  let listCalls = 0;
  const source: ListWatchSource = {
    async list() {
      const next = lists[Math.min(listCalls, lists.length - 1)]!;
      listCalls += 1;
      return next();
    },
    async watch(resourceVersion, onEvent, onDone) {
      let done = false;
      const w: OpenWatch = {
        resourceVersion,
        aborted: false,
        emit: (type, object) => onEvent(type, object),
        end: (error) => {
          if (done) return;
          done = true;
          onDone(error);
        },
      };
      watches.push(w);
      return {
        abort: () => {
          w.aborted = true;
          const abort = new Error("aborted");
          abort.name = "AbortError";
          w.end(abort);
        },
      };
    },
  };
  return { source, watches, listCalls: () => listCalls };
}

function setup(
  lists: (() => { items: unknown[]; resourceVersion: string })[],
  options: { silenceMs?: number; relistAfterFailures?: number } = {},
) {
  const fake = fakeSource(lists);
  const store = new Store<{ value: unknown }>({
    project: (o) => ({ value: (o as { value: unknown }).value }),
  });
  const restarts: string[] = [];
  const relists: string[] = [];
  const watcher = new Watcher({
    name: "things",
    source: fake.source,
    sink: store,
    logger,
    initialBackoffMs: 5,
    maxBackoffMs: 20,
    metrics: { restarted: (_, r) => restarts.push(r), relisted: (_, r) => relists.push(r) },
    ...options,
  });
  watcher.start();
  return { ...fake, store, watcher, restarts, relists };
}

describe("Watcher", () => {
  it("lists, then watches from the list's resourceVersion and feeds events to the store", async () => {
    const t = setup([() => ({ items: [obj("a", "1")], resourceVersion: "5" })]);
    await waitFor(() => t.watches.length === 1);
    assert.equal(t.watcher.synced, true);
    assert.equal(t.watches[0]!.resourceVersion, "5");
    t.watches[0]!.emit("ADDED", obj("b", "6"));
    t.watches[0]!.emit("MODIFIED", obj("a", "7", "a2"));
    t.watches[0]!.emit("DELETED", obj("b", "8"));
    assert.deepEqual(t.store.list(), [{ value: "a2" }]);
    assert.deepEqual(t.relists, ["initial"]);
    await t.watcher.stop();
  });

  it("resumes a cleanly closed watch from the last resourceVersion without relisting", async () => {
    const t = setup([() => ({ items: [], resourceVersion: "5" })]);
    await waitFor(() => t.watches.length === 1);
    t.watches[0]!.emit("BOOKMARK", { metadata: { resourceVersion: "9" } });
    t.watches[0]!.end(null);
    await waitFor(() => t.watches.length === 2);
    assert.equal(t.watches[1]!.resourceVersion, "9");
    assert.equal(t.listCalls(), 1);
    assert.deepEqual(t.restarts, []);
    await t.watcher.stop();
  });

  it("restarts a failed watch after a backoff and relists after repeated failures", async () => {
    const t = setup([() => ({ items: [], resourceVersion: "5" })], { relistAfterFailures: 3 });
    for (let i = 1; i <= 3; i++) {
      await waitFor(() => t.watches.length === i, { what: `watch ${i}` });
      t.watches[i - 1]!.end(Object.assign(new Error("connection reset"), { code: "ECONNRESET" }));
    }
    await waitFor(() => t.listCalls() === 2, { what: "the relist" });
    assert.deepEqual(t.restarts, ["error", "error", "error"]);
    assert.deepEqual(t.relists, ["initial", "error"]);
    await t.watcher.stop();
  });

  it("relists when the server says the resourceVersion expired (410 Gone)", async () => {
    let rv = 5;
    const t = setup([() => ({ items: [obj("a", String(rv))], resourceVersion: String(rv++) })]);
    await waitFor(() => t.watches.length === 1);
    t.watches[0]!.emit("ERROR", { kind: "Status", code: 410, message: "too old resource version" });
    await waitFor(() => t.listCalls() === 2 && t.watches.length === 2, {
      what: "relist after 410",
    });
    assert.equal(t.watches[1]!.resourceVersion, "6");
    assert.deepEqual(t.relists, ["initial", "expired"]);
    await t.watcher.stop();
  });

  it("relists when a watch stays silent longer than the silence limit", async () => {
    const t = setup([() => ({ items: [], resourceVersion: "1" })], { silenceMs: 60 });
    await waitFor(() => t.listCalls() === 2, { what: "relist after silence", timeoutMs: 2000 });
    assert.equal(t.watches[0]!.aborted, true);
    assert.ok(t.restarts.includes("silent"));
    await t.watcher.stop();
  });

  it("removes from the store what a relist no longer contains", async () => {
    // "b" is deleted while no watch is open: only the relist's absence of it can tell the store.
    const t = setup([
      () => ({ items: [obj("a", "1"), obj("b", "1")], resourceVersion: "1" }),
      () => ({ items: [obj("a", "1")], resourceVersion: "2" }),
    ]);
    await waitFor(() => t.watches.length === 1);
    assert.deepEqual(t.store.keys().sort(), ["ns/a", "ns/b"]);
    t.watches[0]!.emit("ERROR", { code: 410 });
    await waitFor(() => t.listCalls() === 2 && t.watches.length === 2, { what: "the relist" });
    assert.deepEqual(t.store.keys(), ["ns/a"]);
    assert.deepEqual(t.store.list(), [{ value: "a" }]);
    await t.watcher.stop();
  });

  it("keeps retrying a failing list until it succeeds, and is not synced before", async () => {
    let calls = 0;
    const t = setup([
      () => {
        calls += 1;
        if (calls < 3) throw new Error("connection refused");
        return { items: [], resourceVersion: "1" };
      },
    ]);
    await waitFor(() => t.watches.length === 1, { what: "watch after list recovered" });
    assert.equal(calls, 3);
    assert.deepEqual(t.restarts, ["error", "error"]);
    assert.equal(t.watcher.synced, true);
    await t.watcher.stop();
  });

  it("gives up on a list that never answers and lists again", async () => {
    let calls = 0;
    const fake = fakeSource([() => ({ items: [], resourceVersion: "1" })]);
    let aborted = false;
    const source: ListWatchSource = {
      ...fake.source,
      list: (signal) => {
        calls += 1;
        if (calls > 1) return fake.source.list(signal);
        // A list that never answers on its own: only the abort ends the request.
        return new Promise<never>((_, reject) =>
          signal.addEventListener("abort", () => {
            aborted = true;
            reject(signal.reason);
          }),
        );
      },
    };
    const watcher = new Watcher({
      name: "frozen",
      source,
      sink: new Store({ project: () => undefined }),
      logger,
      initialBackoffMs: 5,
      listTimeoutMs: 50,
    });
    watcher.start();
    await waitFor(() => watcher.synced, { timeoutMs: 2000, what: "the second list" });
    assert.equal(calls, 2);
    assert.ok(aborted, "the timed-out list request was aborted");
    await watcher.stop();
  });

  it("relists when applying a watch event to the cache throws", async () => {
    const fake = fakeSource([
      () => ({ items: [obj("a", "1")], resourceVersion: "1" }),
      () => ({ items: [obj("a", "1"), obj("b", "3")], resourceVersion: "3" }),
    ]);
    let failNext = true;
    const store = new Store<{ value: unknown }>({
      project: (o) => {
        const value = (o as { value: unknown }).value;
        if (value === "b" && failNext) {
          failNext = false;
          throw new Error("projection failed");
        }
        return { value };
      },
    });
    const relists: string[] = [];
    const watcher = new Watcher({
      name: "things",
      source: fake.source,
      sink: store,
      logger,
      initialBackoffMs: 5,
      metrics: { restarted: () => {}, relisted: (_, r) => relists.push(r) },
    });
    watcher.start();
    await waitFor(() => fake.watches.length === 1, { timeoutMs: 2000 });
    fake.watches[0]!.emit("ADDED", obj("b", "2"));
    await waitFor(() => store.get("ns/b") !== undefined, { timeoutMs: 2000, what: "the relist" });
    assert.deepEqual(relists, ["initial", "sink"]);
    assert.equal(fake.watches[0]!.aborted, true);
    await watcher.stop();
  });

  it("spreads its backoff with jitter and caps it", () => {
    const withRandom = (value: number) =>
      new Watcher({
        name: "x",
        source: fakeSource([]).source,
        sink: new Store({ project: () => undefined }),
        logger,
        initialBackoffMs: 100,
        maxBackoffMs: 1000,
        random: () => value,
      });
    const low = withRandom(0);
    const high = withRandom(0.999);
    assert.equal(low.backoffMs(0), 0);
    assert.deepEqual(
      [1, 2, 3].map((n) => low.backoffMs(n)),
      [50, 100, 200],
    );
    assert.deepEqual(
      [1, 2, 3].map((n) => high.backoffMs(n)),
      [100, 200, 400],
    );
    assert.equal(high.backoffMs(20), 1000);
  });

  it("stops: the open watch is aborted and no new one starts", async () => {
    const t = setup([() => ({ items: [], resourceVersion: "1" })]);
    await waitFor(() => t.watches.length === 1);
    await t.watcher.stop();
    assert.equal(t.watches[0]!.aborted, true);
    await new Promise((r) => setTimeout(r, 30));
    assert.equal(t.watches.length, 1);
  });
});
