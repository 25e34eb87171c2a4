// The original guide's example component (test/fixtures/guide-example.tsx, verbatim but for the
// import path) must type-check against @jobchannel/client/react and, rendered as it is, show the
// active jobs of its channel.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { describe, it } from "node:test";
import { JobChannelClient } from "@jobchannel/client";
import { JobChannelProvider } from "@jobchannel/client/react";
import { waitFor } from "@jobchannel/testkit";
import { Window } from "happy-dom";
import { createElement, type ComponentType } from "react";
import { createRoot } from "react-dom/client";
import ts from "typescript";
import WebSocket from "ws";
import { startFakeRelay, update } from "./helpers/fake-relay.ts";

const here = import.meta.dirname;
const fixture = join(here, "fixtures/guide-example.tsx");

/**
 * The fixture compiled as a bundler would (JSX to react/jsx-runtime calls), its imports pointed at
 * the same built modules this test loads, so that the component and the provider share one React
 * and one `@jobchannel/client/react`.
 */
async function loadGuideComponent(): Promise<ComponentType> {
  const { outputText } = ts.transpileModule(readFileSync(fixture, "utf8"), {
    compilerOptions: {
      jsx: ts.JsxEmit.ReactJSX,
      module: ts.ModuleKind.ESNext,
      target: ts.ScriptTarget.ES2022,
    },
  });
  const specifiers = ["@jobchannel/client/react", "react/jsx-runtime"];
  let code = outputText;
  for (const specifier of specifiers) {
    code = code.replaceAll(`"${specifier}"`, JSON.stringify(import.meta.resolve(specifier)));
  }
  assert.doesNotMatch(code, /from "(?!file:)/, "every import of the fixture is resolved");
  const dir = mkdtempSync(join(tmpdir(), "jobchannel-guide-"));
  try {
    const file = join(dir, "guide-example.mjs");
    writeFileSync(file, code);
    const module = (await import(pathToFileURL(file).href)) as { YourComponent: ComponentType };
    return module.YourComponent;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe("the guide's example component", () => {
  it("subscribes to its channel and lists the channel's active jobs with their custom field", async () => {
    const YourComponent = await loadGuideComponent();
    const window = new Window({ url: "http://localhost/" });
    Object.assign(globalThis, { window, document: window.document });
    const relay = await startFakeRelay();
    const client = new JobChannelClient({ url: relay.url, WebSocket, backoff: { initialMs: 10 } });
    const container = window.document.createElement("div");
    const root = createRoot(container as unknown as Element);
    try {
      root.render(createElement(JobChannelProvider, { client }, createElement(YourComponent)));
      const connection = await relay.nextConnection();
      assert.deepEqual((await connection.frame("subscribe")).channels, ["your-new-channel"]);
      const channel = "your-new-channel";
      connection.send({
        type: "subscribed",
        channel,
        jobs: [
          update("a", { status: "completed", seq: 2, customField: "a.csv" }, channel),
          update("b", { status: "queued", seq: 1, customField: "b.csv" }, channel),
        ],
      });
      connection.send({
        type: "job",
        job: update("c", { seq: 1, customField: "c.csv" }, channel),
      });
      const expected = "Your Job Progressc.csv - processingb.csv - queued";
      await waitFor(() => container.textContent === expected, { what: "the active jobs rendered" });
    } finally {
      root.unmount();
      client.close();
      await relay.stop();
      await window.happyDOM.close();
    }
  });

  it("type-checks against the hook", () => {
    const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
    const result = spawnSync(process.execPath, [tsc, "-p", join(here, "tsconfig.json")], {
      encoding: "utf8",
    });
    assert.equal(result.status, 0, `tsc failed:\n${result.stdout}${result.stderr}`);
  });
});
