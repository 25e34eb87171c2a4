import assert from "node:assert/strict";
import type { AddressInfo } from "node:net";
import type { Server } from "node:http";
import { after, before, test } from "node:test";
import type { JobUpdate } from "@jobchannel/protocol";
import { MemoryJobStore } from "@jobchannel/state";
import { waitFor } from "@jobchannel/testkit";
import express from "express";
import { SignJWT } from "jose";
import { createWorker, type JobchannelWorker } from "../src/create-worker.ts";
import { postFile, postJson, silentLogger, type Answer } from "./helpers.ts";

const secret = "router-test-secret-router-test-secret";
const servers: Server[] = [];
const workers: JobchannelWorker[] = [];

async function serve(auth?: {
  jwtSecret: string;
}): Promise<{ base: string; store: MemoryJobStore; updates: JobUpdate[] }> {
  const store = new MemoryJobStore();
  const updates: JobUpdate[] = [];
  store.bus.subscribe((_c, p) => updates.push(JSON.parse(p) as JobUpdate));
  const worker = createWorker({
    store,
    logger: silentLogger,
    maxUploadBytes: 1000,
    maxJsonBytes: 2000,
    ...(auth ? { auth } : {}),
  });
  await worker.start();
  workers.push(worker);
  const app = express();
  app.use("/api", worker.router);
  const server = await new Promise<Server>((resolve) => {
    const s = app.listen(0, "127.0.0.1", () => resolve(s));
  });
  servers.push(server);
  return { base: `http://127.0.0.1:${(server.address() as AddressInfo).port}/api`, store, updates };
}

async function answer(res: Response): Promise<Answer> {
  return { status: res.status, body: await res.json() };
}

function postRaw(url: string, contentType: string, body: string): Promise<Answer> {
  return fetch(url, { method: "POST", headers: { "content-type": contentType }, body }).then(
    answer,
  );
}

let dev: Awaited<ReturnType<typeof serve>>;
let secured: Awaited<ReturnType<typeof serve>>;

before(async () => {
  dev = await serve();
  secured = await serve({ jwtSecret: secret });
});

after(async () => {
  for (const w of workers) await w.close(100);
  for (const s of servers) await new Promise((r) => s.close(r));
});

test("answers 202 with the job id and runs the job", async () => {
  const res = await postFile(
    `${dev.base}/jobs/file-upload`,
    { bytes: "hello", name: "a.txt" },
    { userId: "123" },
  );
  assert.equal(res.status, 202);
  assert.equal(typeof res.body.jobId, "string");
  const job = await waitFor(async () => {
    const r = await fetch(`${dev.base}/jobs/file-upload/${res.body.jobId}`);
    const body = (await r.json()) as JobUpdate;
    return body.status === "completed" && body;
  });
  assert.equal(job.userId, "123");
  assert.equal(job.channel, "file-upload");
});

test("accepts the original guide's POST /api/<channel>", async () => {
  const res = await postFile(
    `${dev.base}/file-upload`,
    { bytes: "x", name: "t.pdf" },
    { userId: "123" },
  );
  assert.equal(res.status, 202);
});

test("answers a coded 4xx for every bad request", async () => {
  const cases: [Promise<Answer>, number, string][] = [
    [postJson(`${dev.base}/jobs/nope`, {}), 404, "unknown_job_type"],
    [postJson(`${dev.base}/jobs/Bad_Name`, {}), 400, "bad_request"],
    [postJson(`${dev.base}/jobs/file-upload`, {}), 400, "missing_file"],
    [postJson(`${dev.base}/jobs/job-updates`, { company: 1 }), 400, "invalid_input"],
    [postFile(`${dev.base}/jobs/job-updates`, { bytes: "x", name: "a" }), 400, "bad_request"],
    [
      postFile(`${dev.base}/jobs/file-upload`, { bytes: "x".repeat(1001), name: "big" }),
      413,
      "payload_too_large",
    ],
    [
      postFile(
        `${dev.base}/jobs/file-upload`,
        { bytes: "x", name: "a" },
        { userId: "u".repeat(300) },
      ),
      400,
      "invalid_input",
    ],
    [postJson(`${dev.base}/jobs/job-updates`, { pad: "x".repeat(3000) }), 413, "payload_too_large"],
    [postRaw(`${dev.base}/jobs/job-updates`, "application/json", "{nope"), 400, "invalid_json"],
    [postRaw(`${dev.base}/jobs/job-updates`, "text/plain", "hi"), 415, "unsupported_media_type"],
    [postRaw(`${dev.base}/jobs/file-upload`, "multipart/form-data", "x"), 400, "bad_request"],
    [fetch(`${dev.base}/jobs/file-upload/missing`).then(answer), 404, "job_not_found"],
    [
      fetch(`${dev.base}/jobs/file-upload`, { method: "DELETE" }).then(answer),
      405,
      "method_not_allowed",
    ],
  ];
  for (const [request, status, code] of cases) {
    const res = await request;
    assert.equal(res.status, status, JSON.stringify(res.body));
    assert.equal(res.body.error.code, code);
    assert.equal(typeof res.body.error.message, "string");
  }
  assert.equal(
    dev.updates.filter((u) => u.status === "queued").length,
    2,
    "only the two good jobs were queued",
  );
});

test("requires a verified token when a secret is set, and uses its sub", async () => {
  const sign = (claims: Record<string, unknown>) =>
    new SignJWT(claims)
      .setProtectedHeader({ alg: "HS256" })
      .setExpirationTime("5m")
      .sign(new TextEncoder().encode(secret));
  const none = await postFile(
    `${secured.base}/jobs/file-upload`,
    { bytes: "x", name: "a" },
    { userId: "123" },
  );
  assert.equal(none.status, 401);
  assert.equal(none.body.error.code, "unauthorized");
  const forbidden = await postFile(
    `${secured.base}/jobs/file-upload`,
    { bytes: "x", name: "a" },
    {},
    {
      authorization: `Bearer ${await sign({ sub: "alice", channels: ["bulk-upload"] })}`,
    },
  );
  assert.equal(forbidden.status, 403);
  const alice = { authorization: `Bearer ${await sign({ sub: "alice" })}` };
  const ok = await postFile(
    `${secured.base}/jobs/file-upload`,
    { bytes: "x", name: "a" },
    { userId: "mallory" },
    alice,
  );
  assert.equal(ok.status, 202);
  await waitFor(() =>
    secured.updates.some((u) => u.jobId === ok.body.jobId && u.status === "completed"),
  );
  assert.ok(
    secured.updates.filter((u) => u.jobId === ok.body.jobId).every((u) => u.userId === "alice"),
  );
  const mine = await fetch(`${secured.base}/jobs/file-upload/${ok.body.jobId}`, { headers: alice });
  assert.equal(mine.status, 200);
  const bob = { authorization: `Bearer ${await sign({ sub: "bob" })}` };
  const theirs = await fetch(`${secured.base}/jobs/file-upload/${ok.body.jobId}`, { headers: bob });
  assert.equal(theirs.status, 404);
});

test("refuses new jobs with 503 while closing", async () => {
  const w = await serve();
  await workers.at(-1)!.close(10);
  const res = await postJson(`${w.base}/jobs/job-updates`, {});
  assert.equal(res.status, 503);
  assert.equal(res.body.error.code, "unavailable");
});
