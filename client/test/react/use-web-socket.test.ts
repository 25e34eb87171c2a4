// Tests of the React hooks in a DOM (happy-dom), against an in-process server playing the relay.
import assert from "node:assert/strict";
import { after, afterEach, before, describe, it } from "node:test";
import { waitFor } from "@jobchannel/testkit";
import { Window } from "happy-dom";
import { createElement, Fragment, useState, type ReactElement } from "react";
import { createRoot, type Root } from "react-dom/client";
import WebSocket from "ws";
import { JobChannelClient } from "../../src/index.ts";
import { JobChannelProvider, useJob, useWebSocket, type BaseJob } from "../../src/react/index.ts";
import { startFakeRelay, update, type FakeRelay } from "../helpers/fake-relay.ts";

interface UploadJob extends BaseJob {
  fileName: string;
}

const window = new Window({ url: "http://localhost/" });
Object.assign(globalThis, { window, document: window.document });

let relay: FakeRelay;
let client: JobChannelClient;
let root: Root | undefined;
let container: ReturnType<typeof window.document.createElement>;

function render(element: ReactElement): void {
  root = createRoot(container as unknown as Element);
  root.render(createElement(JobChannelProvider, { client }, element));
}

function text(): string {
  return container.textContent ?? "";
}

function Uploads({ channels }: { channels: string[] }): ReactElement {
  const { jobs, activeJobs, isConnected } = useWebSocket<UploadJob>({ channels });
  return createElement(
    "div",
    null,
    `connected=${isConnected};jobs=${jobs.map((j) => `${j.jobId}:${j.status}:${j.progress ?? "-"}`).join(",")};`,
    `active=${activeJobs.map((j) => j.fileName).join(",")}`,
  );
}

describe("useWebSocket and useJob", () => {
  before(async () => {
    relay = await startFakeRelay();
  });
  afterEach(() => {
    root?.unmount();
    root = undefined;
    client.close();
  });
  after(async () => {
    await relay.stop();
    await window.happyDOM.close();
  });

  function setup(): void {
    client = new JobChannelClient({ url: relay.url, WebSocket, backoff: { initialMs: 10 } });
    container = window.document.createElement("div");
  }

  it("returns jobs, activeJobs and isConnected from the snapshot and live updates", async () => {
    setup();
    render(createElement(Uploads, { channels: ["file-upload"] }));
    const connection = await relay.nextConnection();
    await connection.frame("subscribe");
    await waitFor(() => text().startsWith("connected=true"), { what: "connected" });
    connection.send({
      type: "subscribed",
      channel: "file-upload",
      jobs: [update("a", { status: "completed", progress: 100, seq: 3, fileName: "a.txt" })],
    });
    connection.send({ type: "job", job: update("b", { progress: 5, seq: 1, fileName: "b.txt" }) });
    // Each update with seq is the job's whole state, as the publisher SDK sends it.
    connection.send({ type: "job", job: update("b", { progress: 50, seq: 2, fileName: "b.txt" }) });
    connection.send({ type: "job", job: update("b", { progress: 20, seq: 1, fileName: "b.txt" }) });
    await waitFor(
      () => text() === "connected=true;jobs=b:processing:50,a:completed:100;active=b.txt",
      {
        what: `rendered jobs (got ${text()})`,
      },
    );
  });

  it("shares one connection and one subscription among components", async () => {
    setup();
    render(
      createElement(
        Fragment,
        null,
        createElement(Uploads, { channels: ["file-upload"] }),
        createElement(Uploads, { channels: ["file-upload"] }),
      ),
    );
    const connection = await relay.nextConnection();
    await connection.frame("subscribe");
    connection.send({ type: "job", job: update("a", { seq: 1, fileName: "a.txt" }) });
    await waitFor(() => text().split("active=a.txt").length === 3, { what: "both render a" });
    assert.equal(relay.connections.filter((c) => c.socket.readyState === 1).length, 1);
    assert.equal(connection.frames.filter((f) => f.type === "subscribe").length, 1);
  });

  it("keeps its subscription across re-renders and releases it after unmount", async () => {
    setup();
    let rerender: (n: number) => void = () => {};
    function Host(): ReactElement {
      const [n, setN] = useState(0);
      rerender = setN;
      // A new channels array on every render, as an inline literal gives.
      return createElement(
        "section",
        { "data-n": n },
        createElement(Uploads, { channels: ["file-upload"] }),
      );
    }
    render(createElement(Host));
    const connection = await relay.nextConnection();
    await connection.frame("subscribe");
    for (let i = 1; i <= 3; i++) rerender(i);
    connection.send({ type: "job", job: update("a", { seq: 1, fileName: "a.txt" }) });
    await waitFor(() => text().includes("active=a.txt"), { what: "a rendered" });
    assert.equal(connection.frames.filter((f) => f.type === "unsubscribe").length, 0);
    root!.unmount();
    root = undefined;
    assert.deepEqual((await connection.frame("unsubscribe")).channels, ["file-upload"]);
  });

  it("useJob follows one job", async () => {
    setup();
    function One(): ReactElement {
      const job = useJob<UploadJob>("file-upload", "b");
      return createElement("p", null, job ? `${job.fileName}:${job.progress}` : "none");
    }
    render(createElement(One));
    const connection = await relay.nextConnection();
    await connection.frame("subscribe");
    assert.equal(text(), "none");
    connection.send({ type: "job", job: update("a", { seq: 1, fileName: "a.txt", progress: 1 }) });
    connection.send({ type: "job", job: update("b", { seq: 1, fileName: "b.txt", progress: 30 }) });
    await waitFor(() => text() === "b.txt:30", { what: `b rendered (got ${text()})` });
  });
});
