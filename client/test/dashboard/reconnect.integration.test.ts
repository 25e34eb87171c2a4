// The dashboard in Debian's Chromium when its connection goes silent, against a real redis-server and
// the real jobchannel-relay process sending heartbeat frames every 100 ms
// (RELAY_HEARTBEAT_FRAME_SECONDS=0.1), behind a TCP proxy that stops forwarding without closing.
// The job's final update is published through @jobchannel/state, as the worker does, while the
// connection is silent, so only the relay's next snapshot (read from Redis) can bring it. The page
// must show that it is reconnecting within two heartbeat intervals plus the slack, then "Live" again
// with the job in its final state. The proxy goes silent only once a heartbeat frame has reached the
// page (before one, the client counts no silence as death). Everything listens on 127.0.0.1.
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { connect, type AddressInfo, type Socket } from "node:net";
import { extname, join, normalize } from "node:path";
import { after, before, describe, it } from "node:test";
import { heartbeatTimeoutMs } from "@jobchannel/protocol";
import { DEFAULT_HISTORY, RedisJobStore } from "@jobchannel/state";
import { nextEvent, startRedis, waitFor, type TestRedis } from "@jobchannel/testkit";
import { launchChromium, type TestBrowser } from "@jobchannel/testkit/browser";
import { Redis } from "ioredis";
import { BUILT_IN_JOB_TYPES } from "../../dashboard/src/api.ts";
import { startRelayProcess, type RelayProcess } from "../helpers/relay-process.ts";
import { startSilentProxy, type SilentProxy } from "../helpers/silent-proxy.ts";

const root = join(import.meta.dirname, "../../..");
const DIST = join(root, "client/dashboard/dist");
const RESULTS = join(root, "test-results");
const INTERVAL_MS = 100;
/** Two heartbeat intervals plus the slack: the silence after which the client gives up. */
const TIMEOUT_MS = heartbeatTimeoutMs(INTERVAL_MS);
const CHANNEL = "file-upload";
const TYPES: Record<string, string> = {
  ".html": "text/html",
  ".js": "text/javascript",
  ".css": "text/css",
  ".map": "application/json",
};

let redis: TestRedis;
let connection: Redis;
let store: RedisJobStore;
let relay: RelayProcess;
let web: Server;
let proxy: SilentProxy;
let browser: TestBrowser;
const sockets = new Set<Socket>();

/**
 * Records each connection state the status line shows and each status job "a" is shown with, with
 * the time, from the first paint on.
 */
const RECORD_STATES = `
  window.__states = [];
  window.__job = [];
  new MutationObserver(() => {
    const state = document.querySelector(".connection")?.getAttribute("data-state");
    if (state && window.__states.at(-1)?.state !== state) window.__states.push({ state, at: Date.now() });
    const status = document.querySelector('li[data-job-id="a"]')?.getAttribute("data-status");
    if (status && window.__job.at(-1)?.status !== status) window.__job.push({ status, at: Date.now() });
  }).observe(document, {
    subtree: true, childList: true, attributes: true, attributeFilter: ["data-state", "data-status"],
  });
`;

/** Publishes an update of job "a" as the worker does: stored in Redis (for snapshots), then sent. */
function publish(fields: {
  status: "processing" | "completed";
  progress: number;
}): Promise<unknown> {
  return store.publish(CHANNEL, { jobId: "a", filename: "report.pdf", ...fields }, DEFAULT_HISTORY);
}

