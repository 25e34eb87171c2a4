// Uploads against a real worker process and redis-server: the size limit while reading, the bound on uploads at once, flat memory, blobs gone once final.
import assert from "node:assert/strict";
import { connect } from "node:net";
import { after, before, test } from "node:test";
import { startRedis, waitFor, type Started, type TestRedis } from "@jobchannel/testkit";
import { Redis } from "ioredis";
import { Recorder } from "./helpers.ts";
import {
  MiB,
  bytesReadBy,
  memoryOf,
  postGenerated,
  sendUntilRefused,
  startWorkerProcess,
} from "./upload-helpers.ts";

/** Bytes past the limit the worker may have read before refusing: a few socket reads, a few MiB. */
const FEW_MIB = 8 * MiB;
/** Peak RSS a worker may reach while twenty 20 MiB uploads stream through it (README "## Uploads"). */
const PEAK_RSS_BOUND_MIB = 300;

let redis: TestRedis;
let client: Redis;
let recorder: Recorder;
const workers: Started[] = [];

before(async () => {
  redis = await startRedis();
  client = new Redis(redis.url);
  recorder = await Recorder.start(redis.url);
});

after(async () => {
  for (const w of workers) await w.stop(3000);
  await recorder.close();
  await client.quit();
  await redis.stop();
});

async function worker(
  env: Record<string, string> = {},
): Promise<{ base: string; port: number; pid: number }> {
  const started = await startWorkerProcess({ REDIS_URL: redis.url, ...env });
  workers.push(started.process);
  return { base: started.base, port: started.port, pid: started.process.child.pid! };
}

const blobKeys = (): Promise<string[]> => client.keys("jobchannel:blob:*");

test("a 2 GiB upload against a 25 MiB limit gets 413 after the worker read at most a few MiB past the limit, declared or chunked", async () => {
  const { port, pid } = await worker();
  // What the worker read, not what the client wrote: the client's count also holds whatever the
  // loopback socket buffers accepted, which grows with the machine's load.
  const refused = async (chunked: boolean): Promise<{ statusLine: string; readBytes: number }> => {
    const before = bytesReadBy(pid);
    const answer = await sendUntilRefused(port, "/api/jobs/file-upload", 2 * 1024 * MiB, chunked);
    const readBytes = bytesReadBy(pid) - before;
    console.log(
      `${chunked ? "chunked" : "declared"} 2 GiB: ${answer.statusLine}; client wrote ${(answer.sentBytes / MiB).toFixed(1)} MiB, worker read ${(readBytes / MiB).toFixed(1)} MiB`,
    );
    return { statusLine: answer.statusLine, readBytes };
  };
  const declared = await refused(false);
  assert.match(declared.statusLine, /^HTTP\/1\.1 413 /);
  assert.ok(declared.readBytes <= FEW_MIB, `${declared.readBytes} bytes read`);
  // Without a length the worker reads up to the limit, then refuses and stops reading.
  const chunked = await refused(true);
  assert.match(chunked.statusLine, /^HTTP\/1\.1 413 /);
  assert.ok(chunked.readBytes <= 25 * MiB + FEW_MIB, `${chunked.readBytes} bytes read`);
  await waitFor(async () => (await blobKeys()).length === 0, {
    what: "no blob left of the refused uploads",
  });
  assert.equal(recorder.updates.length, 0, "no job was created");
});

test("uploads past the bound at once get 503 with Retry-After before their body is read", async () => {
  const { base, port } = await worker({
    JOBCHANNEL_MAX_CONCURRENT_UPLOADS: "2",
    JOBCHANNEL_MAX_UPLOAD_BYTES: String(64 * MiB),
  });
  // Two slow uploads hold both slots: their bodies arrive no faster than the socket drains them.
  const holders = [0, 1].map((seed) =>
    postGenerated(`${base}/api/jobs/file-upload`, 48 * MiB, seed),
  );
  await waitFor(async () => (await blobKeys()).length >= 2, { what: "both uploads being stored" });
  const refused = await sendUntilRefused(port, "/api/jobs/file-upload", 1024 * MiB, false);
  assert.match(refused.statusLine, /^HTTP\/1\.1 503 /);
  assert.equal(refused.retryAfter, "2");
  assert.ok(refused.sentBytes <= FEW_MIB, `${refused.sentBytes} bytes sent`);
  for (const answer of await Promise.all(holders)) assert.equal(answer.status, 202);
});

