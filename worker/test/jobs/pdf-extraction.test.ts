import assert from "node:assert/strict";
import { test } from "node:test";
import { cutToBytes, pageText, pdfExtraction } from "../../src/jobs/pdf-extraction.ts";
import { PDF_PAGES, fakeContext, makePdf } from "../helpers.ts";

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