/** The dashboard's files, one job type from /api/jobs, and /ws piped to the relay. */
function startWebServer(relayPort: number): Server {
  const server = createServer((request, response) => {
    const path = new URL(request.url ?? "/", "http://x").pathname;
    if (path === "/api/jobs") {
      response.writeHead(200, { "content-type": "application/json" });
      response.end(JSON.stringify({ jobTypes: [{ name: CHANNEL, upload: "required" }] }));
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

describe("dashboard in Chromium on a silent connection to the real relay", () => {
  before(async () => {
    if (!existsSync(join(DIST, "index.html"))) {
      throw new Error(`${DIST} is not built: run npm run build -w @jobchannel/client`);
    }
    redis = await startRedis();
    connection = new Redis(redis.url);
    store = new RedisJobStore(connection);
    // The dashboard subscribes to its built-in job types until /api/jobs answers: all are served.
    relay = await startRelayProcess(
      BUILT_IN_JOB_TYPES.map((t) => ({ name: t.name, access: "public" })),
      { REDIS_URL: redis.url, RELAY_HEARTBEAT_FRAME_SECONDS: String(INTERVAL_MS / 1000) },
    );
    web = startWebServer(relay.port);
    web.listen(0, "127.0.0.1");
    await nextEvent(web, "listening");
    proxy = await startSilentProxy((web.address() as AddressInfo).port);
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    await proxy?.stop();
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => (web ? web.close(resolve) : resolve(undefined)));
    await relay?.stop();
    connection?.disconnect();
    await redis?.stop();
  });

  it("shows reconnecting when heartbeats stop arriving, then Live with the job's final state from the new snapshot", async (t) => {
    const page = await browser.context.newPage();
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(`pageerror: ${e.message}`));
    await page.addInitScript(RECORD_STATES);
    // The client counts silence as death only once the relay has shown that it sends heartbeats.
    const heartbeats: number[] = [];
    page.on("websocket", (ws) =>
      ws.on("framereceived", ({ payload }) => {
        if (String(payload).includes('"type":"heartbeat"')) heartbeats.push(Date.now());
      }),
    );
    await page.goto(`http://127.0.0.1:${proxy.port}/`);
    const status = page.locator(".connection");
    await page.locator('.connection[data-state="open"]').waitFor({ timeout: 15_000 });
    assert.match((await status.textContent()) ?? "", /Live/);
    // Live or in the snapshot, whichever comes first: either way through the proxy.
    await publish({ status: "processing", progress: 40 });
    await page.locator('li[data-job-id="a"][data-status="processing"]').waitFor();
    await waitFor(() => heartbeats.length > 0, { what: "a heartbeat frame in the page" });

    // The job finishes while the page's connection is silently dead: the relay's live frame is
    // swallowed by the proxy, so only a new snapshot from Redis has it.
    proxy.silence();
    const silentAt = Date.now();
    await publish({ status: "completed", progress: 100 });
    const publishedAfter = Date.now() - silentAt;
    await page.locator('li[data-job-id="a"][data-status="completed"]').waitFor({
      timeout: TIMEOUT_MS + 10_000,
    });
    await page.locator('.connection[data-state="open"]').waitFor();
    assert.match((await status.textContent()) ?? "", /Live/);

    // The reconnect may take only milliseconds: the states were recorded as the page showed them.
    const { states, job } = await page.evaluate(() => {
      const w = window as unknown as {
        __states: { state: string; at: number }[];
        __job: { status: string; at: number }[];
      };
      return { states: w.__states, job: w.__job };
    });
    const shown = states.filter((s) => s.at >= silentAt);
    t.diagnostic(
      `states after the silence: ${JSON.stringify(shown.map((s) => [s.state, s.at - silentAt]))}; ` +
        `job a: ${JSON.stringify(job.map((j) => [j.status, j.at - silentAt]))}`,
    );
    assert.deepEqual(
      shown.map((s) => s.state),
      ["reconnecting", "open"],
    );
    // Completed only once the new connection was open: from its snapshot, not the silenced one.
    assert.deepEqual(
      job.map((j) => j.status),
      ["processing", "completed"],
    );
    assert.ok(job[1]!.at >= shown[1]!.at, "completed shown before the page was Live again");
    const noticedAfter = shown[0]!.at - silentAt;
    t.diagnostic(
      `the final update was published ${publishedAfter} ms after the proxy went silent; the page ` +
        `showed reconnecting ${noticedAfter} ms after (bound ${TIMEOUT_MS + 500} ms)`,
    );
    assert.ok(publishedAfter < noticedAfter, `published at ${publishedAfter} ms`);
    assert.ok(noticedAfter <= TIMEOUT_MS + 500, `${noticedAfter} ms`);
    mkdirSync(RESULTS, { recursive: true });
    await page.screenshot({ path: join(RESULTS, "dashboard-reconnected.png"), fullPage: true });
    assert.deepEqual(errors, []);
    await page.close();
  });
});
