// The dashboard in Debian's Chromium when its connection goes silent: a fake relay sending
// heartbeats, behind a TCP proxy that stops forwarding without closing. The page must show that it
// is reconnecting within two heartbeat intervals plus the slack, then "Live" again with the jobs'
// states from the new snapshot. The relay here is a stand-in speaking the protocol by hand.
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { connect, type AddressInfo, type Socket } from "node:net";
import { extname, join, normalize } from "node:path";
import { after, before, describe, it } from "node:test";
import { heartbeatFrame } from "@jobchannel/protocol";
import { nextEvent } from "@jobchannel/testkit";
import { launchChromium, type TestBrowser } from "@jobchannel/testkit/browser";
import {
  startFakeRelay,
  update,
  type FakeConnection,
  type FakeRelay,
} from "../helpers/fake-relay.ts";
import { startSilentProxy, type SilentProxy } from "../helpers/silent-proxy.ts";

const root = join(import.meta.dirname, "../../..");
const DIST = join(root, "client/dashboard/dist");
const RESULTS = join(root, "test-results");
const INTERVAL_MS = 100;
const TIMEOUT_MS = 2 * INTERVAL_MS + 1_000;
const TYPES: Record<string, string> = {
  ".html": "text/html",
  ".js": "text/javascript",
  ".css": "text/css",
  ".map": "application/json",
};

let relay: FakeRelay;
let web: Server;
let proxy: SilentProxy;
let browser: TestBrowser;
/** What the fake relay's snapshot holds for file-upload, read at each subscribe. */
let snapshot: Record<string, unknown>[] = [];
const timers: ReturnType<typeof setInterval>[] = [];
const sockets = new Set<Socket>();

/** Records each connection state the status line shows, with the time, from the first paint on. */
const RECORD_STATES = `
  window.__states = [];
  new MutationObserver(() => {
    const state = document.querySelector(".connection")?.getAttribute("data-state");
    if (state && window.__states.at(-1)?.state !== state) window.__states.push({ state, at: Date.now() });
  }).observe(document, { subtree: true, childList: true, attributes: true, attributeFilter: ["data-state"] });
`;

/** Answers each subscribe with the current snapshot and sends heartbeats while connected. */
function serveConnection(connection: FakeConnection): void {
  connection.on("frame", (frame: { type?: string; channels?: string[] }) => {
    if (frame.type !== "subscribe") return;
    for (const channel of frame.channels ?? []) {
      connection.send({
        type: "subscribed",
        channel,
        jobs: channel === "file-upload" ? snapshot : [],
      });
    }
  });
  const timer = setInterval(() => connection.send(heartbeatFrame(INTERVAL_MS)), INTERVAL_MS);
  connection.once("closed", () => clearInterval(timer));
  // A silenced connection is never closed from the page's side: cleared at the end.
  timers.push(timer);
}

/** The dashboard's files, one job type from /api/jobs, and /ws piped to the fake relay. */
function startWebServer(relayPort: number): Server {
  const server = createServer((request, response) => {
    const path = new URL(request.url ?? "/", "http://x").pathname;
    if (path === "/api/jobs") {
      response.writeHead(200, { "content-type": "application/json" });
      response.end(JSON.stringify({ jobTypes: [{ name: "file-upload", upload: "required" }] }));
      return;
    }
    const file = join(DIST, normalize(path === "/" ? "/index.html" : path));
    if (!file.startsWith(DIST) || !existsSync(file)) {
      response.writeHead(404).end();
      return;
    }
    response.writeHead(200, { "content-type": TYPES[extname(file)] ?? "application/octet-stream" });
    response.end(readFileSync(file));
  });
  server.on("connection", (socket: Socket) => sockets.add(socket));
  server.on("upgrade", (request, socket, head) => {
    const upstream = connect(relayPort, "127.0.0.1", () => {
      const headers = Object.entries(request.headers)
        .map(([name, value]) => `${name}: ${String(value)}\r\n`)
        .join("");
      upstream.write(`GET ${request.url} HTTP/1.1\r\n${headers}\r\n`);
      upstream.write(head);
      upstream.pipe(socket);
      socket.pipe(upstream);
    });
    sockets.add(upstream);
    upstream.on("error", () => socket.destroy());
    socket.on("error", () => upstream.destroy());
  });
  return server;
}

describe("dashboard in Chromium on a silent connection", () => {
  before(async () => {
    if (!existsSync(join(DIST, "index.html"))) {
      throw new Error(`${DIST} is not built: run npm run build -w @jobchannel/client`);
    }
    relay = await startFakeRelay();
    web = startWebServer(Number(new URL(relay.url).port));
    web.listen(0, "127.0.0.1");
    await nextEvent(web, "listening");
    proxy = await startSilentProxy((web.address() as AddressInfo).port);
    browser = await launchChromium();
  });

  after(async () => {
    for (const timer of timers) clearInterval(timer);
    await browser?.close();
    await proxy?.stop();
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => web?.close(resolve));
    await relay?.stop();
  });

  it("shows reconnecting when heartbeats stop arriving, then Live with the new snapshot", async (t) => {
    snapshot = [update("a", { seq: 1, progress: 40, filename: "report.pdf" })];
    const page = await browser.context.newPage();
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(`pageerror: ${e.message}`));
    await page.addInitScript(RECORD_STATES);
    await page.goto(`http://127.0.0.1:${proxy.port}/`);
    serveConnection(await relay.nextConnection(15_000));
    const status = page.locator(".connection");
    await page.locator('.connection[data-state="open"]').waitFor({ timeout: 15_000 });
    assert.match((await status.textContent()) ?? "", /Live/);
    await page.locator('li[data-job-id="a"][data-status="processing"]').waitFor();

    // The job finishes while the page's connection is silently dead: only a new snapshot has it.
    snapshot = [
      update("a", { seq: 2, status: "completed", progress: 100, filename: "report.pdf" }),
    ];
    proxy.silence();
    const silentAt = Date.now();
    serveConnection(await relay.nextConnection(TIMEOUT_MS + 5_000));
    await page.locator('li[data-job-id="a"][data-status="completed"]').waitFor({ timeout: 10_000 });
    await page.locator('.connection[data-state="open"]').waitFor();
    assert.match((await status.textContent()) ?? "", /Live/);

    // The reconnect may take only milliseconds: the states were recorded as the page showed them.
    const states = await page.evaluate(
      () => (window as unknown as { __states: { state: string; at: number }[] }).__states,
    );
    const shown = states.filter((s) => s.at >= silentAt);
    t.diagnostic(
      `states after the silence: ${JSON.stringify(shown.map((s) => [s.state, s.at - silentAt]))}`,
    );
    assert.deepEqual(
      shown.map((s) => s.state),
      ["reconnecting", "open"],
    );
    const noticedAfter = shown[0]!.at - silentAt;
    t.diagnostic(`the page showed reconnecting ${noticedAfter} ms after the proxy went silent`);
    assert.ok(noticedAfter <= TIMEOUT_MS + 500, `${noticedAfter} ms`);
    mkdirSync(RESULTS, { recursive: true });
    await page.screenshot({ path: join(RESULTS, "dashboard-reconnected.png"), fullPage: true });
    assert.deepEqual(errors, []);
    await page.close();
  });
});
