import assert from "node:assert/strict";
import { test } from "node:test";
import {
  REOPEN_BYTES,
  WHOLE_DOCUMENT_BYTES,
  cutToBytes,
  pageText,
  pdfExtraction,
} from "../../src/jobs/pdf-extraction.ts";
import { PDF_PAGES, fakeContext, makePdf } from "../helpers.ts";
import { pageLine, streamedPdf } from "../pdf-stream.ts";

test("extracts the text of each page and reports progress by pages", async () => {
  const { context, progress } = await fakeContext(
    {},
    { bytes: await makePdf(), filename: "report.pdf" },
  );
  const result = await pdfExtraction.handler(context);
  assert.equal(result.pages, 3);
  assert.deepEqual(
    result.text.map((p) => p.text),
    PDF_PAGES.map((lines) => lines.join("\n")),
  );
  assert.deepEqual(
    progress.map((p) => Math.round(p.percent)),
    [33, 67, 100],
  );
  assert.equal(result.truncated, false);
});

test("fails on bytes that are not a PDF or a broken one", async () => {
  for (const bytes of ["hello, not a pdf", "%PDF-1.7\n1 0 obj garbage"]) {
    const { context } = await fakeContext({}, { bytes });
    await assert.rejects(
      pdfExtraction.handler(context),
      (e: Error) => e.name === "UnrecoverableError",
    );
  }
});

test("joins text items into lines", () => {
  assert.equal(
    pageText([{ str: "a", hasEOL: true }, { str: "b " }, { str: "c", hasEOL: true }, {}]),
    "a\nb c",
  );
});

test("cuts text to a byte budget without splitting a character", () => {
  assert.equal(cutToBytes("héllo", 2), "h");
  assert.equal(cutToBytes("héllo", 3), "hé");
  assert.equal(cutToBytes("short", 100), "short");
});

test("keeps a long document's result within the byte budget", async () => {
  const line = "€".repeat(60);
  const pages = Array.from({ length: 12 }, () => Array.from({ length: 30 }, () => line));
  const { context } = await fakeContext({}, { bytes: await makePdf(pages) });
  const result = await pdfExtraction.handler(context);
  assert.equal(result.pages, 12);
  assert.equal(result.truncated, true);
  const bytes = result.text.reduce((n, p) => n + Buffer.byteLength(p.text), 0);
  assert.ok(bytes <= 40_000, `${bytes} bytes of text`);
});

test("reads a PDF past the whole-document size by ranges, reopening it as its pages load", async () => {
  // 6 pages, each painting a 3 MiB image text extraction reads through: about 18 MiB.
  const pdf = streamedPdf(6, 3 * 1024 * 1024);
  assert.ok(pdf.bytes > WHOLE_DOCUMENT_BYTES);
  const { context } = await fakeContext({}, { bytes: Buffer.concat([...pdf.chunks()]) });
  const file = context.file!;
  const reads: [number, number][] = [];
  const range = file.range.bind(file);
  (file as { range: typeof file.range }).range = (start, end) => {
    reads.push([start, end]);
    return range(start, end);
  };
  const result = await pdfExtraction.handler(context);
  assert.deepEqual(
    result.text.map((p) => p.text),
    Array.from({ length: 6 }, (_, i) => pageLine(i + 1, 6)),
  );
  // No read is the whole document: the largest is one page's image and what shares its chunks.
  const largest = Math.max(...reads.map(([start, end]) => end - start));
  assert.ok(largest < 4 * 1024 * 1024, `largest range read: ${largest} bytes`);
  // Each opening reads the trailer at the end of the file: 18 MiB of pages past 8 MiB reopens once.
  const openings = reads.filter(([, end]) => end === pdf.bytes).length;
  assert.ok(openings >= 2, `${openings} openings`);
  assert.ok(REOPEN_BYTES < pdf.bytes);
});

test("a range outside the upload is refused with a RangeError", async () => {
  const { context } = await fakeContext({}, { bytes: "0123456789" });
  assert.deepEqual([...(await context.file!.range(2, 5))], [...Buffer.from("234")]);
  assert.equal((await context.file!.range(10, 10)).length, 0);
  for (const [start, end] of [
    [-1, 2],
    [5, 4],
    [0, 11],
    [0.5, 2],
  ] as const)
    await assert.rejects(context.file!.range(start, end), RangeError);
});

test("a range the blob store cannot give fails the job with the store's error and ends the thread", async () => {
  const pdf = streamedPdf(6, 3 * 1024 * 1024);
  const { context } = await fakeContext({}, { bytes: Buffer.concat([...pdf.chunks()]) });
  const file = context.file!;
  const range = file.range.bind(file);
  let reads = 0;
  (file as { range: typeof file.range }).range = (start, end) =>
    ++reads > 4 ? Promise.reject(new Error("the stored upload is gone")) : range(start, end);
  await assert.rejects(pdfExtraction.handler(context), /the stored upload is gone/);
});
