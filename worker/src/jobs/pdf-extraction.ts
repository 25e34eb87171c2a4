// Built-in job type pdf-extraction: text extracted page by page with pdf.js (unpdf) in a worker thread, progress by pages.
// pdf.js reads the upload through byte ranges this thread fetches from the blob store on request,
// so neither thread holds the whole document.
import { on, once } from "node:events";
import { Worker } from "node:worker_threads";
import { UnrecoverableError } from "../errors.ts";
import { defineJob, uploadFields } from "../job.ts";
import type { FromThread, ThreadData, ToThread } from "./pdf-extraction-thread.ts";

/** Text of one page, cut to {@link MAX_PAGE_BYTES}. */
export interface PageText {
  page: number;
  text: string;
  /** Characters on the page before any cut. */
  characters: number;
  truncated: boolean;
}

/** The `result` of a completed pdf-extraction job. */
export interface PdfExtractionResult {
  pages: number;
  /** Characters of text in the whole document. */
  characters: number;
  /** Text per page, for the first pages while the result stays within {@link MAX_RESULT_BYTES}. */
  text: PageText[];
  /** True when some pages' text is cut or left out to keep the update small. */
  truncated: boolean;
}

/** UTF-8 bytes of text kept per page. */
export const MAX_PAGE_BYTES = 4000;
/** UTF-8 bytes of text kept in all: the `completed` update stays well inside the 64 KiB limit. */
export const MAX_RESULT_BYTES = 40_000;
/** Larger documents are refused rather than tying up a worker. */
export const MAX_PAGES = 5000;

interface TextItem {
  str?: string;
  hasEOL?: boolean;
}

/** The longest prefix of `text` of at most `maxBytes` UTF-8 bytes, not splitting a character. */
export function cutToBytes(text: string, maxBytes: number): string {
  if (Buffer.byteLength(text) <= maxBytes) return text;
  const cut = Buffer.from(text).subarray(0, Math.max(0, maxBytes)).toString("utf8");
  // A split character decodes to U+FFFD at the end: drop it.
  return cut.endsWith("\uFFFD") ? cut.slice(0, -1) : cut;
}

/** Joins pdf.js text items into lines. */
export function pageText(items: readonly TextItem[]): string {
  let text = "";
  for (const item of items) {
    if (typeof item.str !== "string") continue;
    text += item.str;
    if (item.hasEOL) text += "\n";
  }
  return text.replace(/[ \t]+\n/g, "\n").trim();
}

// The thread runs from source under Node's type stripping (tests, examples) and from dist once built.
const THREAD = new URL(
  import.meta.url.endsWith(".ts") ? "./pdf-extraction-thread.ts" : "./pdf-extraction-thread.js",
  import.meta.url,
);

/** PDFs up to this size are read whole (the fastest for pdf.js); larger ones by byte ranges. */
export const WHOLE_DOCUMENT_BYTES = 8 * 1024 * 1024;
/** The thread reopens a document read by ranges once its pages have loaded this much of it. */
export const REOPEN_BYTES = 8 * 1024 * 1024;
/** pdf.js asks for ranges in whole chunks of this size. */
const RANGE_CHUNK_BYTES = 64 * 1024;

function unreadable(filename: string, error: Extract<FromThread, { kind: "error" }>): Error {
  switch (error.stage) {
    case "open":
      return new UnrecoverableError(`${filename} is not a readable PDF: ${error.message}`);
    case "page":
      return new UnrecoverableError(
        `page ${error.page} of ${filename} cannot be read: ${error.message}`,
      );
  }
}

export const pdfExtraction = defineJob<Record<string, never>, PdfExtractionResult>({
  name: "pdf-extraction",
  upload: "required",
  parseInput: () => ({}),
  fields: uploadFields,
  async handler({ file, progress, signal }) {
    if (!file) throw new UnrecoverableError("pdf-extraction needs an upload in the field file");
    const head = await file.range(0, Math.min(1024, file.bytes));
    if (head.indexOf("%PDF-") === -1)
      throw new UnrecoverableError(`${file.filename} is not a PDF (no %PDF- header)`);
    const thread = new Worker(THREAD, {
      workerData: {
        bytes: file.bytes,
        maxPages: MAX_PAGES,
        wholeBytes: WHOLE_DOCUMENT_BYTES,
        reopenBytes: REOPEN_BYTES,
        rangeChunkBytes: RANGE_CHUNK_BYTES,
      } satisfies ThreadData,
    });
    // pdf.js work cannot be interrupted from here: an abort ends the whole thread.
    const stop = (): void => void thread.terminate();
    signal.addEventListener("abort", stop, { once: true });
    const messages = on(thread, "message", { signal });
    const exited = once(thread, "exit").then(([code]: unknown[]) => {
      throw new Error(`the PDF thread exited (code ${String(code)}) before it finished`);
    });
    exited.catch(() => undefined);
    // A range that cannot be read (the blob gone, the store down) fails the job with its error.
    let readFailed: (e: unknown) => void = () => undefined;
    const reads = new Promise<never>((_, reject) => (readFailed = reject));
    reads.catch(() => undefined);
    const answer = (request: Extract<FromThread, { kind: "range" }>): void => {
      file.range(request.begin, Math.min(request.end, file.bytes)).then((bytes) => {
        const chunk = new Uint8Array(bytes);
        thread.postMessage(
          { kind: "data", reader: request.reader, begin: request.begin, chunk } satisfies ToThread,
          [chunk.buffer],
        );
      }, readFailed);
    };
    try {
      let pages = 0;
      const text: PageText[] = [];
      let characters = 0;
      let budget = MAX_RESULT_BYTES;
      let truncated = false;
      const iterator = messages[Symbol.asyncIterator]();
      for (;;) {
        const next = await Promise.race([iterator.next(), exited, reads]);
        if (next.done) throw signal.reason ?? new Error("the PDF thread stopped answering");
        const message = (next.value as [FromThread])[0];
        if (message.kind === "range") {
          answer(message);
          continue;
        }
        if (message.kind === "error") throw unreadable(file.filename, message);
        if (message.kind === "done") break;
        if (message.kind === "pages") {
          pages = message.pages;
          if (pages > MAX_PAGES)
            throw new UnrecoverableError(
              `the PDF has ${pages} pages, more than the limit of ${MAX_PAGES}`,
            );
          continue;
        }
        const content = pageText(message.items);
        characters += content.length;
        if (budget > 0) {
          const kept = cutToBytes(content, Math.min(MAX_PAGE_BYTES, budget));
          budget -= Buffer.byteLength(kept);
          const cut = kept.length < content.length;
          truncated ||= cut;
          text.push({ page: message.page, text: kept, characters: content.length, truncated: cut });
        } else if (content.length > 0) truncated = true;
        await progress((message.page / pages) * 100, { pagesProcessed: message.page, pages });
      }
      return { pages, characters, text, truncated };
    } catch (e) {
      throw signal.aborted ? signal.reason : e;
    } finally {
      signal.removeEventListener("abort", stop);
      await thread.terminate();
    }
  },
});
