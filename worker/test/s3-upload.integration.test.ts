// A worker process storing uploads in a real SeaweedFS over S3: a 200 MiB upload hashes right with flat memory, and its object is gone once the job is final.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import {
  startRedis,
  startSeaweedfs,
  waitFor,
  type Started,
  type TestRedis,
  type TestS3,
} from "@jobchannel/testkit";
import { Recorder } from "./helpers.ts";
import { MiB, memoryOf, postGenerated, startWorkerProcess } from "./upload-helpers.ts";

/** RSS growth allowed from idle: the S3 client's first use, parts in flight and stream buffers, not the upload. */
const FLAT_GROWTH_MIB = 160;

let redis: TestRedis;
let s3: TestS3;
let client: S3Client;
let recorder: Recorder;
let worker: Started | undefined;

before(async () => {
  [redis, s3] = await Promise.all([startRedis(), startSeaweedfs()]);
  client = new S3Client({
    endpoint: s3.endpoint,
    region: s3.region,
    forcePathStyle: true,
    credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
  });
  recorder = await Recorder.start(redis.url);
});

after(async () => {
  await worker?.stop(3000);
  await recorder.close();
  client.destroy();
  await s3.stop();
  await redis.stop();
});

async function objects(): Promise<string[]> {
  const listed = await client.send(
    new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: "jobchannel/uploads/" }),
  );
  return (listed.Contents ?? []).map((o) => o.Key!);
}

test("a 200 MiB upload through the S3 blob store completes with the right SHA-256, flat RSS, and no object left", async () => {
  const started = await startWorkerProcess({
    REDIS_URL: redis.url,
    JOBCHANNEL_BLOB_STORE: "s3",
    JOBCHANNEL_S3_BUCKET: s3.bucket,
    JOBCHANNEL_S3_ENDPOINT: s3.endpoint,
    JOBCHANNEL_S3_FORCE_PATH_STYLE: "true",
    JOBCHANNEL_MAX_UPLOAD_BYTES: String(256 * MiB),
    AWS_ACCESS_KEY_ID: s3.accessKeyId,
    AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
  });
  worker = started.process;
  const pid = started.process.child.pid!;
  const idle = memoryOf(pid);
  // A 20 MiB upload first: if memory is flat, ten times the bytes add little to its peak.
  const small = await postGenerated(`${started.base}/api/jobs/file-upload`, 20 * MiB, 41);
  assert.equal(small.status, 202, JSON.stringify(small.body));
  const smallFinal = (await recorder.terminal(small.body.jobId as string, 60_000)).at(-1)!;
  assert.equal((smallFinal.result as { sha256: string }).sha256, small.sha256);
  const afterSmall = memoryOf(pid);
  const answer = await postGenerated(`${started.base}/api/jobs/file-upload`, 200 * MiB, 42);
  assert.equal(answer.status, 202, JSON.stringify(answer.body));
  const stored = await objects();
  assert.equal(stored.length, 1, "the upload is one object in the bucket while its job runs");
  const updates = await recorder.terminal(answer.body.jobId as string, 90_000);
  const final = updates.at(-1)!;
  assert.equal(final.status, "completed", JSON.stringify(final));
  const result = final.result as { sha256: string; bytes: number };
  assert.equal(result.sha256, answer.sha256);
  assert.equal(result.bytes, 200 * MiB);
  const memory = memoryOf(pid);
  console.log(
    `S3 uploads: worker RSS ${idle.rssMiB.toFixed(0)} MiB idle, peak ${afterSmall.peakMiB.toFixed(0)} MiB after 20 MiB, peak ${memory.peakMiB.toFixed(0)} MiB after 200 MiB (growth ${(memory.peakMiB - idle.rssMiB).toFixed(0)} MiB, bound ${FLAT_GROWTH_MIB} MiB)`,
  );
  assert.ok(memory.peakMiB - idle.rssMiB < FLAT_GROWTH_MIB, `RSS grew to ${memory.peakMiB} MiB`);
  assert.ok(
    memory.peakMiB - afterSmall.peakMiB < 50,
    `ten times the bytes raised the peak from ${afterSmall.peakMiB} to ${memory.peakMiB} MiB`,
  );
  await waitFor(async () => (await objects()).length === 0, {
    what: "the upload's object deleted once the job is final",
  });
});
