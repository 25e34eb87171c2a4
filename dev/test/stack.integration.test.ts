// The local stack in process, with the in-memory backends and with a real Redis: one suite for both.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { JobChannelClient, type JobUpdate } from "@jobchannel/client";
import { startRedis, waitFor, type TestRedis } from "@jobchannel/testkit";
import pino from "pino";
import { DevError, startStack, type Stack } from "../src/index.ts";

const CSV =
  "name,email,phone,amount\nAda,ada@example.com,,10\nBob,not-an-email,,5\nCy,cy@example.com,,2.5\n";

let web: string;

function postCsv(stack: Stack): Promise<Response> {
  const form = new FormData();
  form.set("userId", "123");
  form.set("file", new Blob([CSV], { type: "text/csv" }), "contacts.csv");
  return fetch(`${stack.url}/api/jobs/bulk-upload`, { method: "POST", body: form });
}

function clientFor(stack: Stack): JobChannelClient {
  // Node's own WebSocket: the client needs nothing else outside a browser.
  return new JobChannelClient({ url: `${stack.url.replace("http", "ws")}/ws` });
}

for (const backend of ["memory", "redis"] as const) {
  describe(`local stack (${backend})`, () => {
    let redis: TestRedis | undefined;
    let stack: Stack;

    before(async () => {
      web = mkdtempSync(join(tmpdir(), "jobchannel-dev-web-"));
      writeFileSync(join(web, "index.html"), "<!doctype html><title>dashboard</title>");
      if (backend === "redis") redis = await startRedis();
      stack = await startStack({
        port: 0,
        redisUrl: redis?.url,
        dashboardDir: web,
        logger: pino({ level: "silent" }),
      });
    });

    after(async () => {
      await stack?.close();
      await redis?.stop();
      rmSync(web, { recursive: true, force: true });
    });

    it("serves the dashboard, /healthz, /readyz and /metrics on one port", async () => {
      assert.equal(stack.mode, backend);
      assert.match(await (await fetch(`${stack.url}/`)).text(), /<title>dashboard<\/title>/);
      assert.deepEqual(await (await fetch(`${stack.url}/healthz`)).json(), { status: "ok" });
      await waitFor(async () => (await fetch(`${stack.url}/readyz`)).status === 200, {
        what: "ready",
      });
      const metrics = await (await fetch(`${stack.url}/metrics`)).text();
      assert.match(metrics, /jobchannel_relay_connections/);
      assert.match(metrics, /jobchannel_worker_jobs_total/);
      const unknown = await fetch(`${stack.url}/api/nothing/here/at/all`);
      assert.equal(unknown.status, 404);
    });

    it("runs a job posted as the guide did and streams it to a subscribed client", async () => {
      const client = clientFor(stack);
      try {
        client.subscribe("bulk-upload");
        await waitFor(() => client.channel("bulk-upload")?.status === "subscribed", {
          what: "subscribed",
        });
        const response = await postCsv(stack);
        assert.equal(response.status, 202);
        const { jobId } = (await response.json()) as { jobId: string };
        const statuses: string[] = [];
        client.on("jobs", () => {
          const status = client.job("bulk-upload", jobId)?.status;
          if (status && statuses.at(-1) !== status) statuses.push(status);
        });
        const done = await waitFor(
          () => {
            const job = client.job<JobUpdate<{ result: { rows: number; invalidRows: number } }>>(
              "bulk-upload",
              jobId,
            );
            return job?.status === "completed" && job;
          },
          { what: "the job to complete" },
        );
        assert.deepEqual(
          { rows: done.result.rows, invalidRows: done.result.invalidRows },
          { rows: 3, invalidRows: 1 },
        );
        assert.equal(done.userId, "123");
        assert.equal(statuses.at(-1), "completed");

        const state = (await (
          await fetch(`${stack.url}/api/jobs/bulk-upload/${jobId}`)
        ).json()) as JobUpdate;
        assert.equal(state.status, "completed");

        // A client that arrives afterwards gets the finished job from the snapshot.
        const late = clientFor(stack);
        try {
          late.subscribe("bulk-upload");
          await waitFor(() => late.job("bulk-upload", jobId)?.status === "completed", {
            what: "snapshot",
          });
        } finally {
          late.close();
        }
      } finally {
        client.close();
      }
    });
  });
}

describe("local stack start-up", () => {
  it("refuses a port in use with a message naming PORT", async () => {
    const first = await startStack({
      port: 0,
      dashboardDir: tmpdir(),
      logger: pino({ level: "silent" }),
    });
    try {
      await assert.rejects(
        startStack({ port: first.port, dashboardDir: tmpdir(), logger: pino({ level: "silent" }) }),
        (e: unknown) => e instanceof DevError && e.code === "port_in_use" && /PORT/.test(e.message),
      );
    } finally {
      await first.close();
      await first.close();
    }
  });
});
