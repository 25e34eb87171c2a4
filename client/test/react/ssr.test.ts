// Proves the hooks are safe to render on a server: renderToString touches no window, document,
// location or WebSocket, opens no connection, and renders the empty, disconnected state.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { createElement, type ReactElement } from "react";
import { renderToString } from "react-dom/server";
import { JobChannelClient } from "../../src/index.ts";
import { JobChannelProvider, useJob, useWebSocket } from "../../src/react/index.ts";
import { startFakeRelay, type FakeRelay } from "../helpers/fake-relay.ts";

const BROWSER_GLOBALS = ["window", "document", "location", "WebSocket", "navigator"] as const;
const touched: string[] = [];
const saved = new Map<string, PropertyDescriptor | undefined>();
let relay: FakeRelay;

before(async () => {
  relay = await startFakeRelay();
  // Every browser global becomes a trap that records who reached for it.
  for (const name of BROWSER_GLOBALS) {
    saved.set(name, Object.getOwnPropertyDescriptor(globalThis, name));
    Object.defineProperty(globalThis, name, {
      configurable: true,
      get() {
        touched.push(name);
        return undefined;
      },
    });
  }
});

after(async () => {
  for (const [name, descriptor] of saved) {
    if (descriptor) Object.defineProperty(globalThis, name, descriptor);
    else Reflect.deleteProperty(globalThis, name);
  }
  await relay.stop();
});

function Uploads(): ReactElement {
  const { jobs, activeJobs, isConnected, connectionState, error } = useWebSocket({
    channels: ["file-upload"],
  });
  const job = useJob("file-upload", "a");
  return createElement(
    "p",
    null,
    `jobs=${jobs.length};active=${activeJobs.length};connected=${isConnected};` +
      `state=${connectionState};error=${error?.code ?? "none"};job=${job?.status ?? "none"}`,
  );
}

test("renders the shared client's hooks on a server without touching browser globals", async () => {
  const html = renderToString(createElement(Uploads));
  // A connection attempt would read location and WebSocket a moment later: give it that moment.
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.equal(html, "<p>jobs=0;active=0;connected=false;state=closed;error=none;job=none</p>");
  assert.deepEqual(touched, []);
});

test("renders under a provider with a client of its own, which stays closed and unconnected", async () => {
  const client = new JobChannelClient({ url: relay.url });
  const html = renderToString(
    createElement(JobChannelProvider, { client }, createElement(Uploads)),
  );
  assert.match(html, /connected=false;state=closed/);
  assert.equal(client.state, "closed");
  assert.deepEqual(client.channels(), [], "effects, which subscribe, do not run on a server");
  await assert.rejects(relay.nextConnection(200), /timed out/);
  assert.deepEqual(touched, []);
});

test("the traps record a read, so the tests above would see one", () => {
  const before = touched.length;
  assert.equal(typeof (globalThis as { WebSocket?: unknown }).WebSocket, "undefined");
  assert.equal(typeof (globalThis as { window?: unknown }).window, "undefined");
  assert.deepEqual(touched.slice(before), ["WebSocket", "window"]);
});