test("twenty concurrent 20 MiB uploads keep the worker's RSS bounded, hash right, and leave no blob once final", async () => {
  const { base, pid } = await worker({ JOBCHANNEL_MAX_CONCURRENT_UPLOADS: "20" });
  const before = memoryOf(pid);
  const answers = await Promise.all(
    Array.from({ length: 20 }, (_, i) =>
      postGenerated(`${base}/api/jobs/file-upload`, 20 * MiB, 1000 + i),
    ),
  );
  for (const answer of answers) assert.equal(answer.status, 202, JSON.stringify(answer.body));
  for (const answer of answers) {
    const updates = await recorder.terminal(answer.body.jobId as string, 90_000);
    const final = updates.at(-1)!;
    assert.equal(final.status, "completed", JSON.stringify(final));
    assert.equal((final.result as { sha256: string }).sha256, answer.sha256);
    assert.equal((final.result as { bytes: number }).bytes, 20 * MiB);
  }
  const memory = memoryOf(pid);
  console.log(
    `20 x 20 MiB uploads: worker RSS ${before.rssMiB.toFixed(0)} MiB before, peak ${memory.peakMiB.toFixed(0)} MiB (bound ${PEAK_RSS_BOUND_MIB} MiB; 400 MiB uploaded)`,
  );
  assert.ok(memory.peakMiB < PEAK_RSS_BOUND_MIB, `peak RSS ${memory.peakMiB} MiB`);
  await waitFor(async () => (await blobKeys()).length === 0, {
    what: "every blob deleted once its job is final",
  });
});

test("a client gone mid-upload leaves no blob and frees its upload slot", async () => {
  const { base, port } = await worker({ JOBCHANNEL_MAX_CONCURRENT_UPLOADS: "1" });
  const socket = connect(port, "127.0.0.1");
  socket.on("error", () => undefined);
  socket.write(
    [
      "POST /api/jobs/file-upload HTTP/1.1",
      "Host: 127.0.0.1",
      "Content-Type: multipart/form-data; boundary=gone",
      `Content-Length: ${20 * MiB}`,
      "",
      '--gone\r\nContent-Disposition: form-data; name="file"; filename="gone.bin"\r\n\r\n',
    ].join("\r\n"),
  );
  socket.write(Buffer.alloc(3 * MiB, 1));
  await waitFor(async () => (await blobKeys()).length > 0, { what: "the upload being stored" });
  socket.destroy();
  await waitFor(async () => (await blobKeys()).length === 0, {
    what: "the half-stored blob removed",
  });
  const next = await postGenerated(`${base}/api/jobs/file-upload`, MiB, 5);
  assert.equal(next.status, 202, JSON.stringify(next.body));
  await recorder.terminal(next.body.jobId as string);
});

test("an upload the blob store cannot take gets 503 upload_store_failed and publishes nothing", async () => {
  const { base } = await worker();
  const seen = recorder.updates.length;
  await client.config("SET", "maxmemory", "1mb");
  try {
    const answer = await postGenerated(`${base}/api/jobs/file-upload`, 4 * MiB, 7);
    assert.equal(answer.status, 503);
    assert.equal((answer.body.error as { code: string }).code, "upload_store_failed");
  } finally {
    await client.config("SET", "maxmemory", "0");
  }
  assert.equal(recorder.updates.length, seen, "no queued update went out");
  assert.deepEqual(await blobKeys(), []);
});
