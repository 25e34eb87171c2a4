// pdf-extraction against a real worker process and redis-server: pdf.js reads the upload through byte ranges, so memory does not grow with the PDF's size.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { startRedis, type Started, type TestRedis } from "@jobchannel/testkit";
import { Recorder } from "./helpers.ts";
import { pageLine, streamedPdf } from "./pdf-stream.ts";
import { MiB, memoryOf, postStream, startWorkerProcess } from "./upload-helpers.ts";

/**
 * Peak RSS the worker may gain from a 48 MiB to a 192 MiB PDF: two thirds of their difference. The
 * upload and range reads leave freed buffers (up to about 90 MiB) until V8 collects them once they
 * add up, so a smaller difference between the two PDFs would drown in that. A thread holding the
 * whole PDF gains about 180 MiB here.
 */
const PEAK_GROWTH_BOUND_MIB = 96;

let redis: TestRedis;
let recorder: Recorder;
let worker: Started | undefined;

before(async () => {
  redis = await startRedis();
  recorder = await Recorder.start(redis.url);
});

after(async () => {
  await worker?.stop(3000);
  await recorder.close();
  await redis.stop();
});

test("a 192 MiB PDF raises the worker's peak RSS by far less than its size over a 48 MiB one, every page's text extracted", async () => {
  const started = await startWorkerProcess({
    REDIS_URL: redis.url,
    JOBCHANNEL_MAX_UPLOAD_BYTES: String(256 * MiB),
  });
  worker = started.process;
  const pid = started.process.child.pid!;
  const extract = async (pages: number): Promise<number> => {
    // Every page paints a 4 MiB image, which text extraction reads through.
    const pdf = streamedPdf(pages, 4 * MiB);
    const answer = await postStream(
      `${started.base}/api/jobs/pdf-extraction`,
      pdf.chunks(),
      pdf.bytes,
      `${pages}-pages.pdf`,
    );
    assert.equal(answer.status, 202, JSON.stringify(answer.body));
    const updates = await recorder.terminal(answer.body.jobId as string, 120_000);
    const final = updates.at(-1)!;
    assert.equal(final.status, "completed", JSON.stringify(final));
    const result = final.result as { pages: number; text: { page: number; text: string }[] };
    assert.equal(result.pages, pages);
    assert.deepEqual(
      result.text.map((p) => p.text),
      Array.from({ length: pages }, (_, i) => pageLine(i + 1, pages)),
    );
    return pdf.bytes;
  };
  // The first documents load pdf.js into the thread and warm up the range path: the peak after a
  // 48 MiB PDF includes that, and a PDF four times as large must not raise it much further.
  await extract(1);
  const halfBytes = await extract(12);
  const afterHalf = memoryOf(pid).peakMiB;
  const fullBytes = await extract(48);
  const afterFull = memoryOf(pid).peakMiB;
  console.log(
    `pdf-extraction peak RSS: ${afterHalf.toFixed(0)} MiB after ${(halfBytes / MiB).toFixed(0)} MiB, ${afterFull.toFixed(0)} MiB after ${(fullBytes / MiB).toFixed(0)} MiB (bound: +${PEAK_GROWTH_BOUND_MIB} MiB)`,
  );
  assert.ok(
    afterFull - afterHalf < PEAK_GROWTH_BOUND_MIB,
    `peak RSS grew ${(afterFull - afterHalf).toFixed(1)} MiB`,
  );
});
