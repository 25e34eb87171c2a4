// Deadlines on API requests, against a local server that accepts requests and never answers.
import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { CoreV1Api, KubeConfig } from "@kubernetes/client-node";
import { waitFor } from "@jobchannel/testkit";
import { makeApiClientWithDeadline, signalOptions } from "../src/api-deadline.ts";

let server: Server;
let kubeConfig: KubeConfig;
const open = new Set<IncomingMessage>();
let closed = 0;

describe("makeApiClientWithDeadline", () => {
  before(async () => {
    server = createServer((req) => {
      open.add(req);
      req.socket.once("close", () => {
        open.delete(req);
        closed++;
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    kubeConfig = new KubeConfig();
    kubeConfig.loadFromOptions({
      clusters: [{ name: "c", server: `http://127.0.0.1:${port}`, skipTLSVerify: true }],
      users: [{ name: "u" }],
      contexts: [{ name: "x", cluster: "c", user: "u" }],
      currentContext: "x",
    });
  });

  after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it("aborts a request that gets no answer within the deadline, closing its connection", async () => {
    const api = makeApiClientWithDeadline(kubeConfig, CoreV1Api, 200);
    const closedBefore = closed;
    const started = Date.now();
    await assert.rejects(api.listNamespace(), /abort|timeout/i);
    const took = Date.now() - started;
    assert.ok(took >= 190 && took < 1000, `rejected after ${took} ms`);
    await waitFor(() => closed > closedBefore, {
      timeoutMs: 1000,
      what: "the connection to close",
    });
  });

  it("aborts a call at its own signal, before the client's deadline", async () => {
    const api = makeApiClientWithDeadline(kubeConfig, CoreV1Api, 30_000);
    const controller = new AbortController();
    const call = api.readNamespace({ name: "default" }, signalOptions(controller.signal));
    await waitFor(() => open.size > 0, { what: "the request to arrive" });
    controller.abort();
    await assert.rejects(call, /abort/i);
    await waitFor(() => open.size === 0, { timeoutMs: 1000, what: "the connection to close" });
  });

  it("keeps the deadline when calls pass other options", async () => {
    const api = makeApiClientWithDeadline(kubeConfig, CoreV1Api, 200);
    const started = Date.now();
    await assert.rejects(
      api.readNamespace({ name: "default" }, signalOptions(new AbortController().signal)),
      /abort|timeout/i,
    );
    assert.ok(Date.now() - started < 1000);
  });
});
