// The built-in job types over HTTP against a real redis-server, with the BullMQ queue and the Redis job-state store.
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, test } from "node:test";
import { RedisJobStore, channelKeys } from "@jobchannel/state";
import { startRedis, waitFor, type TestRedis } from "@jobchannel/testkit";
import { Redis } from "ioredis";
import { Registry } from "prom-client";
import { createWorker, type JobchannelWorker } from "../src/create-worker.ts";
import { Publisher } from "../src/publisher.ts";
import { createWorkerApp } from "../src/server.ts";
import {
  PDF_PAGES,
  Recorder,
  lifecycleProblem,
  makeCsv,
  makePdf,
  postFile,
  postJson,
  silentLogger,
} from "./helpers.ts";

let redis: TestRedis;
let connection: Redis;
let worker: JobchannelWorker;
let server: Server;
let recorder: Recorder;
let base: string;

before(async () => {
  redis = await startRedis();
  connection = new Redis(redis.url);
  worker = createWorker({
    store: new RedisJobStore(connection),
    redisUrl: redis.url,
    logger: silentLogger,
    registry: new Registry(),
    maxUploadBytes: 2 * 1024 * 1024,
    retryDelayMs: 50,
  });
  server = createWorkerApp(worker).listen(0, "127.0.0.1");
  await new Promise((r) => server.once("listening", r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  await worker.start();
  recorder = await Recorder.start(redis.url);
});

after(async () => {
  await recorder?.close();
  await worker?.close(2000);
  await new Promise((r) => server?.close(r));
  await connection?.quit();
  await redis?.stop();
});

test("file-upload hashes a streamed upload with progress by bytes", async () => {
  const bytes = randomBytes(1536 * 1024);
  const res = await postFile(
    `${base}/api/jobs/file-upload`,
    { bytes, name: "blob.bin" },
    { userId: "123" },
  );
  assert.equal(res.status, 202);
  const updates = await recorder.terminal(res.body.jobId);
  assert.equal(lifecycleProblem(updates), undefined);
  const last = updates.at(-1)!;
  assert.deepEqual(last.result, {
    sha256: createHash("sha256").update(bytes).digest("hex"),
    bytes: bytes.length,
    filename: "blob.bin",
    mimeType: "application/octet-stream",
  });
  assert.ok(
    updates.filter((u) => u.status === "processing").length >= 6,
    "one progress update per chunk",
  );
  assert.ok(updates.every((u) => u.userId === "123"));
  const stored = (await (
    await fetch(`${base}/api/jobs/file-upload/${res.body.jobId}`)
  ).json()) as Record<string, unknown>;
  assert.equal(stored.status, "completed");
  assert.equal(stored.seq, last.seq);
  // The upload is deleted once the job is over.
  assert.equal(await connection.exists(`jobchannel:{file-upload}:upload:${res.body.jobId}`), 0);
});

test("the original guide's curl form at /api/file-upload keeps working", async () => {
  const res = await postFile(
    `${base}/api/file-upload`,
    { bytes: await makePdf(), name: "test.pdf", type: "application/pdf" },
    { userId: "123" },
  );
  assert.equal(res.status, 202);
  const last = (await recorder.terminal(res.body.jobId)).at(-1)!;
  assert.equal(last.status, "completed");
  assert.equal((last.result as { filename: string }).filename, "test.pdf");
});

test("bulk-upload validates rows with progress by rows and reports invalid ones", async () => {
  const csv = makeCsv(400, ["Eve,eve-at-example.com,,1", "Mallory,m@example.com,not a phone,2"]);
  const res = await postFile(`${base}/api/jobs/bulk-upload`, {
    bytes: csv,
    name: "contacts.csv",
    type: "text/csv",
  });
  const updates = await recorder.terminal(res.body.jobId);
  assert.equal(lifecycleProblem(updates), undefined);
  const result = updates.at(-1)!.result as {
    rows: number;
    invalidRows: number;
    errors: { line: number; reason: string }[];
  };
  assert.equal(result.rows, 402);
  assert.equal(result.invalidRows, 2);
  assert.deepEqual(
    result.errors.map((e) => e.line),
    [402, 403],
  );
  const rowCounts = updates
    .filter((u) => u.status === "processing" && typeof u.rowsProcessed === "number")
    .map((u) => u.rowsProcessed as number);
  assert.ok(rowCounts.length >= 10, `progress by rows: ${rowCounts.join(",")}`);
});

test("bulk-upload fails a CSV with a broken row with the line, and nothing else breaks", async () => {
  const res = await postJson(`${base}/api/jobs/bulk-upload`, {
    csv: 'name,email\nAda,ada@example.com\nBob,"bob@example.com\n',
  });
  assert.equal(res.status, 202);
  const last = (await recorder.terminal(res.body.jobId)).at(-1)!;
  assert.equal(last.status, "failed");
  assert.match(last.error!, /cannot be parsed at line/);
  assert.equal(last.attempt, 1, "a broken CSV is not retried");
  const next = await postJson(`${base}/api/jobs/bulk-upload`, {
    csv: "name,email\nAda,ada@example.com\n",
  });
  assert.equal((await recorder.terminal(next.body.jobId)).at(-1)!.status, "completed");
});

test("pdf-extraction extracts the fixture's text page by page", async () => {
  const res = await postFile(`${base}/api/jobs/pdf-extraction`, {
    bytes: await makePdf(),
    name: "report.pdf",
    type: "application/pdf",
  });
  const updates = await recorder.terminal(res.body.jobId);
  assert.equal(lifecycleProblem(updates), undefined);
  const result = updates.at(-1)!.result as {
    pages: number;
    text: { page: number; text: string }[];
  };
  assert.equal(result.pages, PDF_PAGES.length);
  assert.deepEqual(
    result.text.map((p) => p.text),
    PDF_PAGES.map((lines) => lines.join("\n")),
  );
  assert.deepEqual(
    updates
      .filter((u) => u.status === "processing" && u.pagesProcessed)
      .map((u) => u.pagesProcessed),
    [1, 2, 3],
  );
});

test("pdf-extraction fails a corrupt PDF with a reason, and nothing else breaks", async () => {
  const pdf = await makePdf();
  const corrupt = Buffer.concat([Buffer.from(pdf.subarray(0, 400)), randomBytes(300)]);
  const res = await postFile(`${base}/api/jobs/pdf-extraction`, {
    bytes: corrupt,
    name: "broken.pdf",
  });
  const last = (await recorder.terminal(res.body.jobId)).at(-1)!;
  assert.equal(last.status, "failed");
  assert.match(last.error!, /broken\.pdf is not a readable PDF/);
  const good = await postFile(`${base}/api/jobs/pdf-extraction`, { bytes: pdf, name: "ok.pdf" });
  assert.equal((await recorder.terminal(good.body.jobId)).at(-1)!.status, "completed");
});

test("a too-large upload is refused with 413 and creates no job", async () => {
  const before = recorder.updates.length;
  const res = await postFile(`${base}/api/jobs/file-upload`, {
    bytes: randomBytes(2 * 1024 * 1024 + 1),
    name: "huge.bin",
  });
  assert.equal(res.status, 413);
  assert.equal(res.body.error.code, "payload_too_large");
  const next = await postFile(`${base}/api/jobs/file-upload`, { bytes: "small", name: "s.txt" });
  assert.equal(next.status, 202);
  await recorder.terminal(next.body.jobId);
  assert.deepEqual(
    new Set(recorder.updates.slice(before).map((u) => u.jobId)),
    new Set([next.body.jobId]),
  );
});

test("job-updates screens a deal record step by step", async () => {
  const res = await postJson(`${base}/api/jobs/job-updates`, {
    userId: "analyst-7",
    company: {
      name: "Greyhaven Maritime Logistics Ltd",
      country: "XD",
      directors: ["Tobias Wrenfield"],
    },
    financials: {
      revenue: 20_000_000,
      ebitda: 2_000_000,
      netDebt: 11_000_000,
      previousRevenue: 26_000_000,
    },
    deal: { enterpriseValue: 25_000_000, currency: "EUR" },
  });
  const updates = await recorder.terminal(res.body.jobId);
  assert.equal(lifecycleProblem(updates), undefined);
  assert.deepEqual(
    updates.filter((u) => u.status === "processing" && u.step).map((u) => [u.progress, u.step]),
    [
      [20, "consistency"],
      [40, "ratios"],
      [60, "watch-list"],
      [80, "country"],
      [100, "score"],
    ],
  );
  const result = updates.at(-1)!.result as {
    decision: string;
    matches: { entity: string }[];
    riskScore: number;
  };
  assert.deepEqual(result.matches.map((m) => m.entity).sort(), [
    "Greyhaven Maritime Logistics",
    "Tobias Wrenfield",
  ]);
  assert.equal(result.decision, "review");
  assert.equal(updates.at(-1)!.userId, "analyst-7");
});

test("a subscriber on jobchannel:<channel> sees strictly increasing seq for every job", async () => {
  // Its own jobs, run at once so that their updates interleave on the one channel.
  const started = await Promise.all(
    [1, 2, 3, 4].map((i) =>
      postFile(`${base}/api/jobs/file-upload`, {
        bytes: randomBytes(i * 256 * 1024),
        name: `${i}`,
      }),
    ),
  );
  const ids = started.map((res) => {
    assert.equal(res.status, 202);
    return res.body.jobId as string;
  });
  for (const id of ids) await recorder.terminal(id);
  const mine = recorder.updates.filter((u) => ids.includes(u.jobId));
  for (const id of ids) {
    const seqs = mine.filter((u) => u.jobId === id).map((u) => u.seq!);
    assert.ok(seqs.length >= 3, `job ${id} published queued, progress and its end: ${seqs.length}`);
    assert.ok(
      seqs.every((seq, i) => i === 0 || seq > seqs[i - 1]!),
      `seq of ${id}: ${seqs.join(" ")}`,
    );
  }
  // One counter per channel: in the order the subscriber received them, across all four jobs.
  const channelSeqs = mine.map((u) => u.seq!);
  assert.ok(
    channelSeqs.every((seq, i) => i === 0 || seq > channelSeqs[i - 1]!),
    `seq across file-upload: ${channelSeqs.join(" ")}`,
  );
});

test("retention keeps the state store within maxJobs and drops expired jobs", async () => {
  let now = Date.now() - 60_000;
  const store = new RedisJobStore(connection);
  const publisher = new Publisher(store, {
    history: { maxJobs: 3, ttlSeconds: 30 },
    now: () => now,
  });
  await publisher.update("retention", "old", { status: "completed" });
  const keys = channelKeys("retention");
  // The channel's counter is seeded from Redis's clock; each update takes the next number.
  const first = BigInt((await connection.get(keys.counter)) ?? "0");
  now = Date.now();
  for (const id of ["a", "b", "c", "d"])
    await publisher.update("retention", id, { status: "queued" });
  assert.deepEqual((await connection.hkeys(keys.state)).sort(), ["b", "c", "d"]);
  assert.equal(await connection.zcard(keys.index), 3);
  assert.equal(await connection.get(keys.counter), String(first + 4n));
  assert.deepEqual(
    (await store.snapshot("retention", { maxJobs: 3, ttlSeconds: 30 })).map((u) => u.jobId),
    ["b", "c", "d"],
  );
  const ttl = await connection.pttl(keys.state);
  assert.ok(ttl > 0 && ttl <= 30_000, `state key expires with the history: ${ttl}`);
});

test("/metrics exposes the contract's names; /healthz and /readyz answer", async () => {
  const metrics = async () => await (await fetch(`${base}/metrics`)).text();
  /** A sample's value, 0 while the series does not exist yet. */
  const sample = (text: string, series: string): number => {
    const line = text.split("\n").find((l) => l.startsWith(`${series} `));
    return line === undefined ? 0 : Number(line.slice(series.length + 1));
  };
  const completedUploads = 'jobchannel_worker_jobs_total{channel="file-upload",status="completed"}';
  const failedPdfs = 'jobchannel_worker_jobs_total{channel="pdf-extraction",status="failed"}';
  const bulkDurations =
    'jobchannel_worker_job_duration_seconds_count{channel="bulk-upload",status="completed"}';
  const before = await metrics();
  // Its own jobs: one completed upload, one failed extraction, one completed bulk upload.
  const jobs = await Promise.all([
    postFile(`${base}/api/jobs/file-upload`, { bytes: randomBytes(1024), name: "m.bin" }),
    postFile(`${base}/api/jobs/pdf-extraction`, { bytes: randomBytes(700), name: "m.pdf" }),
    postJson(`${base}/api/jobs/bulk-upload`, { csv: "name,email\nAda,ada@example.com\n" }),
  ]);
  const ends = [];
  for (const job of jobs) ends.push((await recorder.terminal(job.body.jobId)).at(-1)!.status);
  assert.deepEqual(ends, ["completed", "failed", "completed"]);
  // A job's metrics are recorded just after its terminal update is published.
  const series = [completedUploads, failedPdfs, bulkDurations];
  const grown = (text: string) => series.map((name) => sample(text, name) - sample(before, name));
  let after = "";
  await waitFor(async () => grown((after = await metrics())).every((d) => d >= 1), {
    what: "the three jobs in /metrics",
  });
  assert.deepEqual(grown(after), [1, 1, 1], series.join(", "));
  assert.equal((await fetch(`${base}/healthz`)).status, 200);
  await waitFor(async () => (await fetch(`${base}/readyz`)).status === 200);
});
