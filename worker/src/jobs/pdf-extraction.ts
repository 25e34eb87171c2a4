// Built-in job type pdf-extraction: text extracted page by page with pdf.js (unpdf), progress by pages.
import { getDocumentProxy } from "unpdf";
import { UnrecoverableError } from "../errors.ts";
import { defineJob, uploadFields } from "../job.ts";

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

export const pdfExtraction = defineJob<Record<string, never>, PdfExtractionResult>({
  name: "pdf-extraction",
  upload: "required",
  parseInput: () => ({}),
  fields: uploadFields,
  async handler({ file, progress, signal }) {
    if (!file) throw new UnrecoverableError("pdf-extraction needs an upload in the field file");
    const bytes = await file.read();
    if (bytes.subarray(0, 1024).indexOf("%PDF-") === -1) {
      throw new UnrecoverableError(`${file.filename} is not a PDF (no %PDF- header)`);
    }
    let pdf: Awaited<ReturnType<typeof getDocumentProxy>>;
    try {
      pdf = await getDocumentProxy(new Uint8Array(bytes), { verbosity: 0 });
    } catch (e) {
      throw new UnrecoverableError(
        `${file.filename} is not a readable PDF: ${(e as Error).message}`,
      );
    }
    try {
      const pages = pdf.numPages;
      if (pages > MAX_PAGES)
        throw new UnrecoverableError(
          `the PDF has ${pages} pages, more than the limit of ${MAX_PAGES}`,
        );
      const text: PageText[] = [];
      let characters = 0;
      let budget = MAX_RESULT_BYTES;
      let truncated = false;
      for (let n = 1; n <= pages; n++) {
        signal.throwIfAborted();
        let content: string;
        try {
          const page = await pdf.getPage(n);
          content = pageText((await page.getTextContent()).items as TextItem[]);
          page.cleanup();
        } catch (e) {
          throw new UnrecoverableError(
            `page ${n} of ${file.filename} cannot be read: ${(e as Error).message}`,
          );
        }
        characters += content.length;
        if (budget > 0) {
          const kept = cutToBytes(content, Math.min(MAX_PAGE_BYTES, budget));
          budget -= Buffer.byteLength(kept);
          const cut = kept.length < content.length;
          truncated ||= cut;
          text.push({ page: n, text: kept, characters: content.length, truncated: cut });
        } else if (content.length > 0) truncated = true;
        await progress((n / pages) * 100, { pagesProcessed: n, pages });
      }
      return { pages, characters, text, truncated };
    } finally {
      await pdf.loadingTask.destroy();
    }
  },
});
