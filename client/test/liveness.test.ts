// Tests of the silence watchdog and the browser-event watcher, on mocked clocks and fake globals.
import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it, mock } from "node:test";
import { SilenceWatch, watchEnvironment } from "../src/liveness.ts";

beforeEach(() => {
  mock.timers.enable({ apis: ["setTimeout", "Date"], now: 1_700_000_000_000 });
});
afterEach(() => {
  mock.timers.reset();
});

function watch(): { watch: SilenceWatch; silences: number[] } {
  const silences: number[] = [];
  return { watch: new SilenceWatch((ms) => silences.push(ms)), silences };
}

/** A watch on an open connection that has brought a heartbeat announcing 100 ms. */
function heardHeartbeat(): { watch: SilenceWatch; silences: number[] } {
  const watched = watch();
  watched.watch.opened();
  watched.watch.heartbeat(100);
  return watched;
}

describe("SilenceWatch", () => {
  it("never counts silence as death before the relay has sent a heartbeat", () => {
    const { watch: w, silences } = watch();
    w.opened();
    // An older relay sends nothing on an idle connection: ten minutes of it are not death.
    mock.timers.tick(600_000);
    assert.deepEqual(silences, []);
    assert.equal(w.timeoutMs, 51_000, "the default interval's timeout");
  });

  it("counts two intervals plus 1 s without any frame after a heartbeat as death", () => {
    const { watch: w, silences } = heardHeartbeat();
    assert.equal(w.timeoutMs, 1_200);
    mock.timers.tick(1_199);
    assert.deepEqual(silences, []);
    mock.timers.tick(1);
    assert.deepEqual(silences, [1_200]);
  });

  it("pushes the deadline back on every frame", () => {
    const { watch: w, silences } = heardHeartbeat();
    for (let i = 0; i < 10; i++) {
      mock.timers.tick(1_000);
      w.frame();
    }
    assert.deepEqual(silences, []);
    mock.timers.tick(1_200);
    assert.deepEqual(silences, [1_200]);
  });

  it("follows the interval of the latest heartbeat", () => {
    const { watch: w, silences } = heardHeartbeat();
    w.heartbeat(5_000);
    mock.timers.tick(10_999);
    assert.deepEqual(silences, []);
    mock.timers.tick(1);
    assert.deepEqual(silences, [11_000]);
  });

  it("watches a new connection from its opening once the relay has sent heartbeats", () => {
    const { watch: w, silences } = heardHeartbeat();
    w.stop();
    w.opened();
    mock.timers.tick(1_200);
    assert.deepEqual(silences, [1_200]);
  });

  it("forgets that the relay sends heartbeats after a watched connection fell silent without one", () => {
    const { watch: w, silences } = heardHeartbeat();
    w.stop();
    w.opened(); // watched from memory; this relay may be an older one
    mock.timers.tick(1_200);
    assert.equal(silences.length, 1);
    w.opened(); // the next connection is not watched until it brings a heartbeat
    mock.timers.tick(600_000);
    assert.equal(silences.length, 1);
    w.heartbeat(100);
    mock.timers.tick(1_200);
    assert.equal(silences.length, 2);
  });

  it("keeps the memory when the silent connection had sent a heartbeat", () => {
    const { watch: w, silences } = heardHeartbeat();
    mock.timers.tick(1_200);
    w.opened();
    mock.timers.tick(1_200);
    assert.equal(silences.length, 2);
  });

  it("stops watching a closed connection", () => {
    const { watch: w, silences } = heardHeartbeat();
    w.stop();
    mock.timers.tick(600_000);
    assert.deepEqual(silences, []);
  });

  it("says whether a frame arrived within the timeout", () => {
    const { watch: w } = heardHeartbeat();
    mock.timers.tick(1_199);
    assert.equal(w.recentlyHeard(), true);
    w.stop();
    mock.timers.tick(1);
    assert.equal(w.recentlyHeard(), false);
  });
});

describe("watchEnvironment", () => {
  const scope = globalThis as { window?: unknown; document?: unknown };

  afterEach(() => {
    delete scope.window;
    delete scope.document;
  });

  function fakeBrowser(visibilityState = "visible") {
    const window = new EventTarget();
    const document = Object.assign(new EventTarget(), { visibilityState });
    Object.assign(scope, { window, document });
    return { window, document };
  }

  function events() {
    const seen: string[] = [];
    return {
      seen,
      online: () => seen.push("online"),
      visible: (hiddenMs: number) => seen.push(`visible after ${hiddenMs}`),
    };
  }

  it("reports online, and visible with how long the page was hidden", () => {
    const { window, document } = fakeBrowser();
    const e = events();
    watchEnvironment(e);
    window.dispatchEvent(new Event("online"));
    document.visibilityState = "hidden";
    document.dispatchEvent(new Event("visibilitychange"));
    mock.timers.tick(60_000);
    document.visibilityState = "visible";
    document.dispatchEvent(new Event("visibilitychange"));
    document.dispatchEvent(new Event("visibilitychange"));
    assert.deepEqual(e.seen, ["online", "visible after 60000"]);
  });

  it("counts a page hidden from the start from when it began watching", () => {
    const { document } = fakeBrowser("hidden");
    const e = events();
    watchEnvironment(e);
    mock.timers.tick(5_000);
    document.visibilityState = "visible";
    document.dispatchEvent(new Event("visibilitychange"));
    assert.deepEqual(e.seen, ["visible after 5000"]);
  });

  it("removes its listeners", () => {
    const { window } = fakeBrowser();
    const e = events();
    watchEnvironment(e)();
    window.dispatchEvent(new Event("online"));
    assert.deepEqual(e.seen, []);
  });

  it("does nothing where there is no window or document (Node, server rendering)", () => {
    const e = events();
    const stop = watchEnvironment(e);
    stop();
    assert.deepEqual(e.seen, []);
  });
});
